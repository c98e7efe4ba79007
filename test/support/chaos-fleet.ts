/**
 * A whole Lookout fleet for the chaos suite, every piece a real process in the namespaces of
 * chaos-network.ts: Redis (a primary, 2 replicas and 3 sentinels with their own credentials, or one node
 * with its AOF and no replica), coordinators in the control namespace, agents in their regions on their
 * own region users, reaching Redis through the sentinels; a target behind a latency proxy in the target
 * namespace; the webhook receiver on the host. Everything is stopped by pid and the namespaces deleted by
 * {@link ChaosFleet.stop}, also when starting failed half way.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { generateSigningKey, JobSigner } from '../../checks/signing.ts';
import { RegionStore } from '../../coordinator/regions/store.ts';
import { createChaosNetwork, type ChaosNetwork } from './chaos-network.ts';
import { startReceiver, type Receiver } from './chaos-observe.ts';
import { startNetnsTarget, type NetnsTarget } from './netns.ts';
import { startSentinelGroup, type SentinelGroup } from './sentinel.ts';
import { waitUntil } from './wait.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE_ARGS = ['--disable-warning=ExperimentalWarning'];
const ADMIN_PASSWORD = 'chaos-admin-password';
export const SENTINEL_AUTH = { adminPassword: 'chaos-sentinel-admin', clientUser: 'lookout-client', clientPassword: 'chaos-sentinel-client' };
const REDIS_PORT = 6380;
const COORDINATOR_PORT = 8081;
const AGENT_HEALTH_PORT = 9464;
const TARGET_PORT = 80;

export interface ChaosCheck { id: string; frequencyMs: number }

export interface FleetOptions {
  regions: readonly string[];
  /** `sentinel`: a primary, 2 replicas, 3 sentinels; `single`: one node with its AOF, no replica. */
  redis: 'sentinel' | 'single';
  coordinators: number;
  /** Agents per region (regions not named get one). */
  agents?: Readonly<Record<string, number>>;
  checks: readonly ChaosCheck[];
  /** A check's timeout. @defaultValue 2000 */
  timeoutMs?: number;
  /** Agent id → how far its machine clock is off (chaos-clock.ts). @defaultValue none */
  clockOffsets?: Readonly<Record<string, number>>;
  /** How long the webhook receiver holds each answer. @defaultValue 0 */
  receiverHoldMs?: number;
  /** Where logs, spools and Redis data go. */
  dir: string;
}

/** A process of the fleet: stopped and started again by the suite, by pid. */
export interface FleetProcess {
  name: string;
  logFile: string;
  pid(): number | undefined;
  running(): boolean;
  kill(signal: NodeJS.Signals, graceMs?: number): Promise<void>;
  start(): void;
}

export interface ChaosFleet {
  net: ChaosNetwork;
  redis: SentinelGroup;
  /** The harness's own admin connection, following the primary (sentinel addresses mapped to the management link). */
  admin: Redis;
  prefix: string;
  coordinators: FleetProcess[];
  /** Each coordinator's API, as the host reaches it. */
  coordinatorUrls: string[];
  agents: Array<FleetProcess & { region: string; agentId: string; healthUrl: string }>;
  receiver: Receiver;
  checks: readonly ChaosCheck[];
  /** How long the target takes to answer from now on. */
  setTargetDelay(ms: number): void;
  /** Resolves once every coordinator and agent says it is ready. */
  ready(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

function managed(name: string, logDir: string, spawnIt: (log: number) => ChildProcess): FleetProcess {
  const logFile = join(logDir, `${name}.log`);
  let child: ChildProcess | null = null;
  return {
    name, logFile,
    pid: () => child?.pid,
    running: () => child !== null && child.exitCode === null && child.signalCode === null,
    async kill(signal, graceMs = 5_000) {
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = once(running, 'exit');
      running.kill(signal);
      const timer = setTimeout(() => running.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    start() {
      const log = openSync(logFile, 'a');
      child = spawnIt(log);
      closeSync(log);
    },
  };
}

export async function startChaosFleet(options: FleetOptions): Promise<ChaosFleet> {
  const { dir } = options;
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const net = await createChaosNetwork(options.regions);
  const stops: Array<() => Promise<unknown>> = [() => net.destroy()];
  const stop = async (): Promise<void> => { for (const step of stops.splice(0).reverse()) await step().catch(() => {}); };
  try {
    const ctl = net.control;
    const inControl = (command: string, args: string[]): ChildProcess => net.spawn(ctl.namespace, command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const redis = await startSentinelGroup({
      host: ctl.address, bind: '0.0.0.0', reachHost: ctl.managementAddress, basePort: REDIS_PORT, spawn: inControl, dir: join(dir, 'redis'),
      password: ADMIN_PASSWORD, appendOnly: true,
      ...(options.redis === 'sentinel' ? { replicas: 2, sentinels: 3, sentinelAuth: SENTINEL_AUTH } : { replicas: 0, sentinels: 0 }),
    });
    stops.push(() => redis.stop());
    const sentinelEnv = options.redis === 'sentinel' ? {
      LOOKOUT_REDIS_SENTINELS: redis.sentinels.map((s) => `${ctl.address}:${s.port}`).join(','), LOOKOUT_REDIS_MASTER_NAME: redis.masterName,
      LOOKOUT_REDIS_SENTINEL_USER: SENTINEL_AUTH.clientUser, LOOKOUT_REDIS_SENTINEL_PASSWORD: SENTINEL_AUTH.clientPassword,
    } : {};
    // The harness follows the primary as the fleet does, with the announced addresses mapped to the management link.
    const natMap = Object.fromEntries([...redis.nodes, ...redis.sentinels].map((n) => [`${ctl.address}:${n.port}`, { host: ctl.managementAddress, port: n.port }]));
    const admin = options.redis === 'sentinel'
      ? new Redis({
        sentinels: redis.sentinels.map((s) => ({ host: ctl.managementAddress, port: s.port })), name: redis.masterName, natMap,
        sentinelPassword: SENTINEL_AUTH.adminPassword, password: ADMIN_PASSWORD, maxRetriesPerRequest: null, failoverDetector: true,
        sentinelRetryStrategy: () => 250,
      })
      : new Redis({ host: ctl.managementAddress, port: REDIS_PORT, password: ADMIN_PASSWORD, maxRetriesPerRequest: null, retryStrategy: () => 250 });
    admin.on('error', () => {});
    stops.push(async () => admin.disconnect());

    const prefix = `chaos${net.network.id}`;
    const signingPem = generateSigningKey();
    const keyFile = join(dir, 'signing-key.pem');
    writeFileSync(keyFile, signingPem, { mode: 0o600 });
    const publicKey = new JobSigner(signingPem).publicKey;
    const regionStore = new RegionStore({ redis: admin, prefix });
    const regionUsers = new Map<string, { user: string; password: string }>();
    for (const region of options.regions) {
      const { record, password } = await regionStore.add(region);
      regionUsers.set(region, { user: record.user, password });
    }

    const receiver = await startReceiver(ctl.hostAddress, options.receiverHoldMs ?? 0);
    stops.push(() => receiver.close());

    // The target: the origin on the target namespace's loopback, reached through the latency proxy.
    const target: NetnsTarget = await startNetnsTarget(net.network, [{ name: 'origin', address: '127.0.0.1', port: 8080 }]);
    stops.push(() => target.stop());
    const delayFile = join(dir, 'target-delay');
    writeFileSync(delayFile, '0');
    const proxyConfig = join(dir, 'proxy.json');
    writeFileSync(proxyConfig, JSON.stringify({ listen: { address: net.network.target.address, port: TARGET_PORT }, upstream: { address: '127.0.0.1', port: 8080 }, delayFile }));
    const proxy = managed('target-proxy', logDir, (log) => net.spawn(net.network.target.namespace, process.execPath,
      [...NODE_ARGS, join(ROOT, 'test/support/chaos-proxy.ts'), proxyConfig], { stdio: ['ignore', log, log] }));
    proxy.start();
    stops.push(() => proxy.kill('SIGTERM'));

    const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LOOKOUT_PREFIX: prefix, ...sentinelEnv };
    const coordinators = Array.from({ length: options.coordinators }, (_, i) => managed(`coordinator-${i + 1}`, logDir, (log) =>
      net.spawn(ctl.namespace, process.execPath, [...NODE_ARGS, join(ROOT, 'coordinator/main.ts')], {
        stdio: ['ignore', log, log],
        env: {
          ...baseEnv, LOOKOUT_REDIS_URL: `redis://:${ADMIN_PASSWORD}@${ctl.address}:${REDIS_PORT}`, LOOKOUT_PORT: String(COORDINATOR_PORT + i),
          LOOKOUT_HOST: '0.0.0.0', LOOKOUT_AUTH: 'off', LOOKOUT_WEBHOOK_URL: receiver.url, LOOKOUT_JOB_SIGNING_KEY_FILE: keyFile,
          LOOKOUT_CANARY_INTERVAL: '5s', LOOKOUT_SWEEP_INTERVAL: '500ms',
        },
      })));
    const coordinatorUrls = coordinators.map((_, i) => `http://${ctl.managementAddress}:${COORDINATOR_PORT + i}`);
    for (const coordinator of coordinators) { coordinator.start(); stops.push(() => coordinator.kill('SIGTERM', 10_000)); }

    const agents: ChaosFleet['agents'] = [];
    for (const region of options.regions) {
      const ns = net.network.regions[region]!;
      for (let n = 0; n < (options.agents?.[region] ?? 1); n++) {
        const agentId = `chaos-${region}-${n + 1}`;
        const offset = options.clockOffsets?.[agentId];
        const healthPort = AGENT_HEALTH_PORT + n;
        const agent = managed(`agent-${region}-${n + 1}`, logDir, (log) => net.spawn(ns.namespace, process.execPath, [
          ...NODE_ARGS, ...(offset ? ['--import', join(ROOT, 'test/support/chaos-clock.ts')] : []), join(ROOT, 'agent/main.ts'),
        ], {
          stdio: ['ignore', log, log],
          env: {
            ...baseEnv, LOOKOUT_REGION: region, LOOKOUT_AGENT_ID: agentId, LOOKOUT_JOB_PUBLIC_KEY: publicKey,
            LOOKOUT_REDIS_URL: `redis://${encodeURIComponent(regionUsers.get(region)!.user)}:${encodeURIComponent(regionUsers.get(region)!.password)}@${ctl.address}:${REDIS_PORT}`,
            LOOKOUT_HEALTH_HOST: ns.managementAddress, LOOKOUT_HEALTH_PORT: String(healthPort), LOOKOUT_SHUTDOWN_TIMEOUT: '2s',
            LOOKOUT_SPOOL_DIR: join(dir, 'spool', agentId), ...(offset ? { LOOKOUT_CHAOS_CLOCK_OFFSET_MS: String(offset) } : {}),
          },
        }));
        agents.push({ ...agent, region, agentId, healthUrl: `http://${ns.managementAddress}:${healthPort}` });
        agent.start();
        stops.push(() => agent.kill('SIGTERM', 5_000));
      }
    }

    const fleet: ChaosFleet = {
      net, redis, admin, prefix, coordinators, coordinatorUrls, agents, receiver, checks: options.checks,
      setTargetDelay: (ms) => writeFileSync(delayFile, String(ms)),
      async ready(timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        const urls = [...coordinatorUrls, ...agents.map((a) => a.healthUrl)];
        for (const url of urls) {
          await waitUntil(`CHAOS_FLEET: ${url} ready (logs in ${logDir})`, async () => {
            const status = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0);
            if (status !== 200) throw new Error(`readyz answered ${status || 'nothing'}`);
            return true;
          }, Math.max(0, deadline - Date.now()), 200);
        }
      },
      stop,
    };
    await fleet.ready(90_000);
    const definitions = options.checks.map((check) => ({
      type: 'http', id: check.id, name: check.id, url: `http://${net.network.target.address}/${check.id}`, regions: [...options.regions],
      frequencyMs: check.frequencyMs, timeoutMs: options.timeoutMs ?? 2_000, failureThreshold: 2, successThreshold: 1,
    }));
    const deployed = await fetch(`${coordinatorUrls[0]}/api/deployments`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ checks: definitions }),
    });
    if (!deployed.ok) throw new Error(`CHAOS_FLEET: deploy answered ${deployed.status}: ${await deployed.text()}`);
    return fleet;
  } catch (error) {
    await stop();
    throw error;
  }
}
