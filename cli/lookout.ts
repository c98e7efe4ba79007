/**
 * The `lookout` command. It only dispatches: each subcommand lives in its own module, and the agent
 * and coordinator run their own `main.ts` (loaded on demand, so `lookout deploy` does not load BullMQ).
 */
import { deployCommand, deployHelp } from './deploy.ts';
import { fleetHelp } from './fleet.ts';

import { LOOKOUT_VERSION as VERSION } from '../lib/version.ts';

const help = `lookout ${VERSION} — synthetic monitoring from several regions

Usage: lookout <command> [options]     (every command takes --help)

Commands:
  fleet          Run a local fleet: Redis, coordinator, one agent per region, the example checks,
                 a dashboard, and a live per-region summary. Ctrl-C stops it all.
  coordinator    Run a coordinator: check registry, schedulers, result ingest, verdicts,
                 incidents, alerts, HTTP API, dashboard and /metrics. Run several for redundancy.
  agent          Run a probe agent for one region: takes that region's check runs from Redis,
                 runs them, reports results and heartbeats. Run several per region for capacity.
  deploy         Validate check files, show the plan against a coordinator, and apply it.
  rollback       Undo the last deployment (lookout deploy --rollback).
  test           Run checks once on this machine, with the agents' runners; non-zero exit on failure.
  token          Create, list and revoke API tokens (directly in Redis).
  region         Add, list, rotate and remove regions: each region's own Redis credentials.

Every option can also come from the environment (LOOKOUT_*); see each command's --help.
`;

type Command = (argv: string[]) => Promise<number | void>;

/** Runs a process's own main.ts as if it had been started directly with these arguments. */
const runMain = (path: string): Command => async (argv) => {
  process.argv = [process.argv[0]!, path, ...argv];
  await import(path);
};

const commands: Record<string, { run: Command; help?: string }> = {
  fleet: { run: async (argv) => (await import('./fleet.ts')).fleetCommand(argv, process.env), help: fleetHelp },
  coordinator: { run: runMain('../coordinator/main.ts') },
  agent: { run: runMain('../agent/main.ts') },
  deploy: { run: (argv) => deployCommand(argv, process.env), help: deployHelp },
  rollback: { run: (argv) => deployCommand(['--rollback', ...argv], process.env), help: deployHelp },
  test: { run: async (argv) => (await import('./test.ts')).testCommand(argv, process.env) },
  token: { run: async (argv) => (await import('./token.ts')).tokenCommand(argv, process.env) },
  region: { run: async (argv) => (await import('./region.ts')).regionCommand(argv, process.env) },
};

const [name, ...rest] = process.argv.slice(2);
if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
  process.stdout.write(help);
} else if (name === '--version' || name === '-v') {
  process.stdout.write(`${VERSION}\n`);
} else if (!(name in commands)) {
  process.stderr.write(`lookout: unknown command "${name}"\n\n${help}`);
  process.exitCode = 2;
} else {
  const code = await commands[name]!.run(rest);
  if (typeof code === 'number') process.exit(code);
}
