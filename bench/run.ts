/**
 * `node bench/run.ts [--smoke] [--only a,b] [--results-dir dir] [--profile] [--concurrency n]`
 *
 * Runs every benchmark against loopback targets, one after the other, each with a redis-server of its
 * own and bounded in time, then writes `report.json` and `report.md` to the results folder
 * (bench/results by default, git-ignored). `--smoke` runs each one tiny, in seconds, so that the
 * benchmarks never rot (test/bench/smoke.test.ts). Exit code 0 when every section ran (missed targets
 * are findings, not failures), 1 when a section errored, 2 on bad flags.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseBenchArgs, benchHelp } from './lib/cli.ts';
import { ROOT } from './lib/proc.ts';
import { startRedis } from './lib/redis.ts';
import { renderMarkdown, type Report, type SectionResult } from './lib/report.ts';
import type { Section, SectionContext } from './lib/section.ts';
import { SECTIONS } from './sections/index.ts';

const parsed = parseBenchArgs(process.argv.slice(2), SECTIONS.map((s) => s.id));
if ('help' in parsed) { process.stdout.write(benchHelp(SECTIONS.map((s) => s.id))); process.exit(0); }
if ('errors' in parsed) {
  process.stderr.write(`bench: ${parsed.errors.join('\n bench: ')}\n\n${benchHelp(SECTIONS.map((s) => s.id))}`);
  process.exit(2);
}
const options = parsed.options;
const resultsDir = options.resultsDir ?? join(ROOT, 'bench', 'results');
const logDir = join(resultsDir, 'logs');
mkdirSync(logDir, { recursive: true });
const log = (message: string): void => { process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`); };

async function runSection(section: Section): Promise<SectionResult> {
  const started = performance.now();
  const loadAtStart = loadavg()[0]!;
  const load = (): { start: number; end: number } => ({ start: loadAtStart, end: loadavg()[0]! });
  const cleanups: Array<() => Promise<void> | void> = [];
  let redis;
  try {
    redis = await startRedis();
    const ctx: SectionContext = {
      redis, smoke: options.smoke, logDir: join(logDir, section.id), resultsDir, profile: options.profile, concurrency: options.concurrency,
      defer: (cleanup) => { cleanups.push(cleanup); },
      log: (message) => log(`${section.id}: ${message}`),
    };
    mkdirSync(ctx.logDir, { recursive: true });
    log(`${section.id}: start`);
    const output = await withTimeLimit(section.run(ctx), options.smoke ? 90_000 : sectionLimitMs(section.id), section.id);
    const { absent, ...rest } = output;
    return {
      id: section.id, title: section.title, status: absent === undefined ? 'ok' : 'absent', durationMs: performance.now() - started, loadAverage: load(),
      ...rest, ...(absent === undefined ? {} : { error: absent }),
    };
  } catch (error) {
    log(`${section.id}: ${(error as Error).stack ?? String(error)}`);
    return {
      id: section.id, title: section.title, status: 'error', durationMs: performance.now() - started, loadAverage: load(),
      figures: [], targets: [], notes: [], error: (error as Error).message ?? String(error),
    };
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try { await cleanup(); } catch (error) { log(`${section.id}: clean-up failed: ${(error as Error).message}`); }
    }
    await redis?.stop();
    log(`${section.id}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

/** Wall-time bound of each full section; together well under 15 minutes. */
function sectionLimitMs(id: string): number {
  const limits: Record<string, number> = {
    httpThroughput: 150_000, timingAccuracy: 60_000, scheduling: 320_000, ingest: 120_000, detection: 180_000, farAgent: 300_000, 'detection-kinds': 480_000, 'network-facts': 360_000, memory: 300_000, browser: 240_000,
  };
  return limits[id] ?? 120_000;
}

async function withTimeLimit<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`BENCH_SECTION_TIMEOUT: ${what} did not finish within ${ms / 1000} s`)), ms);
    })]);
  } finally {
    clearTimeout(timer);
  }
}

function machine(): Record<string, string | number> {
  let redisVersion = 'unknown';
  try { redisVersion = /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown'; } catch { /* reported as unknown */ }
  return {
    cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version, redis: redisVersion, loadavg1mAtStart: Number(loadavg()[0]!.toFixed(2)),
  };
}

const startedAt = performance.now();
const machineFacts = machine();
const sections: SectionResult[] = [];
for (const section of SECTIONS) {
  if (options.only && !options.only.includes(section.id)) continue;
  sections.push(await runSection(section));
}
const report: Report = {
  generatedAt: new Date().toISOString(), mode: options.smoke ? 'smoke' : 'full', machine: machineFacts,
  totalMs: performance.now() - startedAt, sections,
};
writeFileSync(join(resultsDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(resultsDir, 'report.md'), renderMarkdown(report));
log(`report: ${join(resultsDir, 'report.md')} (${(report.totalMs / 1000).toFixed(0)} s)`);
process.exit(sections.some((s) => s.status === 'error') ? 1 : 0);
