/**
 * Lookout's own processes as the benchmark runs them: the agent (`agent/main.ts`) and the coordinator
 * (`coordinator/main.ts`), each a child process of its own so that its CPU and memory are measured
 * alone. Ready means `/readyz` answers 200.
 */
import { benchSigner, benchSigningKeyFile } from './signing.ts';
import { freePort } from './redis.ts';
import { ROOT, spawnChild, spawnNode, type Child } from './proc.ts';
import { join } from 'node:path';
import { waitUntil } from './wait.ts';

export interface AgentOptions {
  redisUrl: string;
  prefix: string;
  region: string;
  logDir: string;
  /** @defaultValue 10 (the agent's default) */
  concurrency?: number;
  agentId?: string;
  /** More agent flags, e.g. one that enables browser checks. */
  extraArgs?: string[];
  /** Node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /**
   * Run the agent inside this network namespace (`ip netns exec`), its health server on `healthHost` (an
   * address of the namespace the benchmark reaches, e.g. its management link). @defaultValue the host's network
   */
  netns?: { namespace: string; healthHost: string };
}

export interface ServiceProcess extends Child {
  /** Base URL of its HTTP server (health for agents, API for coordinators). */
  url: string;
  /** Prometheus text of its `/metrics`. */
  metrics(): Promise<string>;
}

async function ready(child: Child, url: string, timeoutMs: number): Promise<void> {
  const exited = child.exited.then((code) => { throw new Error(`BENCH_CHILD_EXITED: ${child.name} exited (${code}) before it was ready; see ${child.logFile}`); });
  const up = waitUntil(`${child.name} /readyz (log: ${child.logFile})`, async () => {
    const response = await fetch(`${url}/readyz`).catch(() => null);
    if (!response) return false;
    await response.arrayBuffer();
    return response.status === 200;
  }, timeoutMs, 50);
  try {
    await Promise.race([up, exited]);
  } catch (error) {
    await child.stop(2_000);
    throw error;
  } finally {
    exited.catch(() => {});
    up.catch(() => {});
  }
}

const metricsOf = (url: string) => async (): Promise<string> => (await fetch(`${url}/metrics`)).text();

export async function startAgentProcess(options: AgentOptions): Promise<ServiceProcess> {
  const port = await freePort();
  const agentId = options.agentId ?? `bench-${options.region}-${port}`;
  const args = [
    '--region', options.region, '--redis', options.redisUrl, '--prefix', options.prefix,
    '--concurrency', String(options.concurrency ?? 10), '--agent-id', agentId,
    '--health-port', String(port), '--shutdown-timeout', '2s', ...(options.netns ? ['--health-host', options.netns.healthHost] : []), ...(options.extraArgs ?? []),
  ];
  const spawnOptions = { logDir: options.logDir, nodeArgs: options.nodeArgs, env: { LOOKOUT_JOB_PUBLIC_KEY: benchSigner.publicKey, ...options.env } };
  // `ip netns exec` execs the agent: the child's pid is the agent's own.
  const child = options.netns
    ? spawnChild(`agent-${agentId}`, 'ip', ['netns', 'exec', options.netns.namespace, process.execPath, '--disable-warning=ExperimentalWarning', ...(options.nodeArgs ?? []), join(ROOT, 'agent/main.ts'), ...args], spawnOptions)
    : spawnNode(`agent-${agentId}`, 'agent/main.ts', args, spawnOptions);
  const url = `http://${options.netns?.healthHost ?? '127.0.0.1'}:${port}`;
  await ready(child, url, 20_000);
  return { ...child, url, metrics: metricsOf(url) };
}

export interface CoordinatorOptions {
  redisUrl: string;
  prefix: string;
  logDir: string;
  name?: string;
  webhookUrl?: string;
  webhookSecret?: string;
  /** @defaultValue the coordinator's default (1s) */
  sweepInterval?: string;
  ingestConcurrency?: number;
  nodeArgs?: string[];
}

export async function startCoordinatorProcess(options: CoordinatorOptions): Promise<ServiceProcess> {
  const port = await freePort();
  const args = ['--redis', options.redisUrl, '--prefix', options.prefix, '--port', String(port), '--host', '127.0.0.1'];
  if (options.webhookUrl) args.push('--webhook-url', options.webhookUrl, '--webhook-secret', options.webhookSecret ?? 'bench-webhook-secret-0123456789');
  if (options.sweepInterval) args.push('--sweep-interval', options.sweepInterval);
  if (options.ingestConcurrency) args.push('--ingest-concurrency', String(options.ingestConcurrency));
  // The benchmark talks to the API without tokens: API auth off (an environment variable, which a
  // coordinator without API auth simply ignores).
  const child = spawnNode(options.name ?? `coordinator-${port}`, 'coordinator/main.ts', args, {
    logDir: options.logDir, nodeArgs: options.nodeArgs, env: { LOOKOUT_AUTH: 'off', LOOKOUT_JOB_SIGNING_KEY_FILE: benchSigningKeyFile },
  });
  const url = `http://127.0.0.1:${port}`;
  await ready(child, url, 30_000);
  return { ...child, url, metrics: metricsOf(url) };
}

/** The value of one un-labelled sample (e.g. `process_cpu_seconds_total`) in Prometheus text; null if absent. */
export function metricValue(text: string, name: string): number | null {
  const match = new RegExp(`^${name}(?:\\{\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return match ? Number(match[1]) : null;
}

/** Deploys check definitions through the coordinator's API; throws with the API's error body otherwise. */
export async function deploy(coordinatorUrl: string, checks: unknown[], prune = true): Promise<unknown> {
  const response = await fetch(`${coordinatorUrl}/api/deployments`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ checks, prune }),
  });
  const body = await response.json();
  if (response.status !== 200) throw new Error(`BENCH_DEPLOY: deployment answered ${response.status}: ${JSON.stringify(body).slice(0, 500)}`);
  return body;
}
