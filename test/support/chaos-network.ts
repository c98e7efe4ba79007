/**
 * The chaos suite's network: the regions, routers and target of netns.ts, plus a **control** namespace
 * for the control plane (Redis primary and replicas, sentinels, coordinators) on the first router, so
 * every region reaches Redis at the same address, the one sentinels announce (on the host, each region
 * would see Redis at its own management address, and a sentinel can announce only one).
 *
 * ```
 *   host (this process: the chaos runner, the webhook receiver)
 *    │ management links (100.64.0.0/10 /30s): to each region, the target, and the control namespace
 *   region us-east ─┐
 *   region eu-west ─┼─ router 1 ── target 10.200.0.2
 *   region ap-south ┘     └── control 10.250.0.2 (Redis, sentinels, coordinators)
 * ```
 * Faults: {@link ChaosNetwork.partitionFromRedis} drops a region's packets to the control namespace (its
 * agents cannot reach Redis; the host still reaches them), {@link ChaosNetwork.cutFromTarget} a region's
 * packets to the target. Both are iptables rules inside the region's namespace, each with its undo;
 * {@link ChaosNetwork.destroy} stops what runs in the namespaces (by pid) and deletes them, rules and
 * links with them, also after a failure.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createNetwork, netnsSupport, type Network } from './netns.ts';

export { netnsSupport };

/** The control namespace's address on the data path. */
export const CONTROL_ADDRESS = '10.250.0.2';

export interface ChaosNetwork {
  network: Network;
  control: {
    namespace: string;
    /** Where regions reach the control plane (and what sentinels announce). */
    address: string;
    /** Where the host reaches processes in the control namespace. */
    managementAddress: string;
    /** The host's end of the control namespace's management link (a host server reachable from the coordinators). */
    hostAddress: string;
  };
  /** Starts a process in a namespace of this network (the control one included); the caller stops it by pid. */
  spawn(namespace: string, command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** The region's packets to the control plane vanish (DROP): its agents lose Redis. Resolves with the undo. */
  partitionFromRedis(region: string): Promise<() => Promise<void>>;
  /** The region's packets to the target are dropped (`drop`) or refused (`refuse`, a TCP reset). Resolves with the undo. */
  cutFromTarget(region: string, how: 'drop' | 'refuse'): Promise<() => Promise<void>>;
  destroy(): Promise<void>;
}

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 20_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** A /30 in 100.64.0.0/10 that no host interface uses (as netns.ts picks its own). */
async function freeBlock(): Promise<string> {
  const used = await run('ip', ['-4', '-o', 'addr', 'show']);
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const b = randomBytes(3);
    const prefix = `100.${64 + (b[0]! % 64)}.${b[1]}`;
    if (!used.includes(`${prefix}.`)) return `${prefix}.${b[2]! & 0xfc}`;
  }
  throw new Error('NETNS_FULL: no free management block');
}
const plus = (base: string, n: number): string => base.split('.').map((part, i) => (i === 3 ? Number(part) + n : part)).join('.');

export async function createChaosNetwork(regions: readonly string[]): Promise<ChaosNetwork> {
  const network = await createNetwork({ regions, routers: 1 });
  const namespace = `lookout-${network.id}-control`;
  let destroyed = false;
  const destroyControl = async (): Promise<void> => {
    const pids = (await run('ip', ['netns', 'pids', namespace]).catch(() => '')).split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    await run('ip', ['netns', 'del', namespace]).catch(() => {});
  };
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    await destroyControl();
    await network.destroy();
  };
  try {
    const router = network.routers[0]!.namespace;
    await run('ip', ['netns', 'add', namespace]);
    await run('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
    const [data, dataPeer, mgmt, mgmtPeer] = ['c0', 'c1', 'm0', 'm1'].map((end) => `lk${network.id}${end}`);
    // Data path: router 1 ↔ control, 10.250.0.0/24.
    await run('ip', ['link', 'add', data!, 'type', 'veth', 'peer', 'name', dataPeer!]);
    await run('ip', ['link', 'set', data!, 'netns', router]);
    await run('ip', ['link', 'set', dataPeer!, 'netns', namespace]);
    await run('ip', ['-n', router, 'addr', 'add', '10.250.0.1/24', 'dev', data!]);
    await run('ip', ['-n', router, 'link', 'set', data!, 'up']);
    await run('ip', ['-n', namespace, 'addr', 'add', `${CONTROL_ADDRESS}/24`, 'dev', dataPeer!]);
    await run('ip', ['-n', namespace, 'link', 'set', dataPeer!, 'up']);
    await run('ip', ['-n', namespace, 'route', 'add', 'default', 'via', '10.250.0.1']);
    // Management: host ↔ control, a /30 of its own.
    const block = await freeBlock();
    await run('ip', ['link', 'add', mgmt!, 'type', 'veth', 'peer', 'name', mgmtPeer!]);
    await run('ip', ['link', 'set', mgmtPeer!, 'netns', namespace]);
    await run('ip', ['addr', 'add', `${plus(block, 1)}/30`, 'dev', mgmt!]);
    await run('ip', ['link', 'set', mgmt!, 'up']);
    await run('ip', ['-n', namespace, 'addr', 'add', `${plus(block, 2)}/30`, 'dev', mgmtPeer!]);
    await run('ip', ['-n', namespace, 'link', 'set', mgmtPeer!, 'up']);

    return {
      network,
      control: { namespace, address: CONTROL_ADDRESS, managementAddress: plus(block, 2), hostAddress: plus(block, 1) },
      spawn(ns, command, args, options = {}) {
        if (ns === namespace) return spawn('ip', ['netns', 'exec', ns, command, ...args], options);
        return network.spawn(ns, command, args, options);
      },
      partitionFromRedis: (region) => network.block(region, { to: CONTROL_ADDRESS, how: 'drop' }),
      cutFromTarget: (region, how) => network.block(region, { to: network.target.address, how }),
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}
