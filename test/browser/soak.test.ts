/**
 * Many journeys in a row on one runner: no growth in the browser's process count nor in its sandbox
 * processes, bounded RSS growth, and recycling (after N runs, past an RSS ceiling) that leaves no process
 * of the old browser behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserCheckDefinition } from '../../checks/contract.ts';
import { createDirectoryArtifactSink } from '../../agent/artifacts/sink.ts';
import type { RunContext } from '../../agent/runners/types.ts';
import { createBrowserRunner, type BrowserRunner } from '../../agent/runners/browser/runner.ts';
import { rssBytes, treeRssBytes } from '../../agent/runners/browser/process-tree.ts';
import { browserCheck, removeProjects, writeProject } from '../support/browser-checks.ts';
import { startTestSite, type TestSite } from '../support/pages.ts';
import { isAlive } from '../support/processes.ts';
import { waitUntil } from '../support/wait.ts';

/**
 * A leak of a process per run shows after a handful of runs (the bound is one process); a leak of memory
 * per run is what needs the count. Memory is measured on the processes that live through the whole soak
 * (the browser, its GPU and utility processes: where a leak accumulates), not on renderers, which come
 * and go with each run's context and made the old whole-tree figure swing by a renderer's size (up to
 * ~90 MiB) from one idle moment to the next. So 100 journeys with a 60 MiB bound catch the same 0.6 MiB
 * per run as the 200 journeys and 120 MiB this test used to take, in half the time.
 */
const JOURNEYS = 100;
/**
 * A safety net, not a speed claim (speed is measured in bench/browser.ts): the loop runs all the
 * journeys unless this much time passes first, which then fails the test saying how far it got.
 * A journey takes ~0.4 s on an idle 2-core machine and ~1 s on one loaded by other work.
 */
const TIME_BOUND_MS = 200_000;
/** Growth of the summed RSS of the processes alive from after warm-up to the end (0.6 MiB per journey). */
const RSS_GROWTH_BOUND = 60 * 1024 * 1024;
/** How long the tree may take to come down to its bound once the runs are over (renderers exit late under load). */
const SETTLE_MS = 20_000;
const MiB = 1024 * 1024;

let site: TestSite;
let journey: BrowserCheckDefinition;

beforeAll(async () => {
  site = await startTestSite();
  journey = await browserCheck('tiny', `
    await step('open', () => page.goto('${site.url}/tiny'));
    await step('check', () => expect(page.locator('h1')).toHaveText('ok'));
  `);
});
afterAll(async () => {
  removeProjects();
  await site?.close();
});

const runOnce = (runner: BrowserRunner, definition = journey) => {
  const controller = new AbortController();
  const context: RunContext = { region: 'local', agentId: 'soak', signal: controller.signal, deadlineAt: Date.now() + definition.timeoutMs };
  const timer = setTimeout(() => controller.abort(Object.assign(new Error('deadline'), { code: 'TIMEOUT' })), definition.timeoutMs);
  return runner.run(definition, context).finally(() => clearTimeout(timer));
};

/** Waits for the tree to be still for 300 ms (renderers of closed contexts exit asynchronously), then measures it. */
async function idleTree(runner: BrowserRunner): Promise<{ processes: number; rss: number; pids: number[] }> {
  let last = -1;
  let stableSince = Date.now();
  // Still or not after 3 s, the tree is measured as it is (a timeout is no failure here).
  await waitUntil('a Chromium tree still for 300 ms', () => {
    const count = runner.browserPids().length;
    if (count !== last) { last = count; stableSince = Date.now(); }
    return Date.now() - stableSince >= 300;
  }, 3_000, 50).catch(() => {});
  const pids = runner.browserPids();
  return { processes: pids.length, rss: treeRssBytes(pids), pids };
}

/**
 * The tree once its count is at or under `bound` (a loaded machine exits the last runs' renderers late),
 * or as it is at the deadline, for the assertion to report.
 */
async function settledTree(runner: BrowserRunner, bound: number): Promise<{ processes: number; rss: number; pids: number[] }> {
  // A timeout is no failure here: the tree as it is then goes to the assertion, which names it.
  await waitUntil(`at most ${bound} Chromium processes`, () => runner.browserPids().length <= bound, SETTLE_MS, 100).catch(() => {});
  const pids = runner.browserPids();
  return { processes: pids.length, rss: treeRssBytes(pids), pids };
}

describe('browser soak', () => {
  it(`runs ${JOURNEYS} journeys in a row with no growth in Chromium processes and bounded RSS growth`, async () => {
    // Artifacts on (tracing and HAR every run), as on an agent; recycling off to watch one browser age.
    const runner = createBrowserRunner({ concurrency: 1, maxRunsPerBrowser: 10_000, artifactSink: createDirectoryArtifactSink(writeProject({})) });
    await runner.warmUp();
    const started = Date.now();
    try {
      let done = 0;
      const failures: string[] = [];
      const peak = { processes: 0, sandboxes: 0 };
      /** One journey after another until `count` journeys or the time bound. */
      const journeys = async (count: number): Promise<void> => {
        while (done < count && Date.now() - started < TIME_BOUND_MS) {
          done++;
          const result = await runOnce(runner);
          if (result.outcome !== 'pass') failures.push(`${result.error?.code}: ${result.error?.message}`);
          peak.processes = Math.max(peak.processes, runner.browserPids().length);
          peak.sandboxes = Math.max(peak.sandboxes, runner.sandboxPids().length);
        }
      };
      // Warm-up: the first runs grow caches and pools that then stay.
      await journeys(20);
      const warm = await idleTree(runner);
      // The browser's processes and the check's sandbox (reused run after run: a leak there counts too).
      const warmRss = new Map([...warm.pids, ...runner.sandboxPids()].map((pid) => [pid, rssBytes(pid)]));
      await journeys(JOURNEYS);
      // A leak would add a process per run; +1 allows for Chromium's spare renderer, up at one idle moment and not another.
      const end = await settledTree(runner, warm.processes + 1);
      // The processes alive at warm-up and at the end (a renderer of the warm moment that exited drops out of both).
      const survivors = [...end.pids, ...runner.sandboxPids()].filter((pid) => warmRss.has(pid));
      const growth = survivors.reduce((sum, pid) => sum + rssBytes(pid) - warmRss.get(pid)!, 0);
      const seconds = (Date.now() - started) / 1000;
      console.log(`soak: ${done} journeys in ${seconds.toFixed(1)}s (${(done / seconds).toFixed(1)}/s); processes ${warm.processes} → ${end.processes} (peak ${peak.processes}); sandboxes peak ${peak.sandboxes}; tree RSS ${Math.round(warm.rss / MiB)} → ${Math.round(end.rss / MiB)} MiB; lasting processes (${survivors.length}) grew ${Math.round(growth / MiB)} MiB`);
      expect(failures).toEqual([]);
      expect(done, `only ${done} of ${JOURNEYS} journeys within ${TIME_BOUND_MS / 1000} s`).toBe(JOURNEYS);
      expect(runner.stats().launches).toBe(1);
      expect(end.processes).toBeLessThanOrEqual(warm.processes + 1);
      // One check: its own sandbox, reused run after run, and the warm one for the next check; never more.
      expect(peak.sandboxes).toBeLessThanOrEqual(2);
      expect(runner.stats().sandboxes.spawned).toBeLessThanOrEqual(3);
      // The run's renderer, the spare renderer, and renderers of earlier runs still exiting (a few on a
      // loaded machine): bounded, whatever the number of runs.
      expect(peak.processes).toBeLessThanOrEqual(warm.processes + 5);
      expect(survivors.length).toBeGreaterThan(0);
      expect(growth).toBeLessThan(RSS_GROWTH_BOUND);
    } finally {
      await runner.close();
    }
  }, TIME_BOUND_MS + SETTLE_MS + 30_000);

  it('recycles the browser after N runs and past its RSS ceiling, leaving no process of the old one', async () => {
    const byCount = createBrowserRunner({ concurrency: 1, maxRunsPerBrowser: 3 });
    const byRss = createBrowserRunner({ concurrency: 1, maxBrowserRssBytes: 64 * MiB });
    const oldTrees: number[] = [];
    try {
      for (let i = 0; i < 7; i++) {
        const result = await runOnce(byCount);
        expect(result.outcome, JSON.stringify(result.error)).toBe('pass');
        oldTrees.push(...byCount.browserPids());
      }
      // Runs 1-3, 4-6, 7: two recycles, three launches.
      expect(byCount.stats()).toMatchObject({ launches: 3, recycles: 2, crashes: 0, runsOnBrowser: 1 });

      for (let i = 0; i < 2; i++) {
        expect((await runOnce(byRss)).outcome).toBe('pass');
        oldTrees.push(...byRss.browserPids());
      }
      // A whole browser tree is far over 64 MiB, so the second run needed a fresh browser.
      expect(byRss.stats()).toMatchObject({ launches: 2, recycles: 1 });
    } finally {
      await Promise.all([byCount.close(), byRss.close()]);
    }
    await waitUntil('every recycled browser process to exit', () => oldTrees.every((pid) => !isAlive(pid)), 5_000);
  }, 60_000);
});
