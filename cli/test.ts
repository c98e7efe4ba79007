/**
 * `lookout test [paths or patterns]`: runs checks once, on this machine, with the agents' own runners
 * and run execution (agent/run-once.ts) — no Redis and no coordinator — and reports each outcome with
 * its timings and failing assertions. Exits 0 when every check passed, 1 when any failed or errored
 * (so it gates CI), 2 when nothing could be run (bad flags, invalid project, no check selected).
 */
import { writeFileSync } from 'node:fs';
import { RegionName } from '../checks/contract.ts';
import { formatDiagnostic } from '../checks/diagnostics.ts';
import { secretSafeArtifactSink } from '../agent/artifact-secrets.ts';
import { createDirectoryArtifactSink } from '../agent/artifacts.ts';
import { runCheckOnce } from '../agent/run-once.ts';
import type { RunnerTable } from '../agent/runner.ts';
import { createRunners } from '../agent/runners/index.ts';
import type { BrowserRunner } from '../agent/runners/browser/index.ts';
import { loadSecrets, withSecrets, type Secrets } from '../agent/secrets.ts';
import { parseFlags } from '../lib/options.ts';
import { loadProject } from './project.ts';
import { REPORTERS, jsonReport, junitReport, tableReport, totals, type Reporter, type TestRun } from './test-report.ts';

export const testHelp = `Usage: lookout test [paths or patterns…] [options]

Runs checks once, here, with the same runners the agents use (no Redis or coordinator needed), and
prints each outcome with its timings and failing assertions. Arguments that exist are files or folders
to load; the others are patterns selecting checks by id or file ("api-*", "*.check.ts", "checks/shop*").
Without paths: the checks of the nearest lookout.config.ts, else checks/examples.

Exit status: 0 every check passed; 1 a check failed or errored; 2 nothing could be run.

Options:
  --region <name>        Region to run as (sent as x-lookout-region) [default: local]
  --reporter <name>      table, json or junit [default: table]
  --output <file>        Write the report to this file instead of standard output
  --concurrency <n>      Checks run at the same time [default: 4]
  --config <file>        Project configuration [default: the nearest lookout.config.ts]
  --secrets-file <file>  Secrets for secret('NAME') / secrets.NAME: JSON or dotenv; LOOKOUT_SECRET_<NAME>
                         variables add to it (env LOOKOUT_SECRETS_FILE)
  --chromium <path>      Chromium for browser checks (env LOOKOUT_CHROMIUM_PATH) [default: /usr/bin/chromium]
  --artifacts-dir <dir>  Where failed browser runs leave screenshot, trace and HAR [default: .lookout/artifacts]
  -h, --help             Show this help
`;

interface TestOptions {
  region: string;
  reporter: Reporter;
  output?: string;
  concurrency: number;
  config?: string;
  secretsFile: string | null;
  chromium: string;
  artifactsDir: string;
  args: string[];
}

/** Flags and environment → options, or every problem. Pure. */
export function parseTestOptions(argv: string[], env: Readonly<Record<string, string | undefined>>): { options: TestOptions } | { help: true } | { errors: string[] } {
  const parsed = parseFlags(argv, {
    region: { type: 'string' }, reporter: { type: 'string' }, output: { type: 'string' }, concurrency: { type: 'string' },
    config: { type: 'string' }, 'secrets-file': { type: 'string' }, chromium: { type: 'string' }, 'artifacts-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if ('error' in parsed) return { errors: [parsed.error] };
  const v = parsed.values;
  if (v.help) return { help: true };
  const errors: string[] = [];
  const region = String(v.region ?? 'local');
  if (!RegionName.safeParse(region).success) errors.push(`--region: "${region}" is not a valid region name (a-z, 0-9, "-")`);
  const reporter = String(v.reporter ?? 'table');
  if (!(REPORTERS as readonly string[]).includes(reporter)) errors.push(`--reporter: expected one of ${REPORTERS.join(', ')}, got "${reporter}"`);
  const concurrencyText = String(v.concurrency ?? '4');
  const concurrency = Number(concurrencyText);
  if (!/^\d+$/.test(concurrencyText) || concurrency < 1 || concurrency > 64) errors.push(`--concurrency: expected an integer from 1 to 64, got "${concurrencyText}"`);
  const chromium = String(v.chromium ?? env.LOOKOUT_CHROMIUM_PATH ?? '/usr/bin/chromium');
  if (!chromium.startsWith('/')) errors.push(`--chromium: expected an absolute path, got "${chromium}"`);
  if (errors.length > 0) return { errors };
  return {
    options: {
      region, reporter: reporter as Reporter, concurrency, chromium,
      ...(v.output !== undefined ? { output: String(v.output) } : {}),
      ...(v.config !== undefined ? { config: String(v.config) } : {}),
      secretsFile: (v['secrets-file'] as string | undefined) ?? (env.LOOKOUT_SECRETS_FILE || null),
      artifactsDir: String(v['artifacts-dir'] ?? '.lookout/artifacts'),
      args: parsed.positionals,
    },
  };
}

export async function testCommand(argv: string[], env: NodeJS.ProcessEnv, out = process.stdout, err = process.stderr): Promise<number> {
  const parsed = parseTestOptions(argv, env);
  if ('help' in parsed) { out.write(testHelp); return 0; }
  if ('errors' in parsed) { err.write(parsed.errors.map((e) => `lookout test: ${e}\n`).join('') + `\n${testHelp}`); return 2; }
  const { options } = parsed;

  let secrets: Secrets;
  try {
    secrets = loadSecrets({ env, file: options.secretsFile });
  } catch (error) {
    err.write(`lookout test: ${(error as Error).message}\n`);
    return 2;
  }
  const project = await loadProject(options.args, options.config !== undefined ? { config: options.config } : {});
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
  let browser: BrowserRunner | undefined;
  if (checks.some((c) => c.definition.type === 'browser')) {
    const { createBrowserRunner } = await import('../agent/runners/browser/index.ts');
    browser = createBrowserRunner({
      executablePath: options.chromium, secrets: { ...secrets },
      artifactSink: secretSafeArtifactSink(createDirectoryArtifactSink(options.artifactsDir), secrets),
    });
  }
  const runners: RunnerTable = withSecrets(createRunners({ browser }), secrets);
  const interrupt = new AbortController();
  const onSigint = (): void => interrupt.abort();
  process.once('SIGINT', onSigint);
  const progress = createProgress(err, checks.length);
  const started = Date.now();
  let runs: TestRun[];
  try {
    runs = await runAll(checks, options.concurrency, async (check) => {
      progress.started(check.definition.id);
      const result = await runCheckOnce(check, { region: options.region, runners, signal: interrupt.signal });
      progress.finished(check.definition.id);
      return { id: check.definition.id, name: check.definition.name, type: check.definition.type, file: check.file, result };
    });
  } finally {
    progress.done();
    process.off('SIGINT', onSigint);
    await browser?.close();
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
