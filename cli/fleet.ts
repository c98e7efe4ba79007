/**
 * `lookout fleet`: the whole system on one machine — Redis (spawned, data under .lookout/, unless
 * --redis/REDIS_URL is given), the demo service, a coordinator, one agent per region, the example
 * checks deployed — then a live one-line-per-check summary of per-region verdicts until Ctrl-C, which
 * stops every process it started.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RegionName } from '../checks/contract.ts';
import { formatDiagnostic } from '../checks/diagnostics.ts';
import { loadChecks } from '../checks/loader.ts';
import { releaseBundler } from '../checks/bundle.ts';
import { integer, list, nonEmpty, optionsHelp, parseOptions, redisUrl, value, zodParser, type OptionTable } from '../lib/options.ts';
import { deployDefinitions } from './deploy.ts';
import { prepareFleetCredentials } from './fleet-credentials.ts';
import { startDemoTarget, type DemoTarget } from './demo-target.ts';
import { startProcess, stopAll, waitForOutput, type ManagedProcess } from './processes.ts';
import { freePort, renderSummary, waitFor } from './fleet-support.ts';
import { redactUrl } from '../lib/urls.ts';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');

/** `lookout fleet`'s options. */
export const FLEET_OPTIONS = {
  regions: list({ flag: '--regions', help: 'Regions, one agent each (default: us-east,eu-west,ap-south)', parse: zodParser(RegionName), placeholder: '<list>' }),
  port: value({ flag: '--port', env: ['LOOKOUT_PORT'], help: 'Coordinator API/dashboard port', defaultText: '8080, or a free one if taken', optional: true, parse: integer(0, 65_535), placeholder: '<n>' }),
  redisUrl: value({ flag: '--redis', env: ['REDIS_URL'], help: 'Use this Redis instead of spawning one', optional: true, parse: redisUrl, placeholder: '<url>' }),
  checks: list({ flag: '--checks', help: 'Check files or folders to deploy (default: checks/examples)', parse: nonEmpty('a path'), placeholder: '<path>' }),
  dataDir: value({ flag: '--data-dir', help: 'Where the spawned Redis keeps its data and processes their logs', default: '.lookout', parse: nonEmpty('a folder'), placeholder: '<dir>' }),
} satisfies OptionTable;

export const fleetHelp = [
  'Usage: lookout fleet [options]',
  '',
  'Runs a local Lookout fleet: Redis, the demo service, a coordinator and one agent per region, deploys',
  'the example checks, prints the dashboard and API URLs, and shows live per-region verdicts.',
  'Ctrl-C stops everything it started.',
  '',
  'Options:',
  ...optionsHelp(FLEET_OPTIONS, 23),
  '',
].join('\n');

export async function fleetCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const parsed = parseOptions(FLEET_OPTIONS, argv, env);
  if ('help' in parsed) { process.stdout.write(fleetHelp); return 0; }
  if ('errors' in parsed) { process.stderr.write(`${parsed.errors.map((e) => `lookout fleet: ${e}\n`).join('')}\n${fleetHelp}`); return 2; }
  const v = parsed.values;
  const regions = v.regions.length > 0 ? v.regions : ['us-east', 'eu-west', 'ap-south'];
  const port = v.port ?? null;
  const externalRedis = v.redisUrl;
  // The default data folder sits in the checkout; a given one is taken from the working directory.
  const dataDir = parsed.sources.dataDir ? resolve(v.dataDir) : join(ROOT, v.dataDir);
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const checkPaths = v.checks.length > 0 ? v.checks : [join(ROOT, 'checks/examples')];
  const processes: ManagedProcess[] = [];
  let demo: DemoTarget | undefined;
  let stopping = false;
  let summaryTimer: NodeJS.Timeout | undefined;

  // One shutdown, whoever asks first (Ctrl-C, a process dying, a start-up error); every caller awaits
  // the same promise, so nothing exits the CLI while processes are still being stopped.
  let shuttingDown: Promise<number> | undefined;
  const shutdown = (code: number, why?: string): Promise<number> => {
    shuttingDown ??= (async () => {
      stopping = true;
      if (summaryTimer) clearInterval(summaryTimer);
      if (why) process.stderr.write(`\n${why}\n`);
      process.stdout.write('\nstopping the fleet…\n');
      await stopAll(processes);
      await demo?.close();
      process.stdout.write('stopped.\n');
      return code;
    })();
    return shuttingDown;
  };
  const interrupted = new Promise<number>((resolveSignal) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolveSignal(shutdown(0)));
  });

  const run = async (): Promise<number> => {
    // 1. Redis
    // The admin URL (coordinator, CLI) never reaches an agent: each region's agent gets its own user.
    let redisUrl = externalRedis;
    let redisConf: string | null = null;
    if (!redisUrl) {
      const redisPort = await freePort();
      const redisDir = join(dataDir, 'redis');
      mkdirSync(redisDir, { recursive: true });
      // The password goes in a file only the user can read, not on a command line other users can see.
      const password = randomBytes(24).toString('base64url');
      redisConf = join(redisDir, 'redis.conf');
      writeFileSync(redisConf, [
        `port ${redisPort}`, 'bind 127.0.0.1', `dir ${redisDir}`, 'appendonly yes', 'maxmemory-policy noeviction', `requirepass ${password}`, '',
      ].join('\n'), { mode: 0o600 });
      const redis = startProcess('redis', 'redis-server', [redisConf], { logDir });
      processes.push(redis);
      await waitForOutput(redis, /Ready to accept connections/, 15_000);
      redisUrl = `redis://:${password}@127.0.0.1:${redisPort}`;
    }
    // 2. The demo service the example checks probe
    demo = await startDemoTarget(await freePort());
    process.env.LOOKOUT_DEMO_URL = demo.url;
    // 3. Validate the checks before starting anything that would run them
    const loaded = await loadChecks(checkPaths);
    await releaseBundler();
    if (loaded.problems.length > 0) {
      return shutdown(1, `lookout fleet: the checks have ${loaded.problems.length} problem(s); nothing deployed:\n${loaded.problems.map((p) => `  ${formatDiagnostic(p)}`).join('\n')}`);
    }
    // 4. Coordinator
    const apiPort = port ?? await preferredPort(8080);
    const nodeArgs = ['--disable-warning=ExperimentalWarning'];
    // Reads are public on this local fleet (dashboard, summary); writes need the fleet's token.
    const credentials = await prepareFleetCredentials(redisUrl, regions);
    const { token } = credentials;
    const coordinator = startProcess('coordinator', process.execPath, [...nodeArgs, join(ROOT, 'coordinator/main.ts'), '--port', String(apiPort), '--public-read'],
      { logDir, env: { LOOKOUT_REDIS_URL: redisUrl } });
    processes.push(coordinator);
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitFor(`coordinator at ${apiUrl} (log: ${coordinator.logFile})`, 30_000, async () => {
      if (coordinator.child.exitCode !== null) throw new Error(`coordinator exited with code ${coordinator.child.exitCode}; see ${coordinator.logFile}`);
      const response = await fetch(`${apiUrl}/readyz`).catch(() => null);
      return response?.ok === true;
    });
    // 5. One agent per region
    for (const region of regions) {
      const agent = startProcess(`agent-${region}`, process.execPath, [...nodeArgs, join(ROOT, 'agent/main.ts'), '--region', region, '--agent-id', `local-${region}`, '--browser-checks', 'on', '--browser-concurrency', '1'], {
        logDir, env: {
          LOOKOUT_REDIS_URL: credentials.agentRedisUrls.get(region)!, LOOKOUT_JOB_PUBLIC_KEY: credentials.jobPublicKey,
          // Results wait here while Redis is away, across restarts, beside the fleet's other data.
          LOOKOUT_SPOOL_DIR: join(dataDir, 'spool', region),
        },
      });
      processes.push(agent);
    }
    await waitFor('agents to report', 30_000, async () => {
      const dead = processes.find((p) => p.child.exitCode !== null);
      if (dead) throw new Error(`${dead.name} exited with code ${dead.child.exitCode}; see ${dead.logFile}`);
      const body = await fetch(`${apiUrl}/api/agents`).then((r) => r.json()).catch(() => null) as { regions?: { region: string; online: number }[] } | null;
      const online = new Set((body?.regions ?? []).filter((r) => r.online > 0).map((r) => r.region));
      return regions.every((r) => online.has(r));
    });
    // 6. Deploy the example checks
    const summary = await deployDefinitions(apiUrl, loaded.checks.map((c) => c.definition), externalRedis === undefined, token);
    // 7. Watch: one line per check, redrawn
    process.stdout.write([
      '',
      `Lookout is running: ${regions.length} regions (${regions.join(', ')}), ${loaded.checks.length} checks deployed (${summary.added.length} new).`,
      `  Dashboard   ${apiUrl}/`,
      `  API         ${apiUrl}/api/checks`,
      `  Token       ${token}   (admin; for writes: lookout deploy --coordinator ${apiUrl} --token …)`,
      `  Redis       ${redactUrl(redisUrl)}${redisConf ? `   (admin password in ${redisConf}; each region's agent has its own user)` : ''}`,
      `  Logs        ${logDir}`,
      `  Demo        ${demo.url}  — try: curl -X POST '${demo.url}/_demo/fail?regions=eu-west'   then   curl -X POST ${demo.url}/_demo/recover`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n') + '\n');
    let lastLines = 0;
    const tty = process.stdout.isTTY === true;
    let lastText = '';
    const draw = async (): Promise<void> => {
      const body = await fetch(`${apiUrl}/api/checks`).then((r) => r.json()).catch(() => null);
      if (stopping) return;
      const lines = renderSummary(body, regions);
      const text = lines.join('\n');
      if (tty) {
        process.stdout.write((lastLines ? `\x1b[${lastLines}A\x1b[J` : '') + text + '\n');
        lastLines = lines.length;
      } else if (text !== lastText) {
        process.stdout.write(`${new Date().toISOString()}\n${text}\n`);
      }
      lastText = text;
    };
    await draw();
    summaryTimer = setInterval(() => { void draw(); }, 2_000);
    // 8. Any core process dying ends the fleet; Ctrl-C ends it cleanly.
    const died = Promise.race(processes.map((p) => p.exited.then((code) => ({ p, code }))))
      .then(({ p, code }) => stopping ? shutdown(0) : shutdown(1, `lookout fleet: ${p.name} exited unexpectedly (${code}); see ${p.logFile}`));
    return Promise.race([interrupted, died]);
  };

  try {
    return await Promise.race([run(), interrupted]);
  } catch (error) {
    return shutdown(1, `lookout fleet: ${(error as Error).message}`);
  }
}

async function preferredPort(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/`).catch(() => null);
  return response === null ? port : freePort();
}
