/**
 * Browser journeys end to end: check files loaded by the real loader, run by the browser runner on the
 * system Chromium against a local site, artifacts stored in a real Redis and read back through the
 * coordinator's artifact reader.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../checks/contract.ts';
import { createRedisArtifactSink } from '../../agent/artifacts/store.ts';
import { runCheckOnce } from '../../agent/runs/local.ts';
import { runnerTable } from '../../agent/runners/index.ts';
import { createBrowserRunner, type BrowserRunner } from '../../agent/runners/browser/runner.ts';
import { createArtifactReader, type ArtifactReader } from '../../coordinator/http/artifacts.ts';
import { browserCheck, removeProjects } from '../support/browser-checks.ts';
import { startTestSite, type TestSite } from '../support/pages.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';
import { isAlive } from '../support/processes.ts';
import { waitUntil } from '../support/wait.ts';

let site: TestSite;
let redisServer: TestRedis;
let redis: Redis;
let runner: BrowserRunner;
let reader: ArtifactReader;
const seenPids = new Set<number>();

beforeAll(async () => {
  [site, redisServer] = await Promise.all([startTestSite(), startRedis()]);
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  const prefix = uniquePrefix('browser');
  runner = createBrowserRunner({ concurrency: 2, artifactSink: createRedisArtifactSink(redis, { prefix, minIntervalSeconds: 0 }), secrets: { SHOP_ITEM: 'rocket' } });
  reader = createArtifactReader(redis, { prefix });
}, 30_000);

afterAll(async () => {
  for (const pid of runner.browserPids()) seenPids.add(pid);
  await runner?.close();
  // No Chromium process of this runner outlives its browser (crashpad handlers included).
  await waitUntil('browser processes to exit', () => [...seenPids].every((pid) => !isAlive(pid)), 5_000);
  redis?.disconnect();
  removeProjects();
  await Promise.all([redisServer?.stop(), site?.close()]);
}, 30_000);

const run = async (body: string, timeout?: string): Promise<RunResult> => {
  // Each test's check is new: it takes the warm sandbox, which another replaces. Starting that is not what
  // these tests are about (the budget it costs is: test/browser/sandbox-decisions.test.ts, blameLostBudget).
  await runner.warmUp();
  const result = await runCheckOnce(await browserCheck(`j-${Math.random().toString(36).slice(2, 8)}`, body, { timeout }), { runners: runnerTable({ browser: runner.run }) });
  for (const pid of runner.browserPids()) seenPids.add(pid);
  return result;
};

/**
 * Script text: waits until the page's first contentful paint has been observed, and for the observers
 * that saw it before this one (Lookout's) to have run. The DOM holds a page's text before Chromium paints
 * it, more so on a loaded machine: a journey that ends right after its last expectation can end before
 * its last page painted, and then that page's FCP and LCP are rightly null (the page never painted
 * during the run).
 */
const UNTIL_PAINTED = `await page.evaluate(() => new Promise((resolve) => new PerformanceObserver((list, observer) => {
  if (list.getEntriesByName('first-contentful-paint').length === 0) return;
  observer.disconnect();
  setTimeout(resolve, 0);
}).observe({ type: 'paint', buffered: true })));`;

const artifactNames = (result: RunResult): string[] => (result.browser?.artifacts ?? []).map((a) => a.name).sort();

describe('browser journeys', () => {
  it('passes a multi-step journey, with step timings, page loads, web vitals, console errors and failed requests', async () => {
    const result = await run(`
      await step('open home', () => page.goto('${site.url}/'));
      await step('see title', async () => {
        await expect(page).toHaveTitle('Acme Shop');
        ${UNTIL_PAINTED}
      });
      await step('go to products', async () => {
        await page.click('#products');
        await expect(page).toHaveURL(/\\/products$/);
        await expect(page.locator('li.p')).toHaveCount(3);
        await expect(page.locator('#late')).toHaveText('Deals loaded');
      });
      await step('add to cart', async () => {
        await page.fill('input[name=item]', secrets.SHOP_ITEM);
        await page.click('#add');
        await expect(page.locator('#count')).toContainText('1 item');
        ${UNTIL_PAINTED}
      });
    `, '20s'); // The file's first run also launches the browser, within the run's deadline: not what is tested here.
    expect(result.outcome, JSON.stringify(result.error)).toBe('pass');
    expect(result.error).toBeNull();
    const browser = result.browser!;
    expect(browser.steps.map((s) => [s.name, s.status])).toEqual([
      ['open home', 'passed'], ['see title', 'passed'], ['go to products', 'passed'], ['add to cart', 'passed'],
    ]);
    expect(browser.steps.every((s) => s.durationMs > 0)).toBe(true);
    // The late element appears after 300 ms, so that step waited for it.
    expect(browser.steps[2]!.durationMs).toBeGreaterThanOrEqual(250);
    expect(browser.failedStep).toBeNull();
    expect(browser.pageLoads.map((p) => new URL(p.url).pathname)).toEqual(['/', '/products', '/cart']);
    // Every page painted before the journey left it (/products waited for its late element; the others
    // wait for their first paint), so every page load has its web vitals.
    for (const load of browser.pageLoads) {
      expect(load.ttfbMs).toBeGreaterThan(0);
      expect(load.fcpMs).toBeGreaterThan(0);
      expect(load.lcpMs).toBeGreaterThanOrEqual(load.fcpMs!);
      expect(load.cls).toBeGreaterThanOrEqual(0);
    }
    expect(browser.pageLoads[0]!.loadMs).toBeGreaterThan(0);
    expect(browser.consoleErrors).toContainEqual(expect.stringContaining('analytics failed to load'));
    expect(browser.failedRequests).toContainEqual({ url: `${site.url}/missing.png`, method: 'GET', failure: 'HTTP 404' });
    expect(browser.artifacts).toEqual([]);
    expect(result.timings!.totalMs).toBeGreaterThan(0);
    expect(site.hits.get('/cart')).toBeGreaterThanOrEqual(1);
  }, 40_000);

  it('fails a wrong assertion with ASSERTION_FAILED, the failing step, and a screenshot, trace and HAR', async () => {
    const result = await run(`
      await step('open home', () => page.goto('${site.url}/'));
      await step('check heading', () => expect(page.locator('h1')).toHaveText('Closed for holidays', { timeout: 600 }));
      await step('never reached', () => page.goto('${site.url}/cart'));
    `);
    expect(result.outcome).toBe('fail');
    expect(result.error!.code).toBe('ASSERTION_FAILED');
    expect(result.error!.message).toMatch(/^step "check heading": expect\(.*h1.*\)\.toHaveText\("Closed for holidays"\) failed after 600ms; received "Acme Shop"/);
    expect(result.browser!.failedStep).toBe('check heading');
    expect(result.browser!.steps.map((s) => s.name)).toEqual(['open home', 'check heading']);
    // The failing request's URL, address and edge (none here), for the evidence of why a region fails.
    // The HTTP version stays null: Playwright does not say which protocol Chromium spoke.
    expect(result.network).toMatchObject({ url: `${site.url}/missing.png`, resolver: 'browser', connectedAddress: '127.0.0.1', httpVersion: null, edge: [] });
    expect(artifactNames(result)).toEqual(['network.har', 'screenshot.png', 'trace.zip']);

    const runId = result.browser!.runId;
    const screenshot = await reader.read(runId, 'screenshot.png');
    expect(screenshot.contentType).toBe('image/png');
    expect(screenshot.data.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    const trace = await reader.read(runId, 'trace.zip');
    expect(trace.data.subarray(0, 2).toString()).toBe('PK');
    const har = JSON.parse((await reader.read(runId, 'network.har')).data.toString());
    expect(har.log.entries.map((e: { request: { url: string } }) => e.request.url)).toContain(`${site.url}/`);
    expect((await reader.list(runId)).map((a) => a.name)).toEqual(['network.har', 'screenshot.png', 'trace.zip']);
    expect(result.browser!.artifacts.find((a) => a.name === 'screenshot.png')!.bytes).toBe(screenshot.bytes);
  }, 30_000);

  it('stops a script that never resolves at its timeout: TIMEOUT, the running step, screenshot and trace', async () => {
    const started = Date.now();
    const result = await run(`
      await step('open home', () => page.goto('${site.url}/'));
      await step('wait forever', () => new Promise(() => {}));
    `, '8s'); // Room for 'open home' and for the 2 s teardown reserve on a loaded machine: the timeout of the step after it is what is tested.
    const took = Date.now() - started;
    expect(result.outcome).toBe('fail');
    expect(result.error!.code).toBe('TIMEOUT');
    expect(result.error!.message).toMatch(/^step "wait forever": script did not finish within \d+ms/);
    expect(result.browser!.failedStep).toBe('wait forever');
    expect(result.browser!.steps.at(-1)).toMatchObject({ name: 'wait forever', status: 'failed', error: "stopped at the run's timeout" });
    expect(artifactNames(result)).toEqual(['network.har', 'screenshot.png', 'trace.zip']);
    // Stopped before the 8 s deadline (teardown reserve), and the whole run ended within deadline + a little.
    expect(result.endedAt - result.startedAt).toBeLessThan(8_000 + 1_000);
    expect(took).toBeLessThan(15_000);
  }, 30_000);

  it('stops an async loop that awaits the page, and the loop does not go on after the run', async () => {
    const ticks = (): number => site.hits.get('/tiny') ?? 0;
    const result = await run(`
      await page.goto('${site.url}/tiny');
      await step('poll forever', async () => {
        for (;;) { await page.evaluate(() => fetch('/tiny')).catch(() => {}); await new Promise((r) => setTimeout(r, 20)); }
      });
    `, '6s');
    expect(result.outcome).toBe('fail');
    expect(result.error!.code).toBe('TIMEOUT');
    expect(result.browser!.failedStep).toBe('poll forever');
    const after = ticks();
    expect(after).toBeGreaterThan(1);
    // Its sandbox process was killed (a timed-out run's process is never reused) and its relay connection closed.
    // A loop that stopped gives no event to await; one still running fetches every 20 ms, so 500 ms (25 of its periods) shows it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(ticks()).toBe(after);
  }, 30_000);

  it('fails a script that throws with SCRIPT_ERROR, its message and its step', async () => {
    const result = await run(`
      await step('open home', () => page.goto('${site.url}/'));
      await step('explode', async () => { throw new TypeError('cart is undefined'); });
    `);
    expect(result.outcome).toBe('fail');
    expect(result.error).toEqual({ code: 'SCRIPT_ERROR', message: 'step "explode": cart is undefined' });
    expect(result.browser!.failedStep).toBe('explode');
    expect(artifactNames(result)).toContain('screenshot.png');
  }, 30_000);

  it('fails with SECRET_MISSING naming a secret the agent does not have', async () => {
    const result = await run(`await page.fill('input', secrets.MISSING_PASSWORD);`);
    expect(result.outcome).toBe('fail');
    expect(result.error).toEqual({
      code: 'SECRET_MISSING',
      message: 'secret "MISSING_PASSWORD" is not set on this agent (set LOOKOUT_SECRET_MISSING_PASSWORD or add it to the agent\'s --secrets-file)',
    });
  }, 30_000);

  it('reports a run that gets no browser slot before its deadline as BROWSER_CAPACITY, not a target failure', async () => {
    const single = createBrowserRunner({ concurrency: 1 });
    try {
      await single.warmUp();
      const long = await browserCheck('long', `await page.goto('${site.url}/tiny'); await page.waitForTimeout(2_500);`);
      const short = await browserCheck('short', `await page.goto('${site.url}/tiny');`, { timeout: '1s' });
      const holding = runCheckOnce(long, { runners: runnerTable({ browser: single.run }) });
      await waitUntil('the first run to hold the slot', () => single.stats().activeRuns === 1, 10_000);
      const starved = await runCheckOnce(short, { runners: runnerTable({ browser: single.run }) });
      expect(starved.outcome).toBe('error');
      expect(starved.error).toEqual({ code: 'BROWSER_CAPACITY', message: "no browser slot was free (concurrency 1) before the run's deadline" });
      expect((await holding).outcome).toBe('pass');
      expect(single.stats().waiting).toBe(0);
    } finally {
      await single.close();
    }
  }, 30_000);

  it('does not start a run while the system is short of memory, and gives up at the deadline with BROWSER_CAPACITY', async () => {
    const starved = createBrowserRunner({ minAvailableMemoryBytes: 2 ** 50 });
    try {
      const definition = await browserCheck('starved', `await page.goto('${site.url}/tiny');`, { timeout: '1s' });
      const hits = site.hits.get('/tiny') ?? 0;
      const result = await runCheckOnce(definition, { runners: runnerTable({ browser: starved.run }) });
      expect(result.error!.code).toBe('BROWSER_CAPACITY');
      expect(result.error!.message).toMatch(/^the browser could not take the run \(system memory available \d+ MiB is under 1073741824 MiB\) before the run's deadline$/);
      expect(starved.stats().launches).toBe(0);
      expect(site.hits.get('/tiny') ?? 0).toBe(hits);
    } finally {
      await starved.close();
    }
  }, 30_000);

  it('reports a crashed page as an agent error, not a target failure', async () => {
    const result = await run(`
      await step('open home', () => page.goto('${site.url}/'));
      await step('crash the renderer', async () => {
        await page.goto('chrome://crash').catch(() => {});
        await page.waitForTimeout(5_000);
      });
    `);
    expect(result.outcome).toBe('error');
    expect(result.error!.code).toBe('BROWSER_CRASHED');
    expect(result.error!.message).toMatch(/page crashed/);
    // The browser itself survived and serves the next run.
    const next = await run(`await page.goto('${site.url}/tiny');`);
    expect(next.outcome, JSON.stringify(next.error)).toBe('pass');
  }, 30_000);

  it('reports a browser killed mid-run as an agent error, relaunches it, and the next run passes', async () => {
    const definition = await browserCheck('killed', `
      await step('open products', () => page.goto('${site.url}/products'));
      await step('linger', async () => {
        await page.evaluate(() => fetch('/linger-started'));
        await page.waitForTimeout(20_000);
      });
    `, { timeout: '25s' });
    const before = runner.stats();
    const lingering = site.hits.get('/linger-started') ?? 0;
    const running = runCheckOnce(definition, { runners: runnerTable({ browser: runner.run }) });
    await waitUntil('the run to reach its "linger" step', () => (site.hits.get('/linger-started') ?? 0) > lingering, 10_000);
    const victim = runner.stats().browserPid!;
    const victimTree = runner.browserPids();
    expect(victimTree.length).toBeGreaterThan(1);
    process.kill(victim, 'SIGKILL');
    const result = await running;
    expect(result.outcome).toBe('error');
    expect(result.error!.code).toBe('BROWSER_CRASHED');
    expect(result.browser!.failedStep).toBe('linger');
    expect(runner.stats().crashes).toBe(before.crashes + 1);
    // Every process of the dead browser is gone, not just the one we killed.
    await waitUntil('the killed browser tree to exit', () => victimTree.every((pid) => !isAlive(pid)), 5_000);

    const next = await run(`await page.goto('${site.url}/tiny'); await expect(page.locator('h1')).toHaveText('ok');`);
    expect(next.outcome, JSON.stringify(next.error)).toBe('pass');
    expect(runner.stats().browserPid).not.toBe(victim);
    expect(runner.stats().launches).toBe(before.launches + 1);
  }, 40_000);
});
