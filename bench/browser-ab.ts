/**
 * The browser runner of this checkout against another checkout's (say, the commit before a change),
 * alternating blocks of journeys in one process so that both see the same load: on a shared machine
 * whose load swings by 2× within a minute, runs one after the other do not compare.
 *
 *   git worktree add /tmp/baseline <commit>   # or: git archive <commit> | tar -x -C /tmp/baseline
 *   ln -s "$PWD/node_modules" /tmp/baseline/node_modules
 *   ./node_modules/.bin/node bench/browser-ab.ts --baseline /tmp/baseline [--concurrency 1] [--rounds 8] [--block 5]
 *
 * The journey is bench/browser.ts's (a small local page, its <h1> checked). Prints JSON: journeys/s of
 * each and their ratio. Bounded: rounds × 2 × block × concurrency journeys.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadChecks } from '../checks/loader.ts';
import { createBrowserRunner } from '../agent/runners/browser/runner.ts';
import { startTinySite, writeTinyJourney } from './lib/tiny-journey.ts';

const { values } = parseArgs({ options: {
  baseline: { type: 'string' }, concurrency: { type: 'string', default: '1' }, rounds: { type: 'string', default: '8' }, block: { type: 'string', default: '5' },
} });
if (!values.baseline) throw new Error('--baseline <folder of another checkout> is required');
const concurrency = Number(values.concurrency);
const rounds = Math.min(50, Number(values.rounds));
const block = Math.min(50, Number(values.block));
const baseline = resolve(values.baseline);

const site = await startTinySite();
const url = site.url;
const work = mkdtempSync(join(tmpdir(), 'lookout-bench-ab-'));
writeTinyJourney(work, url);

type Runner = { run(definition: unknown, context: unknown): Promise<{ outcome: string }>; close(): Promise<void> };
const other = {
  loadChecks: (await import(pathToFileURL(join(baseline, 'checks', 'loader.ts')).href)).loadChecks as typeof loadChecks,
  createBrowserRunner: (await import(pathToFileURL(join(baseline, 'agent', 'runners', 'browser', 'runner.ts')).href)).createBrowserRunner as (o: unknown) => Runner,
};
const sink = { store: async () => ({ stored: [], notes: [] }) };
const sides = {
  baseline: { runner: other.createBrowserRunner({ concurrency, maxRunsPerBrowser: 100_000, artifactSink: sink }), definition: (await other.loadChecks([work])).checks[0]!.definition },
  current: { runner: createBrowserRunner({ concurrency, maxRunsPerBrowser: 100_000, artifactSink: sink }) as unknown as Runner, definition: (await loadChecks([work])).checks[0]!.definition },
};
const context = () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(Object.assign(new Error('deadline'), { code: 'TIMEOUT' })), 15_000).unref();
  return { region: 'local', agentId: 'bench', signal: controller.signal, deadlineAt: Date.now() + 15_000 };
};
const totals = { baseline: { ms: 0, journeys: 0, failures: 0 }, current: { ms: 0, journeys: 0, failures: 0 } };
try {
  // Warm-up: launches, and the sandbox processes of the current side.
  for (const side of Object.values(sides)) await Promise.all(Array.from({ length: concurrency }, () => side.runner.run(side.definition, context())));
  for (let round = 0; round < rounds; round++) {
    for (const name of (round % 2 === 0 ? ['baseline', 'current'] : ['current', 'baseline']) as Array<keyof typeof sides>) {
      const side = sides[name];
      const started = performance.now();
      await Promise.all(Array.from({ length: concurrency }, async () => {
        for (let i = 0; i < block; i++) {
          if ((await side.runner.run(side.definition, context())).outcome === 'pass') totals[name].journeys++;
          else totals[name].failures++;
        }
      }));
      totals[name].ms += performance.now() - started;
    }
  }
} finally {
  await Promise.all(Object.values(sides).map((side) => side.runner.close()));
  site.close();
  rmSync(work, { recursive: true, force: true });
}
const perSecond = (name: keyof typeof sides): number => Math.round((totals[name].journeys / (totals[name].ms / 1000)) * 1000) / 1000;
console.log(JSON.stringify({ concurrency, rounds, block, baseline: { perSecond: perSecond('baseline'), ...totals.baseline }, current: { perSecond: perSecond('current'), ...totals.current }, ratio: Math.round((perSecond('current') / perSecond('baseline')) * 1000) / 1000 }));
