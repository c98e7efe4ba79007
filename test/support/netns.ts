/**
 * Regions in network namespaces, for tests and benchmarks that need a real network between probe agents
 * and a target (regional outages, GeoDNS answers, a path cut at one hop) on one machine. Needs root,
 * `ip` (iproute2) and `iptables` (Debian's package); {@link netnsSupport} says whether they are there.
 * Framework-free (no vitest), so bench/ uses it too (bench/lib/netns.ts re-exports it).
 *
 * ```
 *   host (the test process, Redis, the coordinator)
 *    │ management links, one per region and one to the target: 100.64.0.0/10 /30s, unique on the host
 *    ├──────────────┬──────────────┬──────────────┐
 *   region us-east  region eu-west  ...            target
 *    10.1.0.2        10.2.0.2                       10.200.0.2 (+ addTargetAddress)
 *    └──── 10.k.0.1 ─┴─ router 1 ── 10.100.1.0/30 ── router 2 … ── 10.200.0.1 ─┘
 * ```
 * Data-path addresses live inside the namespaces only, so networks made at the same time never clash;
 * only the management links touch the host (their /30s are picked to be unused there). A region reaches
 * the host (Redis, the coordinator) over its management link and the target through the routers, so a
 * trace from a region shows each router, then the target.
 *
 * Staging failures: {@link Network.block} (DROP: packets vanish, connects time out; `refuse`: a TCP reset,
 * connection refused) inside a region; {@link Network.cutAt} drops a region's packets at one router (its
 * trace ends at that router); {@link Network.writeEtc} gives a region its own `/etc/hosts` and
 * `/etc/resolv.conf` (`ip netns exec` bind-mounts `/etc/netns/<namespace>/*` over `/etc/*` for the processes
 * it starts). Each returns an undo. {@link Network.destroy} stops what is left in the namespaces (by pid),
 * deletes them (their links go with them) and the `/etc/netns` folders.
 *
 * Processes in the namespaces (netns-processes.ts, exported from here): `startNetnsTarget` runs the target
 * server (netns-target.ts) in the target namespace; `spawnAgent` runs a Lookout agent in a region's.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type { TargetAction, TargetBehaviour, TargetListener, TargetRule } from './netns-target.ts';
export { spawnAgent, startNetnsTarget, type NetnsAgent, type NetnsTarget } from './netns-processes.ts';

export interface NetworkOptions {
  /** Region names (`[a-z0-9-]`), one namespace each. */
  regions: readonly string[];
  /** Router namespaces between the regions and the target, in order. @defaultValue 1 */
  routers?: number;
}

export interface RegionNamespace {
  region: string;
  namespace: string;
  /** The region's address on the data path (what the target sees as the source). */
  address: string;
  /** The region's end of its management link (the host reaches processes of the region here). */
  managementAddress: string;
  /** The host's end of the region's management link: where the region reaches Redis and the coordinator. */
  hostAddress: string;
  /** What a trace from this region to the target shows: each router's address, in order. */
  hops: string[];
}

export interface RouterNamespace {
  namespace: string;
}

export interface Network {
  /** Short random id in every name this network made. */
  id: string;
  regions: Readonly<Record<string, RegionNamespace>>;
  routers: readonly RouterNamespace[];
  target: {
    namespace: string;
    /** The target's first address on the data path. */
    address: string;
    managementAddress: string;
    hostAddress: string;
  };
  /** Every host-side management address (bind a host server to them to serve every region). */
  hostAddresses: readonly string[];
  /** Adds one more address to the target namespace (another server, or one with nothing listening) and returns it. */
  addTargetAddress(): Promise<string>;
  /** Runs a command in a namespace to its end; rejects with its stderr when it fails. */
  exec(namespace: string, command: string, args: readonly string[]): Promise<string>;
  /**
   * Starts a long-running process in a namespace (`ip netns exec`, which execs it: the pid is the
   * process's own). The caller stops it by pid; {@link destroy} stops whatever is left.
   */
  spawn(namespace: string, command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /**
   * Inside `region`, packets to `to` (and `port`, TCP) are dropped (`drop`: connects time out) or
   * answered with a TCP reset (`refuse`: connection refused). Resolves with the undo.
   */
  block(region: string, rule: { to: string; port?: number; how: 'drop' | 'refuse' }): Promise<() => Promise<void>>;
  /**
   * Router `index` (0-based) drops what `region` sends to `to` instead of forwarding it: the region's
   * trace ends at that router (it still answers probes that expire there, then nothing answers).
   */
  cutAt(index: number, region: string, rule: { to: string }): Promise<() => Promise<void>>;
  /** The region's own `/etc/hosts` (name → address, plus localhost) and `/etc/resolv.conf`, for processes started after. */
  writeEtc(region: string, etc: { hosts?: Readonly<Record<string, string>>; nameservers?: readonly string[] }): void;
  /** Stops processes left in the namespaces (by pid), deletes the namespaces and `/etc/netns` folders. Idempotent. */
  destroy(): Promise<void>;
}

/** Whether namespaces can be made here: root, `ip` and `iptables`. */
export function netnsSupport(): { ok: true } | { ok: false; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'network namespaces need root' };
  for (const tool of ['/usr/sbin/ip', '/usr/sbin/iptables']) {
    if (!existsSync(tool) && !existsSync(tool.replace('/usr/sbin', '/sbin'))) return { ok: false, reason: `${tool} is missing (apt-get install iproute2 iptables)` };
  }
  return { ok: true };
}

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 20_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** Management /30s: random ones in 100.64.0.0/10 that no host interface uses. */
async function freeManagementBlocks(count: number): Promise<string[]> {
  const used = await run('ip', ['-4', '-o', 'addr', 'show']);
  const blocks: string[] = [];
  while (blocks.length < count) {
    const b = randomBytes(3);
    const base = `100.${64 + (b[0]! % 64)}.${b[1]}.${b[2]! & 0xfc}`;
    const prefix = base.split('.').slice(0, 3).join('.');
    if (used.includes(`${prefix}.`) || blocks.some((x) => x.startsWith(`${prefix}.`))) continue;
    blocks.push(base);
  }
  return blocks;
}
const plus = (base: string, n: number): string => {
  const parts = base.split('.').map(Number);
  parts[3] = parts[3]! + n;
  return parts.join('.');
};

export async function createNetwork(options: NetworkOptions): Promise<Network> {
  const support = netnsSupport();
  if (!support.ok) throw new Error(`NETNS_UNAVAILABLE: ${support.reason}`);
  const id = randomBytes(2).toString('hex');
  const routerCount = options.routers ?? 1;
  if (routerCount < 1 || routerCount > 8) throw new Error('NETNS_OPTIONS: routers must be 1-8');
  if (options.regions.length < 1 || options.regions.length > 20) throw new Error('NETNS_OPTIONS: 1-20 regions');
  for (const region of options.regions) if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(region)) throw new Error(`NETNS_OPTIONS: bad region name ${JSON.stringify(region)}`);

  const namespaces: string[] = [];
  const etcDirs: string[] = [];
  const undos = new Set<() => Promise<void>>();
  let destroyed = false;
  const ns = (name: string): string => `lookout-${id}-${name}`;
  const ipn = (namespace: string, ...args: string[]): Promise<string> => run('ip', ['-n', namespace, ...args]);
  const inNs = (namespace: string, command: string, args: readonly string[]): Promise<string> => run('ip', ['netns', 'exec', namespace, command, ...args]);
  let ifaces = 0;
  /** A veth pair between two namespaces (null: the host), addresses /30 or /24 given with their prefix length. */
  const link = async (a: string | null, aAddress: string, b: string, bAddress: string): Promise<{ left: string; right: string }> => {
    const n = ifaces++;
    const left = `lk${id}a${n}`;
    const right = `lk${id}b${n}`;
    await run('ip', ['link', 'add', left, 'type', 'veth', 'peer', 'name', right]);
    if (a !== null) await run('ip', ['link', 'set', left, 'netns', a]);
    await run('ip', ['link', 'set', right, 'netns', b]);
    const onA = (...args: string[]): Promise<string> => (a === null ? run('ip', args) : ipn(a, ...args));
    await onA('addr', 'add', aAddress, 'dev', left);
    await onA('link', 'set', left, 'up');
    await ipn(b, 'addr', 'add', bAddress, 'dev', right);
    await ipn(b, 'link', 'set', right, 'up');
    return { left, right };
  };

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    for (const namespace of namespaces) {
      const pids = (await run('ip', ['netns', 'pids', namespace]).catch(() => '')).split(/\s+/).filter(Boolean).map(Number);
      for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    }
    for (const namespace of namespaces) await run('ip', ['netns', 'del', namespace]).catch(() => {});
    for (const dir of etcDirs) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const regionNames = [...options.regions];
    const management = await freeManagementBlocks(regionNames.length + 1);
    const routers: RouterNamespace[] = [];
    for (let i = 0; i < routerCount; i++) {
      const namespace = ns(`core${i + 1}`);
      await run('ip', ['netns', 'add', namespace]);
      namespaces.push(namespace);
      await ipn(namespace, 'link', 'set', 'lo', 'up');
      await inNs(namespace, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      // Linux rate-limits ICMP time-exceeded per destination (1/s after a burst of 6): traces of several checks
      // failing at once in one region would see silent hops. Real routers limit too; these test routers do not.
      await inNs(namespace, 'sysctl', ['-qw', 'net.ipv4.icmp_ratelimit=0']);
      routers.push({ namespace });
    }
    for (let i = 1; i < routerCount; i++) {
      await link(routers[i - 1]!.namespace, `10.100.${i}.1/30`, routers[i]!.namespace, `10.100.${i}.2/30`);
    }
    const regions: Record<string, RegionNamespace> = {};
    for (const [i, region] of regionNames.entries()) {
      const namespace = ns(region);
      await run('ip', ['netns', 'add', namespace]);
      namespaces.push(namespace);
      await ipn(namespace, 'link', 'set', 'lo', 'up');
      const address = `10.${i + 1}.0.2`;
      await link(routers[0]!.namespace, `10.${i + 1}.0.1/24`, namespace, `${address}/24`);
      await ipn(namespace, 'route', 'add', 'default', 'via', `10.${i + 1}.0.1`);
      const block = management[i]!;
      await link(null, `${plus(block, 1)}/30`, namespace, `${plus(block, 2)}/30`);
      // A router answers a trace from its side towards the regions: the first on the region's own link.
      const hops = [`10.${i + 1}.0.1`, ...routers.slice(1).map((_, r) => `10.100.${r + 1}.2`)];
      regions[region] = { region, namespace, address, managementAddress: plus(block, 2), hostAddress: plus(block, 1), hops };
      // Routers after the first reach the region through the one before them.
      for (let r = 1; r < routerCount; r++) await ipn(routers[r]!.namespace, 'route', 'add', `10.${i + 1}.0.0/24`, 'via', `10.100.${r}.1`);
    }
    const targetNs = ns('target');
    await run('ip', ['netns', 'add', targetNs]);
    namespaces.push(targetNs);
    await ipn(targetNs, 'link', 'set', 'lo', 'up');
    const last = routers[routerCount - 1]!;
    const targetLink = await link(last.namespace, '10.200.0.1/24', targetNs, '10.200.0.2/24');
    await ipn(targetNs, 'route', 'add', 'default', 'via', '10.200.0.1');
    for (let r = 0; r < routerCount - 1; r++) await ipn(routers[r]!.namespace, 'route', 'add', '10.200.0.0/24', 'via', `10.100.${r + 1}.2`);
    const targetBlock = management[regionNames.length]!;
    await link(null, `${plus(targetBlock, 1)}/30`, targetNs, `${plus(targetBlock, 2)}/30`);
    let nextTargetAddress = 3;

    const iptables = async (namespace: string, chain: string, rule: string[]): Promise<() => Promise<void>> => {
      await inNs(namespace, 'iptables', ['-w', '-I', chain, ...rule]);
      const undo = async (): Promise<void> => {
        if (!undos.delete(undo) || destroyed) return;
        await inNs(namespace, 'iptables', ['-w', '-D', chain, ...rule]);
      };
      undos.add(undo);
      return undo;
    };
    const regionOf = (region: string): RegionNamespace => {
      const found = regions[region];
      if (!found) throw new Error(`NETNS_REGION: no region ${JSON.stringify(region)} in this network`);
      return found;
    };

    return {
      id,
      regions,
      routers,
      target: { namespace: targetNs, address: '10.200.0.2', managementAddress: plus(targetBlock, 2), hostAddress: plus(targetBlock, 1) },
      hostAddresses: [...Object.values(regions).map((r) => r.hostAddress), plus(targetBlock, 1)],
      async addTargetAddress() {
        if (nextTargetAddress > 250) throw new Error('NETNS_FULL: no more target addresses');
        const address = `10.200.0.${nextTargetAddress++}`;
        await ipn(targetNs, 'addr', 'add', `${address}/24`, 'dev', targetLink.right);
        return address;
      },
      exec: inNs,
      spawn(namespace, command, args, spawnOptions = {}) {
        if (!namespaces.includes(namespace)) throw new Error(`NETNS_UNKNOWN: ${namespace} is not a namespace of this network`);
        return spawn('ip', ['netns', 'exec', namespace, command, ...args], spawnOptions);
      },
      block(region, rule) {
        // A TCP reset needs a TCP rule; a drop is for every protocol unless a port narrows it to TCP.
        const tcp = rule.how === 'refuse' || rule.port !== undefined ? ['-p', 'tcp'] : [];
        const port = rule.port === undefined ? [] : ['--dport', String(rule.port)];
        const action = rule.how === 'drop' ? ['-j', 'DROP'] : ['-j', 'REJECT', '--reject-with', 'tcp-reset'];
        return iptables(regionOf(region).namespace, 'OUTPUT', ['-d', rule.to, ...tcp, ...port, ...action]);
      },
      cutAt(index, region, rule) {
        const router = routers[index];
        if (!router) throw new Error(`NETNS_ROUTER: no router ${index}`);
        return iptables(router.namespace, 'FORWARD', ['-s', regionOf(region).address, '-d', rule.to, '-j', 'DROP']);
      },
      writeEtc(region, etc) {
        const dir = join('/etc/netns', regionOf(region).namespace);
        mkdirSync(dir, { recursive: true });
        if (!etcDirs.includes(dir)) etcDirs.push(dir);
        if (etc.hosts) {
          const lines = ['127.0.0.1 localhost', ...Object.entries(etc.hosts).map(([name, address]) => `${address} ${name}`)];
          writeFileSync(join(dir, 'hosts'), `${lines.join('\n')}\n`);
        }
        if (etc.nameservers) writeFileSync(join(dir, 'resolv.conf'), `${etc.nameservers.map((s) => `nameserver ${s}`).join('\n')}\noptions timeout:1 attempts:1\n`);
      },
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}
