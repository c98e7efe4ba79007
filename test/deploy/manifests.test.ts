/**
 * The deployment files that no test here can run for real (no Kubernetes cluster, no systemd): parsed,
 * validated against the Kubernetes API schemas (the npm package kubernetes-models: types, required
 * fields, enums and formats of every object), and checked for what the README promises of them. The
 * compose files are parsed here too; docker-compose.yml itself runs in containers.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';
import { Namespace, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';

const ROOT = join(import.meta.dirname, '../..');
const K8S = join(ROOT, 'deploy/kubernetes');
const REGIONS = ['us-east', 'eu-west', 'ap-south'];

/**
 * The memory an agent needs, in MiB, from the figures measured in bench/ (section farAgent: an agent's peak
 * RSS with one run busy, and per further concurrent HTTP run; section browser: the browser's peak PSS with
 * one journey, and per further concurrent journey).
 */
const MEASURED_MIB = { agent: 150, perHttpRun: 0.5, browserFirst: 270, perBrowserRun: 110 };

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any };

function loadManifests(): Map<string, Manifest[]> {
  const files = new Map<string, Manifest[]>();
  for (const file of readdirSync(K8S).filter((f) => f.endsWith('.yaml')).sort()) {
    const docs = parseAllDocuments(readFileSync(join(K8S, file), 'utf8'));
    for (const doc of docs) if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    files.set(file, docs.map((d) => d.toJS() as Manifest));
  }
  return files;
}

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace, 'v1/Service': Service, 'apps/v1/Deployment': Deployment, 'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

/** Mebibytes of a Kubernetes memory quantity (Mi, Gi). */
function mebibytes(quantity: string): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`unexpected memory quantity ${quantity}`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
}

describe('Kubernetes manifests', () => {
  const files = loadManifests();
  const all = [...files.values()].flat();
  const byName = (kind: string, name: string): Manifest => {
    const found = all.find((m) => m.kind === kind && m.metadata.name === name);
    if (!found) throw new Error(`no ${kind} ${name}`);
    return found;
  };

  it('are valid objects of the Kubernetes API, all in the lookout namespace', () => {
    expect(all.length).toBeGreaterThanOrEqual(4 + 2 * REGIONS.length);
    for (const manifest of all) {
      const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
      expect(Model, `${manifest.kind} ${manifest.metadata.name}`).toBeDefined();
      expect(() => new Model!(manifest).validate(), `${manifest.kind} ${manifest.metadata.name}`).not.toThrow();
      if (manifest.kind !== 'Namespace') expect(manifest.metadata.namespace).toBe('lookout');
    }
  });

  it('would catch a wrong type or a missing field (the validator is not a no-op)', () => {
    const coordinator = structuredClone(byName('Deployment', 'lookout-coordinator'));
    coordinator.spec.replicas = 'two';
    expect(() => new Deployment(coordinator).validate()).toThrow(/replicas/);
    const noContainers = structuredClone(byName('Deployment', 'lookout-coordinator'));
    delete noContainers.spec.template.spec.containers;
    expect(() => new Deployment(noContainers).validate()).toThrow(/containers/);
  });

  it('run two coordinators behind a Service, never both voluntarily disrupted', () => {
    const deployment = byName('Deployment', 'lookout-coordinator');
    const labels = deployment.spec.template.metadata.labels;
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(deployment.spec.selector.matchLabels).toEqual(labels);
    const service = byName('Service', 'lookout-coordinator');
    expect(service.spec.selector).toEqual(labels);
    expect(service.spec.ports[0].targetPort).toBe('http');
    const pdb = byName('PodDisruptionBudget', 'lookout-coordinator');
    expect(pdb.spec.selector.matchLabels).toEqual(labels);
    expect(pdb.spec.minAvailable).toBe(1);
    const container = deployment.spec.template.spec.containers[0];
    expect(container.args).toEqual(['coordinator']);
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.envFrom).toEqual([{ secretRef: { name: 'lookout-coordinator' } }]);
  });

  it('give each region its agents on its own Secret, and the region files differ only in the region', () => {
    const template = readFileSync(join(K8S, 'agent-us-east.yaml'), 'utf8');
    for (const region of REGIONS) {
      expect(readFileSync(join(K8S, `agent-${region}.yaml`), 'utf8')).toBe(template.replaceAll('us-east', region));
      for (const name of [`lookout-agent-${region}`, `lookout-agent-${region}-browser`]) {
        const deployment = byName('Deployment', name);
        const pod = deployment.spec.template.spec;
        expect(pod.containers[0].args).toEqual(['agent']);
        expect(pod.containers[0].envFrom).toEqual([{ secretRef: { name: `lookout-agent-${region}` } }]);
        expect(deployment.spec.template.metadata.labels['lookout.dev/region']).toBe(region);
        expect(pod.containers[0].readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
        // The root is read-only: the spool (LOOKOUT_SPOOL_DIR, set by the image) needs a volume of its own.
        const state = pod.containers[0].volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/var/lib/lookout');
        expect(state?.readOnly).toBeUndefined();
        expect(pod.volumes.find((v: { name: string }) => v.name === state?.name)?.emptyDir).toBeDefined();
      }
    }
  });

  it('run every process as non-root, read-only, without capabilities; only browser agents leave seccomp to Chromium', () => {
    for (const deployment of all.filter((m) => m.kind === 'Deployment')) {
      const pod = deployment.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const container of pod.containers) {
        expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      }
      const browser = deployment.metadata.name.endsWith('-browser');
      expect(pod.securityContext.seccompProfile.type).toBe(browser ? 'Unconfined' : 'RuntimeDefault');
    }
  });

  it('request the memory measured for their concurrency', () => {
    for (const deployment of all.filter((m) => m.kind === 'Deployment' && m.metadata.labels?.['app.kubernetes.io/component']?.includes('agent'))) {
      const container = deployment.spec.template.spec.containers[0];
      const env = Object.fromEntries((container.env ?? []).filter((e: { value?: string }) => e.value !== undefined).map((e: { name: string; value: string }) => [e.name, e.value]));
      const concurrency = Number(env.LOOKOUT_CONCURRENCY ?? 10);
      const browsers = env.LOOKOUT_BROWSER_CHECKS === 'on' ? Number(env.LOOKOUT_BROWSER_CONCURRENCY ?? 2) : 0;
      const needed = MEASURED_MIB.agent + concurrency * MEASURED_MIB.perHttpRun
        + (browsers > 0 ? MEASURED_MIB.browserFirst + (browsers - 1) * MEASURED_MIB.perBrowserRun : 0);
      const request = mebibytes(container.resources.requests.memory);
      const limit = mebibytes(container.resources.limits.memory);
      expect(request, deployment.metadata.name).toBeGreaterThanOrEqual(needed);
      expect(request, deployment.metadata.name).toBeLessThanOrEqual(needed * 2);
      expect(limit, deployment.metadata.name).toBeGreaterThanOrEqual(request);
    }
  });
});

describe('the systemd unit for agents on VMs', () => {
  const text = readFileSync(join(ROOT, 'deploy/systemd/lookout-agent@.service'), 'utf8');
  const sections = new Map<string, Map<string, string[]>>();
  let current = '';
  for (const line of text.split('\n')) {
    if (/^\s*(#|$)/.test(line)) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) { current = header[1]!; sections.set(current, new Map()); continue; }
    const [key, ...rest] = line.split('=');
    const values = sections.get(current)?.get(key!) ?? [];
    sections.get(current)?.set(key!, [...values, rest.join('=')]);
  }
  const service = sections.get('Service')!;

  it('has the sections and keys systemd needs, every line inside a section', () => {
    expect([...sections.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(sections.get('Install')!.get('WantedBy')).toEqual(['multi-user.target']);
    expect(text.split('\n').findIndex((l) => /^\[/.test(l))).toBeLessThan(text.split('\n').findIndex((l) => /^[A-Z]\w+=/.test(l)));
  });

  it('runs lookout agent of the instance\'s region, from its root-only settings file, as the lookout user, restarted', () => {
    expect(service.get('ExecStart')).toEqual(['/opt/lookout/lookout agent']);
    expect(service.get('EnvironmentFile')).toEqual(['/etc/lookout/%i.env']);
    expect(service.get('User')).toEqual(['lookout']);
    expect(service.get('Restart')).toEqual(['always']);
    expect(service.get('NoNewPrivileges')).toEqual(['yes']);
    expect(service.get('CapabilityBoundingSet')).toEqual(['']);
    // ProtectHome leaves no $HOME: the spool goes under the unit's own state folder.
    expect(service.get('StateDirectory')).toEqual(['lookout']);
    expect(service.get('Environment')).toContain('LOOKOUT_SPOOL_DIR=/var/lib/lookout/spool/%i');
    expect(Number(/^(\d+)s?$/.exec(service.get('TimeoutStopSec')![0]!)![1])).toBeGreaterThan(10); // beyond the agent's 10 s shutdown
  });
});

describe('the compose files', () => {
  const base = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
  const ha = parse(readFileSync(join(ROOT, 'docker-compose.ha.yml'), 'utf8'), { merge: true });

  it('give each region\'s agent its own region volume and spool volume, and nothing of the admin', () => {
    for (const region of REGIONS) {
      const agent = base.services[`agent-${region}`];
      expect(agent.volumes).toEqual([`region-${region}:/run/lookout/region:ro`, `spool-${region}:/var/lib/lookout`]);
      expect(agent.environment.LOOKOUT_ENV_FILE).toBe('/run/lookout/region/agent.env');
    }
  });

  it('keep reads private, Redis persistent and never evicting, every long-running service healthy and restarted', () => {
    expect(JSON.stringify(base)).not.toMatch(/public-read|LOOKOUT_PUBLIC_READ/);
    const redisConf = readFileSync(join(ROOT, 'deploy/compose/redis.conf'), 'utf8');
    expect(redisConf).toMatch(/^appendonly yes$/m);
    expect(redisConf).toMatch(/^maxmemory-policy noeviction$/m);
    for (const [name, service] of Object.entries<any>(base.services)) {
      if (service.restart === 'no') continue; // the one-shot init services
      expect(service.restart, name).toBe('unless-stopped');
      // Lookout's image has its own HEALTHCHECK; the others declare one.
      if (!String(service.image).includes('LOOKOUT_IMAGE') && !String(service.image).includes('LOOKOUT_BROWSER_IMAGE')) expect(service.healthcheck, name).toBeDefined();
    }
  });

  it('HA variant: Sentinels and a replica, and every Lookout process told where the Sentinels are', () => {
    const sentinels = Object.keys(ha.services).filter((n) => n.startsWith('sentinel-'));
    expect(sentinels.length).toBe(3);
    expect(ha.services['redis-replica']).toBeDefined();
    for (const name of ['coordinator-1', 'coordinator-2', 'regions', ...REGIONS.map((r) => `agent-${r}`)]) {
      expect(ha.services[name].environment, name).toMatchObject({
        LOOKOUT_REDIS_SENTINELS: sentinels.map((s) => `${s}:26379`).join(','), LOOKOUT_REDIS_MASTER_NAME: 'lookout',
      });
    }
  });
});
