/**
 * Browser runner throughput and memory, beside raw Playwright doing the same journey in the same run.
 *
 *   ./node_modules/.bin/node bench/browser.ts [--seconds-per-cell 8]
 *
 * For concurrency 1, 2 and 4: journeys per second over a fixed window (after one warm-up journey), and
 * the browser tree's PSS (sum of `Pss` from /proc/<pid>/smaps_rollup over every process of the browser,
 * so shared pages are counted once), sampled every second: mean and peak. The journey: open a small
 * local page, check its heading. "lookout" is the browser runner as agents run it (fresh context per
 * run, vitals and console/request observers, tracing and HAR on, closes with deadlines); "raw" is plain
 * playwright-core: newContext, newPage, goto, read the heading, close. Bounded in time: about
 * 6 × seconds-per-cell plus launches. Lookout runs each script in a sandbox process (reused run after run
 * for the same check): its PSS is sampled beside the browser's (`sandboxPss…`), and what a sandbox costs
 * on its own is measured apart: the time a fresh one takes to be ready (spawn and playwright-core import,
 * what a check's first run would pay without the pool's warm process) and one idle process's PSS.
 * Prints a table; writes bench/results/browser.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import type { BrowserCheckDefinition } from '../checks/contract.ts';
import { loadChecks } from '../checks/loader.ts';
import { createDirectoryArtifactSink } from '../agent/artifacts/sink.ts';
import { createBrowserRunner } from '../agent/runners/browser/runner.ts';
import { chromiumArgs, resolveBrowserOptions } from '../agent/runners/browser/options.ts';
import { browserTree, findBrowserPid, killBrowserTree, pssBytes, treePssBytes } from '../agent/runners/browser/process-tree.ts';
import { spawnSandbox } from '../agent/runners/browser/sandbox/process.ts';
import { startTinySite, writeTinyJourney } from './lib/tiny-journey.ts';

const { values } = parseArgs({ options: { 'seconds-per-cell': { type: 'string', default: '8' } } });
const windowMs = Math.max(1, Number(values['seconds-per-cell'])) * 1000;
const CONCURRENCY = [1, 2, 4];
const MiB = 1024 * 1024;

interface Cell { impl: 'lookout' | 'raw'; concurrency: number; journeys: number; failures: number; seconds: number; perSecond: number; pssMeanMiB: number; pssPeakMiB: number; processesPeak: number; sandboxPssMeanMiB?: number }

const site = await startTinySite();
const url = site.url;

const work = mkdtempSync(join(tmpdir(), 'lookout-bench-browser-'));
writeTinyJourney(work, url);
const loaded = await loadChecks([work]);
if (loaded.problems.length > 0) throw new Error(JSON.stringify(loaded.problems));
const journey = loaded.checks[0]!.definition as BrowserCheckDefinition;

/** Runs `once` in `concurrency` loops for the window while sampling PSS of `pids()`. */
async function measure(concurrency: number, once: () => Promise<boolean>, pids: () => number[], sandboxPids?: () => number[]): Promise<Omit<Cell, 'impl' | 'concurrency'>> {
  const samples: number[] = [];
  const sandboxSamples: number[] = [];
  let processesPeak = 0;
  const sample = (): void => {
    const tree = pids();
    processesPeak = Math.max(processesPeak, tree.length);
    samples.push(treePssBytes(tree));
    if (sandboxPids) sandboxSamples.push(treePssBytes(sandboxPids()));
  };
  const sampler = setInterval(sample, 1_000);
  let journeys = 0;
  let failures = 0;
  const started = performance.now();
  const until = started + windowMs;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) {
      if (await once()) journeys++;
      else failures++;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  sample();
  return {
    journeys, failures, seconds: round(seconds), perSecond: round(journeys / seconds),
    pssMeanMiB: round(samples.reduce((a, b) => a + b, 0) / samples.length / MiB), pssPeakMiB: round(Math.max(...samples) / MiB), processesPeak,
    ...(sandboxPids ? { sandboxPssMeanMiB: round(sandboxSamples.reduce((a, b) => a + b, 0) / sandboxSamples.length / MiB) } : {}),
  };
}

async function lookoutCell(concurrency: number): Promise<Cell> {
  const artifacts = join(work, 'artifacts');
  const runner = createBrowserRunner({ concurrency, maxRunsPerBrowser: 100_000, artifactSink: createDirectoryArtifactSink(artifacts) });
  const once = async (): Promise<boolean> => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(Object.assign(new Error('deadline'), { code: 'TIMEOUT' })), journey.timeoutMs);
    try {
      const report = await runner.run(journey, { region: 'local', agentId: 'bench', signal: controller.signal, deadlineAt: Date.now() + journey.timeoutMs });
      return report.outcome === 'pass';
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    await once(); // launch + warm-up
    return { impl: 'lookout', concurrency, ...(await measure(concurrency, once, () => runner.browserPids(), () => runner.sandboxPids())) };
  } finally {
    await runner.close();
  }
}

async function rawCell(concurrency: number): Promise<Cell> {
  const marker = mkdtempSync(join(tmpdir(), 'lookout-bench-raw-'));
  const options = resolveBrowserOptions();
  const browser = await chromium.launch({
    executablePath: options.executablePath, headless: true,
    args: chromiumArgs({ extraArgs: [], marker, runningAsRoot: process.getuid?.() === 0 }),
    env: { ...process.env, XDG_CONFIG_HOME: marker },
  });
  const pid = findBrowserPid(marker);
  const once = async (): Promise<boolean> => {
    const context = await browser.newContext();
    try {
      const tab = await context.newPage();
      await tab.goto(url);
      return (await tab.locator('h1').textContent()) === 'ok';
    } catch {
      return false;
    } finally {
      await context.close();
    }
  };
  try {
    await once();
    return { impl: 'raw', concurrency, ...(await measure(concurrency, once, () => (pid ? browserTree(pid, marker) : []))) };
  } finally {
    await browser.close();
    if (pid) killBrowserTree(pid, marker);
    rmSync(marker, { recursive: true, force: true });
  }
}

/** A fresh sandbox process, one at a time: ms until ready (spawn + playwright-core import), and its idle PSS. */
async function sandboxCost(count: number): Promise<{ readyMsMedian: number; readyMsMax: number; idlePssMiB: number; count: number }> {
  const readyMs: number[] = [];
  let idlePss = 0;
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const sandbox = spawnSandbox();
    try {
      await sandbox.ready;
      readyMs.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 200));
      idlePss = Math.max(idlePss, pssBytes(sandbox.pid));
    } finally {
      sandbox.kill();
    }
  }
  readyMs.sort((a, b) => a - b);
  return { readyMsMedian: round(readyMs[Math.floor(readyMs.length / 2)]!), readyMsMax: round(readyMs.at(-1)!), idlePssMiB: round(idlePss / MiB), count };
}

const startedAt = new Date().toISOString();
const loadBefore = loadavg();
const cells: Cell[] = [];
let sandbox: Awaited<ReturnType<typeof sandboxCost>> | undefined;
try {
  for (const concurrency of CONCURRENCY) {
    cells.push(await lookoutCell(concurrency));
    cells.push(await rawCell(concurrency));
  }
  sandbox = await sandboxCost(windowMs >= 5_000 ? 5 : 1);
} finally {
  site.close();
  rmSync(work, { recursive: true, force: true });
}

const header = ['impl', 'conc', 'journeys', 'fail', 'per s', 'PSS mean MiB', 'PSS peak MiB', 'procs peak', 'sandbox PSS MiB'];
const rows = cells.map((c) => [c.impl, c.concurrency, c.journeys, c.failures, c.perSecond, c.pssMeanMiB, c.pssPeakMiB, c.processesPeak, c.sandboxPssMeanMiB ?? '-'].map(String));
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cols: string[]): string => cols.map((c, i) => c.padStart(widths[i]!)).join('  ');
console.log(line(header));
for (const row of rows) console.log(line(row));
console.log(`a fresh sandbox process: ready in ${sandbox?.readyMsMedian} ms (median of ${sandbox?.count}; max ${sandbox?.readyMsMax}), idle PSS ${sandbox?.idlePssMiB} MiB`);

const result = {
  startedAt,
  windowSeconds: windowMs / 1000,
  machine: { cpus: cpus().length, memoryMiB: Math.round(totalmem() / MiB), loadAverageBefore: loadBefore.map(round), loadAverageAfter: loadavg().map(round) },
  chromium: (await import('node:child_process')).execFileSync(resolveBrowserOptions().executablePath, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(),
  playwrightCore: (await import('playwright-core/package.json', { with: { type: 'json' } })).default.version,
  journey: 'goto a small local page, check its <h1> text',
  cells,
  sandbox,
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/browser.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
console.log('wrote bench/results/browser.json');

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
