/**
 * Processes inside the namespaces of a {@link Network} (netns.ts, which exports these): the target server
 * (netns-target.ts) and Lookout agents. Each is stopped by its own pid.
 */
import { TEST_JOB_PUBLIC_KEY } from './signing.ts';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Network } from './netns.ts';
import { waitUntil } from './wait.ts';
import type { TargetBehaviour, TargetConfig, TargetListener } from './netns-target.ts';

// A target server in the target namespace --------------------------------------------------------

export interface NetnsTarget {
  pid: number;
  /** Replaces the behaviour file: how the target answers from now on (see netns-target.ts). */
  setBehaviour(behaviour: TargetBehaviour): void;
  /** Stops the target process by pid. Idempotent. */
  stop(): Promise<void>;
}

/** Starts netns-target.ts in the network's target namespace with these listeners; resolves once all listen. */
export async function startNetnsTarget(network: Network, listeners: readonly TargetListener[]): Promise<NetnsTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-netns-target-'));
  const behaviourFile = join(dir, 'behaviour.json');
  const configFile = join(dir, 'config.json');
  const config: TargetConfig = { listeners: [...listeners], behaviourFile };
  writeFileSync(configFile, JSON.stringify(config));
  const script = fileURLToPath(new URL('./netns-target.ts', import.meta.url));
  const child = network.spawn(network.target.namespace, process.execPath, ['--disable-warning=ExperimentalWarning', script, configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.includes('"listening"')) { child.stdout!.off('data', onData); child.stdout!.resume(); resolve(); }
    };
    child.stdout!.on('data', onData);
    exited.then(() => reject(new Error(`NETNS_TARGET: the target exited before listening: ${stderr.trim()}`)), () => {});
  });
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid!,
    setBehaviour(behaviour) {
      // Written whole, then renamed: the target never reads half a file.
      writeFileSync(`${behaviourFile}.tmp`, JSON.stringify(behaviour));
      renameSync(`${behaviourFile}.tmp`, behaviourFile);
    },
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

// A Lookout agent process inside a region's namespace -------------------------------------------

export interface NetnsAgent {
  pid: number;
  /** `http://<management address>:<port>`: /healthz, /readyz, /metrics, reached from the host. */
  healthUrl: string;
  /** Where its output goes (JSON lines). */
  logFile: string;
  /** Resolves once /readyz answers 200; rejects if the agent exits first or `timeoutMs` passes. */
  ready(timeoutMs?: number): Promise<void>;
  /** SIGTERM by pid, SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** The agent's health port inside its namespace (each namespace has its own ports). */
const AGENT_HEALTH_PORT = 9464;

/**
 * Starts `agent/main.ts` for `region` inside its namespace (verifying jobs with the tests' key, support/signing.ts), reaching Redis on the host through the
 * region's management link (`redis://<hostAddress>:<redisPort>`: the host's Redis must listen on
 * {@link Network.hostAddresses}, e.g. `startRedis(['--bind', …, '--protected-mode', 'no'])`).
 */
export function spawnAgent(network: Network, region: string, options: { redisPort: number; prefix: string; args?: readonly string[]; env?: NodeJS.ProcessEnv }): NetnsAgent {
  const ns = network.regions[region];
  if (!ns) throw new Error(`NETNS_REGION: no region ${JSON.stringify(region)} in this network`);
  const dir = mkdtempSync(join(tmpdir(), `lookout-netns-agent-${region}-`));
  const logFile = join(dir, 'agent.log');
  const log = openSync(logFile, 'w');
  const script = fileURLToPath(new URL('../../agent/main.ts', import.meta.url));
  // Its own spool folder: the default (per region, under $HOME) is locked to one agent on the machine.
  const child = network.spawn(ns.namespace, process.execPath, [
    '--disable-warning=ExperimentalWarning', script, '--region', region, '--redis', `redis://${ns.hostAddress}:${options.redisPort}`,
    '--prefix', options.prefix, '--agent-id', `netns-${network.id}-${region}`, '--health-host', ns.managementAddress,
    '--health-port', String(AGENT_HEALTH_PORT), '--shutdown-timeout', '2s', ...(options.args ?? []),
  ], { stdio: ['ignore', log, log], env: { ...process.env, LOOKOUT_JOB_PUBLIC_KEY: TEST_JOB_PUBLIC_KEY, LOOKOUT_SPOOL_DIR: join(dir, 'spool'), ...options.env } });
  closeSync(log);
  const exited = once(child, 'exit');
  const healthUrl = `http://${ns.managementAddress}:${AGENT_HEALTH_PORT}`;
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid!,
    healthUrl,
    logFile,
    async ready(timeoutMs = 20_000) {
      let gone = false;
      exited.then(() => { gone = true; }, () => {});
      // An agent that exits is an answer too: stop waiting at once (the probe's error is not retried).
      let exitedEarly = false;
      try {
        await waitUntil(`the agent of ${region} ready`, async () => {
          if (gone) { exitedEarly = true; return true; }
          return (await fetch(`${healthUrl}/readyz`).then((r) => r.status, () => 0)) === 200;
        }, timeoutMs, 100);
      } catch {
        throw new Error(`NETNS_AGENT: the agent of ${region} was not ready within ${timeoutMs} ms; see ${logFile}`);
      }
      if (exitedEarly) throw new Error(`NETNS_AGENT: the agent of ${region} exited before it was ready; see ${logFile}`);
    },
    stop(graceMs = 5_000) {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
        }
      })();
      return stopping;
    },
  };
}
