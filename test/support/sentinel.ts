/**
 * A real Redis Sentinel deployment for tests and the chaos suite: a primary, replicas and sentinels
 * (Debian packages `redis-server` and `redis-sentinel`), each its own process with its own folder, on one
 * address (loopback, or a network namespace's address with a `spawn` that runs there). Framework-free, so
 * the chaos runner uses it too.
 *
 * Optional: a password on the data nodes (`requirepass`/`masterauth`, which the sentinels use too), TLS only
 * (`port 0`, `tls-port`, replication and sentinels over TLS), AOF, and the sentinels' own credentials: an
 * admin password on their default user and a client user that may only discover the primary and follow
 * failovers (what every Lookout process needs from a sentinel; README: High availability).
 */
import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { waitUntil } from './wait.ts';

/** The ACL of the sentinels' client user: discovery and failover notices, nothing that changes a sentinel. */
export const SENTINEL_CLIENT_ACL = [
  '-@all', '+auth', '+hello', '+ping', '+client|setname', '+client|getname', '+client|id',
  '+sentinel|get-master-addr-by-name', '+sentinel|sentinels', '+sentinel|replicas', '+sentinel|slaves', '+sentinel|master',
  '+subscribe', '+unsubscribe', '+psubscribe', '+punsubscribe', '&__sentinel__:hello', '&+switch-master',
];

export interface SentinelGroupOptions {
  /** Address every process announces (and binds to, unless `bind` says otherwise). @defaultValue '127.0.0.1' */
  host?: string;
  /** Addresses the processes listen on. @defaultValue `host` */
  bind?: string;
  /** Where this process reaches them (a namespace's management address, say). @defaultValue `host` */
  reachHost?: string;
  /** Ports: data nodes from `basePort`, sentinels from `basePort + 100`. @defaultValue picked free on loopback */
  basePort?: number;
  /** Replicas beside the primary. @defaultValue 2 */
  replicas?: number;
  /** @defaultValue 3 */
  sentinels?: number;
  /** @defaultValue 'lookout' */
  masterName?: string;
  /** Password of the data nodes' default user. @defaultValue none */
  password?: string;
  /** The sentinels' own credentials. @defaultValue none (open sentinels) */
  sentinelAuth?: { adminPassword: string; clientUser: string; clientPassword: string };
  /** TLS only, with these PEMs (certificates for `host`). @defaultValue none */
  tls?: { ca: string; cert: string; key: string };
  /** AOF with fsync every second. @defaultValue false */
  appendOnly?: boolean;
  /** How long a silent primary takes to be judged down. @defaultValue 1000 */
  downAfterMs?: number;
  /** Starts a process (in a namespace, say). @defaultValue child_process.spawn */
  spawn?: (command: string, args: string[]) => ChildProcess;
  /** Where folders go. @defaultValue a new temporary folder */
  dir?: string;
}

export interface RedisNode {
  name: string;
  port: number;
  process(): ChildProcess | null;
  /** Ends the process by pid (SIGKILL: a crash; SIGTERM: a clean stop, AOF flushed). */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Starts it again from its folder (its AOF, its rewritten config). */
  start(): Promise<void>;
}

export interface SentinelGroup {
  /** The address the processes announce (what sentinels name). */
  host: string;
  /** Where this process reaches them. */
  reachHost: string;
  masterName: string;
  nodes: RedisNode[];
  sentinels: RedisNode[];
  /** ioredis options to reach one node directly with the admin credential (TLS included). */
  nodeOptions(port: number): RedisOptions;
  /** ioredis options to reach one sentinel as its admin. */
  sentinelOptions(port: number): RedisOptions;
  /** Where the sentinels say the primary is (asks each until one answers). */
  primaryPort(): Promise<number>;
  /** `SENTINEL FAILOVER <name>` through a sentinel. */
  failover(): Promise<void>;
  /** Stops every process by pid and removes the folders. */
  stop(): Promise<void>;
}

const freeLoopbackPort = async (): Promise<number> => (await import('../../cli/fleet-support.ts')).freePort();

export async function startSentinelGroup(options: SentinelGroupOptions = {}): Promise<SentinelGroup> {
  const host = options.host ?? '127.0.0.1';
  const bind = options.bind ?? host;
  const reachHost = options.reachHost ?? host;
  const masterName = options.masterName ?? 'lookout';
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'lookout-sentinel-'));
  const spawn = options.spawn ?? ((command: string, args: string[]) => spawnProcess(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const replicaCount = options.replicas ?? 2;
  const sentinelCount = options.sentinels ?? 3;
  const tlsFiles = options.tls ? writeTls(dir, options.tls) : null;
  const port = async (i: number, sentinel: boolean): Promise<number> =>
    options.basePort !== undefined ? options.basePort + (sentinel ? 100 : 0) + i : freeLoopbackPort();

  const listen = (p: number): string[] => tlsFiles
    ? ['port 0', `tls-port ${p}`, `tls-cert-file ${tlsFiles.cert}`, `tls-key-file ${tlsFiles.key}`, `tls-ca-cert-file ${tlsFiles.ca}`, 'tls-auth-clients no', 'tls-replication yes']
    : [`port ${p}`];
  const nodes: RedisNode[] = [];
  const dataPorts: number[] = [];
  for (let i = 0; i <= replicaCount; i++) dataPorts.push(await port(i, false));
  for (const [i, p] of dataPorts.entries()) {
    const nodeDir = join(dir, `node-${i}`);
    mkdirSync(nodeDir, { recursive: true });
    const conf = join(nodeDir, 'redis.conf');
    writeFileSync(conf, [
      `bind ${bind}`, ...listen(p), `dir ${nodeDir}`, 'save ""', `appendonly ${options.appendOnly ? 'yes' : 'no'}`, 'appendfsync everysec',
      'maxmemory-policy noeviction', `replica-announce-ip ${host}`,
      ...(options.password ? [`requirepass ${options.password}`, `masterauth ${options.password}`] : []),
      ...(i > 0 ? [`replicaof ${host} ${dataPorts[0]}`] : []),
      '',
    ].join('\n'));
    nodes.push(managed(`redis-${i}`, p, 'redis-server', [conf], 'Ready to accept connections'));
  }
  const sentinels: RedisNode[] = [];
  for (let i = 0; i < sentinelCount; i++) {
    const p = await port(i, true);
    const sentinelDir = join(dir, `sentinel-${i}`);
    mkdirSync(sentinelDir, { recursive: true });
    const conf = join(sentinelDir, 'sentinel.conf');
    const auth = options.sentinelAuth;
    writeFileSync(conf, [
      `bind ${bind}`, ...listen(p), `dir ${sentinelDir}`, `sentinel announce-ip ${host}`, `sentinel announce-port ${p}`,
      'sentinel resolve-hostnames yes',
      `sentinel monitor ${masterName} ${host} ${dataPorts[0]} ${Math.max(1, Math.floor(sentinelCount / 2) + 1)}`,
      `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1_000}`,
      `sentinel failover-timeout ${masterName} 10000`,
      `sentinel parallel-syncs ${masterName} 2`,
      ...(options.password ? [`sentinel auth-pass ${masterName} ${options.password}`] : []),
      ...(auth ? [
        `requirepass ${auth.adminPassword}`, `sentinel sentinel-pass ${auth.adminPassword}`,
        `user ${auth.clientUser} on >${auth.clientPassword} ${SENTINEL_CLIENT_ACL.join(' ')}`,
      ] : []),
      '',
    ].join('\n'));
    sentinels.push(managed(`sentinel-${i}`, p, 'redis-sentinel', [conf], 'Sentinel ID is'));
  }

  function managed(name: string, p: number, command: string, args: string[], readyLine: string): RedisNode {
    let child: ChildProcess | null = null;
    return {
      name, port: p,
      process: () => child,
      async kill(signal) {
        const running = child;
        if (!running || running.exitCode !== null || running.signalCode !== null) return;
        const exited = once(running, 'exit');
        running.kill(signal);
        await exited;
      },
      async start() {
        const started = spawn(command, args);
        child = started;
        await new Promise<void>((resolve, reject) => {
          let output = '';
          const timer = setTimeout(() => reject(new Error(`${name} did not start within 15 s:\n${output.slice(-2_000)}`)), 15_000);
          const onData = (chunk: Buffer): void => {
            output += chunk.toString();
            if (output.includes(readyLine)) { clearTimeout(timer); started.stdout!.off('data', onData); started.stdout!.resume(); resolve(); }
          };
          started.stdout!.on('data', onData);
          started.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
          started.once('error', (error) => { clearTimeout(timer); reject(new Error(`${name}: ${error.message} (apt-get install redis-server redis-sentinel)`)); });
          started.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}) before it was ready:\n${output.slice(-2_000)}`)); });
        });
      },
    };
  }

  const tlsOf = (): RedisOptions => (options.tls ? { tls: { ca: options.tls.ca, servername: 'localhost' } } : {});
  const nodeOptions = (p: number): RedisOptions => ({
    host: reachHost, port: p, ...(options.password ? { password: options.password } : {}), ...tlsOf(), maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true,
  });
  const sentinelOptions = (p: number): RedisOptions => ({
    host: reachHost, port: p, ...(options.sentinelAuth ? { password: options.sentinelAuth.adminPassword } : {}), ...tlsOf(), maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true,
  });
  const ask = async <T>(work: (redis: Redis) => Promise<T>): Promise<T> => {
    let lastError: unknown;
    for (const sentinel of sentinels) {
      const redis = new Redis(sentinelOptions(sentinel.port));
      redis.on('error', () => {});
      try {
        await redis.connect();
        return await work(redis);
      } catch (error) {
        lastError = error;
      } finally {
        redis.disconnect();
      }
    }
    throw new Error(`no sentinel answered: ${(lastError as Error | undefined)?.message ?? 'none configured'}`);
  };

  const group: SentinelGroup = {
    host, reachHost, masterName, nodes, sentinels, nodeOptions, sentinelOptions,
    primaryPort: () => ask(async (redis) => Number(((await redis.call('SENTINEL', 'get-master-addr-by-name', masterName)) as string[])[1])),
    failover: () => ask(async (redis) => { await redis.call('SENTINEL', 'failover', masterName); }),
    async stop() {
      for (const node of [...sentinels, ...nodes]) await node.kill('SIGKILL').catch(() => {});
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const node of nodes) await node.start();
    await waitForReplicas(group, replicaCount);
    for (const sentinel of sentinels) await sentinel.start();
    await waitForSentinelsToKnowReplicas(group, replicaCount);
  } catch (error) {
    await group.stop();
    throw error;
  }
  return group;
}

/** Waits until the primary reports every replica online (so a failover has somewhere to go). */
async function waitForReplicas(group: SentinelGroup, count: number): Promise<void> {
  const redis = new Redis(group.nodeOptions(group.nodes[0]!.port));
  redis.on('error', () => {});
  try {
    await redis.connect();
    // The probe throws what it saw, so a timeout names the count and the primary's INFO.
    await waitUntil(`${count} replicas online`, async () => {
      const info = await redis.info('replication');
      const online = (info.match(/^slave\d+:.*state=online/gm) ?? []).length;
      if (online < count) throw new Error(`only ${online} of ${count} replicas online:\n${info}`);
      return true;
    }, 15_000, 100);
  } finally {
    redis.disconnect();
  }
}

/**
 * Waits until every sentinel knows every replica as a healthy one: a sentinel learns of replicas from the
 * primary's INFO, so a failover asked before that (on a loaded machine, seconds) fails with NOGOODSLAVE.
 */
async function waitForSentinelsToKnowReplicas(group: SentinelGroup, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (const sentinel of group.sentinels) {
    const redis = new Redis(group.sentinelOptions(sentinel.port));
    redis.on('error', () => {});
    try {
      await redis.connect();
      await waitUntil(`sentinel ${sentinel.port} to know ${count} healthy replicas`, async () => {
        const replicas = (await redis.call('SENTINEL', 'replicas', group.masterName)) as string[][];
        const healthy = replicas.filter((fields) => fields[fields.indexOf('flags') + 1] === 'slave').length;
        if (healthy < count) throw new Error(`sentinel ${sentinel.port} knows ${healthy} of ${count} replicas: ${JSON.stringify(replicas)}`);
        return true;
      }, Math.max(0, deadline - Date.now()), 100);
    } finally {
      redis.disconnect();
    }
  }
}

function writeTls(dir: string, tls: { ca: string; cert: string; key: string }): { ca: string; cert: string; key: string } {
  const files = { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
  writeFileSync(files.ca, tls.ca);
  writeFileSync(files.cert, tls.cert);
  writeFileSync(files.key, tls.key, { mode: 0o600 });
  return files;
}
