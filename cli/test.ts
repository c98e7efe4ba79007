/**
 * `lookout test [paths or patterns]`: runs checks once, on this machine, with the agents' own runners
 * and run execution (agent/runs/local.ts) — no Redis and no coordinator — and reports each outcome with
 * its timings and failing assertions. Exits 0 when every check passed, 1 when any failed or errored
 * (so it gates CI), 2 when nothing could be run (bad flags, invalid project, no check selected).
 */
import { writeFileSync } from 'node:fs';
import { RegionName } from '../checks/contract.ts';
import { formatDiagnostic } from '../checks/diagnostics.ts';
import { runCheckOnce, startLocalRunners } from '../agent/runs/local.ts';
import { loadSecrets, type LoadedSecrets } from '../agent/secrets/load.ts';
import { accept, duration, integer, nonEmpty, oneOf, optionsHelp, parseOptions, refuse, value, zodParser, type OptionTable } from '../lib/options.ts';
import { DEFAULT_IMPORT_TIMEOUT_MS } from '../checks/limits.ts';
import { loadProject } from './project.ts';
import { REPORTERS, jsonReport, junitReport, tableReport, totals, type Reporter, type TestRun } from './test-report.ts';

/** `lookout test`'s options. */
export const TEST_OPTIONS = {
  region: value({ flag: '--region', help: 'Region to run as (sent as x-lookout-region)', default: 'local', parse: zodParser(RegionName), placeholder: '<name>' }),
  reporter: value({ flag: '--reporter', help: REPORTERS.join(', '), default: 'table' as Reporter, parse: oneOf(REPORTERS), placeholder: '<name>' }),
  output: value({ flag: '--output', help: 'Write the report to this file instead of standard output', optional: true, parse: nonEmpty('a file'), placeholder: '<file>' }),
  concurrency: value({ flag: '--concurrency', help: 'Checks run at the same time', default: 4, parse: integer(1, 64), placeholder: '<n>' }),
  config: value({ flag: '--config', help: 'Project configuration', defaultText: 'the nearest lookout.config.ts', optional: true, parse: nonEmpty('a file'), placeholder: '<file>' }),
  secretsFile: value({
    flag: '--secrets-file', env: ['LOOKOUT_SECRETS_FILE'], placeholder: '<file>',
    help: "Secrets for secret('NAME') / secrets.NAME: JSON or dotenv; LOOKOUT_SECRET_<NAME> variables add to it",
    default: null as string | null, defaultText: 'none', parse: (text: string) => accept<string | null>(text),
  }),
  chromium: value({
    flag: '--chromium', env: ['LOOKOUT_CHROMIUM_PATH'], help: 'Chromium for browser checks', default: '/usr/bin/chromium', placeholder: '<path>',
    parse: (text: string) => (text.startsWith('/') ? accept(text) : refuse('expected an absolute path')),
  }),
  importTimeout: value({
    flag: '--import-timeout', help: 'How long one check file may take to load (IMPORT_TIMEOUT past it)', placeholder: '<duration>',
    default: DEFAULT_IMPORT_TIMEOUT_MS, defaultText: '10s', parse: duration(100, 600_000),
  }),
  artifactsDir: value({ flag: '--artifacts-dir', help: 'Where failed browser runs leave screenshot, trace and HAR', default: '.lookout/artifacts', parse: nonEmpty('a folder'), placeholder: '<dir>' }),
} satisfies OptionTable;

export const testHelp = [
  'Usage: lookout test [paths or patterns…] [options]',
  '',
  'Runs checks once, here, with the same runners the agents use (no Redis or coordinator needed), and',
  'prints each outcome with its timings and failing assertions. Arguments that exist are files or folders',
  'to load; the others are patterns selecting checks by id or file ("api-*", "*.check.ts", "checks/shop*").',
  'Without paths: the checks of the nearest lookout.config.ts, else checks/examples.',
  '',
  'Exit status: 0 every check passed; 1 a check failed or errored; 2 nothing could be run.',
  '',
  'Options:',
  ...optionsHelp(TEST_OPTIONS, 25),
  '',
].join('\n');

interface TestOptions {
  region: string;
  reporter: Reporter;
  output?: string;
  concurrency: number;
  config?: string;
  secretsFile: string | null;
  chromium: string;
  artifactsDir: string;
  importTimeout: number;
  args: string[];
}

/** Flags and environment → options, or every problem. Pure. */
export function parseTestOptions(argv: string[], env: Readonly<Record<string, string | undefined>>): { options: TestOptions } | { help: true } | { errors: string[] } {
  const parsed = parseOptions(TEST_OPTIONS, argv, env, { positionals: true });
  if (!('values' in parsed)) return parsed;
  const { output, config, ...rest } = parsed.values;
  return { options: { ...rest, ...(output !== undefined ? { output } : {}), ...(config !== undefined ? { config } : {}), args: parsed.positionals } };
}


export async function testCommand(argv: string[], env: NodeJS.ProcessEnv, out = process.stdout, err = process.stderr): Promise<number> {
  const parsed = parseTestOptions(argv, env);
  if ('help' in parsed) { out.write(testHelp); return 0; }
  if ('errors' in parsed) { err.write(parsed.errors.map((e) => `lookout test: ${e}\n`).join('') + `\n${testHelp}`); return 2; }
  const { options } = parsed;

  let secrets: LoadedSecrets;
  try {
    secrets = loadSecrets({ env, file: options.secretsFile });
  } catch (error) {
    err.write(`lookout test: ${(error as Error).message}\n`);
    return 2;
  }
  const project = await loadProject(options.args, { importTimeoutMs: options.importTimeout, ...(options.config !== undefined ? { config: options.config } : {}) });
  if (project.problems.length > 0) {
    err.write(`lookout test: ${project.problems.length} problem(s); nothing run:\n${project.problems.map((p) => `  ${formatDiagnostic(p)}\n`).join('')}`);
    return 2;
  }
  if (project.unmatched.length > 0) {
    err.write(`lookout test: no check matches ${project.unmatched.map((p) => JSON.stringify(p)).join(', ')} (checks: ${project.checks.map((c) => c.definition.id).join(', ')})\n`);
    return 2;
  }
  if (project.selected.length === 0) { err.write('lookout test: no checks to run\n'); return 2; }

  const checks = project.selected;
  // Only the types selected are started: no Chromium unless a browser check is among them.
  const local = await startLocalRunners(new Set(checks.map((c) => c.definition.type)), {
    secrets: secrets.values, secretOrigins: secrets.origins, artifactsDir: options.artifactsDir, browser: { executablePath: options.chromium },
  });
  const interrupt = new AbortController();
  const onSigint = (): void => interrupt.abort();
  process.once('SIGINT', onSigint);
  const progress = createProgress(err, checks.length);
  const started = Date.now();
  let runs: TestRun[];
  try {
    runs = await runAll(checks, options.concurrency, async (check) => {
      progress.started(check.definition.id);
      const result = await runCheckOnce(check, { region: options.region, runners: local.runners, signal: interrupt.signal });
      progress.finished(check.definition.id);
      return { id: check.definition.id, name: check.definition.name, type: check.definition.type, file: check.file, result };
    });
  } finally {
    progress.done();
    process.off('SIGINT', onSigint);
    await local.close();
  }
  const sum = totals(runs, Date.now() - started);
  const report = options.reporter === 'json' ? jsonReport(runs, sum)
    : options.reporter === 'junit' ? junitReport(runs, sum, { region: options.region, timestamp: new Date(started) })
      : tableReport(runs, sum, { color: out.isTTY === true && options.output === undefined });
  if (options.output) {
    writeFileSync(options.output, report);
    out.write(`${sum.total} check(s): ${sum.passed} passed, ${sum.failed} failed, ${sum.errors} error(s); ${options.reporter} report written to ${options.output}\n`);
  } else out.write(report);
  if (interrupt.signal.aborted) return 130;
  return sum.passed === sum.total ? 0 : 1;
}

/** Runs `work` over `items`, at most `limit` at a time; results in the items' order. */
async function runAll<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** A one-line progress indicator on a terminal (`[3/10] running: api-health, homepage`); nothing otherwise. */
function createProgress(stream: NodeJS.WriteStream, total: number): { started(id: string): void; finished(id: string): void; done(): void } {
  const tty = stream.isTTY === true;
  const running = new Set<string>();
  let finished = 0;
  const draw = (): void => {
    if (!tty) return;
    const line = `[${finished}/${total}] running: ${[...running].join(', ')}`;
    stream.write(`\r\x1b[K${line.slice(0, (stream.columns || 80) - 1)}`);
  };
  return {
    started(id) { running.add(id); draw(); },
    finished(id) { running.delete(id); finished++; draw(); },
    done() { if (tty) stream.write('\r\x1b[K'); },
  };
}
