/** The browser runner's pure decisions, table-tested: admission, error codes, import policy, budgets, steps. */
import { describe, expect, it } from 'vitest';
import { BrowserCheckDefinition, CheckDefinition, RunResult, SCHEMA_VERSION } from '../../checks/contract.ts';
import { disallowedImportReason } from '../../checks/import-policy.ts';
import { decideAdmission, type AdmissionState } from '../../agent/runners/browser/admission.ts';
import { classifyScriptError } from '../../agent/runners/browser/errors.ts';
import { ExpectationError, RunStoppedError } from '../../agent/runners/browser/expect.ts';
import { judge } from '../../agent/runners/browser/journey.ts';
import { chromiumArgs, resolveBrowserOptions, scriptBudgetMs } from '../../agent/runners/browser/options.ts';
import { browserTree, findBrowserPid, parseStat, type ProcessInfo } from '../../agent/runners/browser/process-tree.ts';
import { Semaphore } from '../../agent/runners/browser/semaphore.ts';
import { StepRecorder } from '../../agent/runners/browser/steps.ts';
import { planArtifacts } from '../../agent/artifacts/sink.ts';

const MiB = 1024 * 1024;
const limits = { maxRunsPerBrowser: 100, maxBrowserRssBytes: 1024 * MiB, minAvailableMemoryBytes: 256 * MiB };
const state = (patch: Partial<AdmissionState>): AdmissionState => ({ browserUp: true, runsOnBrowser: 5, activeRuns: 0, treeRssBytes: 300 * MiB, memAvailableBytes: 4096 * MiB, ...patch });

describe('decideAdmission', () => {
  it.each<[string, Partial<AdmissionState>, string]>([
    ['a healthy browser', {}, 'start'],
    ['no browser yet (launches)', { browserUp: false, runsOnBrowser: 0, treeRssBytes: 0 }, 'start'],
    ['the run limit reached', { runsOnBrowser: 100 }, 'recycle'],
    ['one run under the limit', { runsOnBrowser: 99 }, 'start'],
    ['the tree over its RSS ceiling', { treeRssBytes: 1025 * MiB }, 'recycle'],
    ['the tree at its ceiling', { treeRssBytes: 1024 * MiB }, 'start'],
    ['the system short of memory', { memAvailableBytes: 100 * MiB }, 'wait'],
    ['short of memory with no browser', { browserUp: false, memAvailableBytes: 100 * MiB }, 'wait'],
    ['over the ceiling and short of memory: recycling frees memory first', { treeRssBytes: 2048 * MiB, memAvailableBytes: 100 * MiB }, 'recycle'],
  ])('%s → %s', (_name, patch, action) => {
    expect(decideAdmission(state(patch), limits).action).toBe(action);
  });

  it('says why', () => {
    expect(decideAdmission(state({ treeRssBytes: 1500 * MiB }), limits)).toEqual({ action: 'recycle', reason: 'browser tree RSS 1500 MiB is over 1024 MiB' });
  });
});

describe('classifyScriptError', () => {
  const timeoutError = Object.assign(new Error('page.click: Timeout 5000ms exceeded.'), { name: 'TimeoutError' });
  it.each<[string, unknown, string | null, string, string]>([
    ['a failed expect', new ExpectationError('expect(page).toHaveTitle("x") failed'), 'login', 'ASSERTION_FAILED', 'step "login": expect(page).toHaveTitle("x") failed'],
    ['a Playwright timeout', timeoutError, null, 'TIMEOUT', 'page.click: Timeout 5000ms exceeded.'],
    ['a refused navigation', new Error('page.goto: net::ERR_CONNECTION_REFUSED at http://127.0.0.1:9/'), 'open', 'CONNECT_REFUSED', 'step "open": page.goto: net::ERR_CONNECTION_REFUSED at http://127.0.0.1:9/'],
    ['an unknown host', new Error('page.goto: net::ERR_NAME_NOT_RESOLVED at http://nope.invalid/'), null, 'DNS_NXDOMAIN', 'page.goto: net::ERR_NAME_NOT_RESOLVED at http://nope.invalid/'],
    ['an expired certificate', new Error('net::ERR_CERT_DATE_INVALID'), null, 'TLS_CERT_EXPIRED', 'net::ERR_CERT_DATE_INVALID'],
    ['another TLS error', new Error('net::ERR_SSL_PROTOCOL_ERROR'), null, 'TLS_FAILURE', 'net::ERR_SSL_PROTOCOL_ERROR'],
    ['another network error', new Error('net::ERR_ABORTED'), null, 'REQUEST_FAILED', 'net::ERR_ABORTED'],
    ['a bug in the script', new TypeError('x is undefined'), 'cart', 'SCRIPT_ERROR', 'step "cart": x is undefined'],
    ['a thrown string', 'oops', null, 'SCRIPT_ERROR', 'non-error thrown: oops'],
  ])('%s → %s', (_name, error, step, code, message) => {
    expect(classifyScriptError(error, step)).toEqual({ code, message });
  });

  it('caps long messages', () => {
    expect(classifyScriptError(new Error('x'.repeat(5000)), 'a').message).toHaveLength(2000);
  });
});

describe('judge', () => {
  it.each<[string, Parameters<typeof judge>[0], string, string | null]>([
    ['a finished script', { kind: 'done' }, 'pass', null],
    ['a script stopped at its deadline', { kind: 'timeout' }, 'fail', 'TIMEOUT'],
    ['a script that hit the stopped run', { kind: 'threw', error: new RunStoppedError('the run was stopped') }, 'fail', 'TIMEOUT'],
    ['a browser crash', { kind: 'crashed', reason: 'page crashed' }, 'error', 'BROWSER_CRASHED'],
    ['a shutdown', { kind: 'cancelled' }, 'error', 'RUN_CANCELLED'],
    ['a failed expect', { kind: 'threw', error: new ExpectationError('no') }, 'fail', 'ASSERTION_FAILED'],
  ])('%s → %s %s', (_name, ending, outcome, code) => {
    const verdict = judge(ending, 'step one', 8_000);
    expect(verdict.outcome).toBe(outcome);
    expect(verdict.error?.code ?? null).toBe(code);
  });
});

describe('disallowedImportReason', () => {
  it.each<[string, boolean]>([
    ['./helpers.ts', true], ['../shared/x.ts', true], ['/abs/path.ts', true],
    ['lookout/checks', true], ['lookout', true],
    ['node:crypto', true], ['crypto', true], ['node:url', true], ['path', true],
    ['fs/promises', false], ['node:fs', false], ['node:child_process', false], ['net', false], ['node:worker_threads', false], ['node:os', false], ['vm', false],
    ['dayjs', false], ['@acme/helpers', false], ['lodash/get', false],
    ['playwright-core', false], ['playwright', false], ['@playwright/test', false],
  ])('%s allowed: %s', (specifier, allowed) => {
    expect(disallowedImportReason(specifier) === undefined).toBe(allowed);
  });
  it.each(['dynamic-import', 'require-call', 'require-resolve'])('refuses a %s of anything bare, even an allowed built-in', (kind) => {
    expect(disallowedImportReason('node:crypto', kind)).toMatch(/is not allowed in a browser check: what it loads is only known when it runs/);
    expect(disallowedImportReason('./local.ts', kind)).toBeUndefined();
  });
});

describe('options', () => {
  it('applies defaults', () => {
    expect(resolveBrowserOptions()).toMatchObject({ executablePath: '/usr/bin/chromium', concurrency: 2, maxRunsPerBrowser: 100, closeTimeoutMs: 5_000, artifacts: true, secrets: {} });
  });
  it('lists every bad option at once', () => {
    expect(() => resolveBrowserOptions({ concurrency: 0, maxBrowserRssBytes: 10, extraArgs: ['no-dashes'], secrets: { 'bad name': 'x' } }))
      .toThrow(/browser\.concurrency: [\s\S]*browser\.maxBrowserRssBytes: [\s\S]*browser\.secrets\["bad name"\]: [\s\S]*browser\.extraArgs\[0\]: /);
  });
  it('launches Chromium quietly, with --no-sandbox only as root', () => {
    const args = chromiumArgs({ extraArgs: ['--lang=de'], marker: '/tmp/m', runningAsRoot: false });
    expect(args).toEqual(['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-gpu', '--disable-quic', '--crash-dumps-dir=/tmp/m', '--lang=de']);
    expect(chromiumArgs({ extraArgs: [], marker: '/tmp/m', runningAsRoot: true })).toContain('--no-sandbox');
  });
  it.each([
    [10_000, 10_000, 2_000, 8_000],
    [2_000, 2_000, 2_000, 1_500],
    [3_000, 10_000, 2_000, 1_000],
    [500, 10_000, 2_000, 0],
  ])('time left %i of timeout %i, reserve %i → script gets %i ms', (left, timeout, reserve, budget) => {
    expect(scriptBudgetMs(left, timeout, reserve)).toBe(budget);
  });
});

describe('process tree', () => {
  it('parses /proc/<pid>/stat, even with spaces and parentheses in the name', () => {
    expect(parseStat('4242 (Web Content (x)) S 17 4242 4242 0 -1')).toEqual({ ppid: 17, pgid: 4242 });
    expect(parseStat('garbage')).toBeUndefined();
  });
  it('finds the browser by marker and its tree by process group plus marker', () => {
    const processes: ProcessInfo[] = [
      { pid: 100, ppid: 1, pgid: 100, cmdline: 'node agent.ts' },
      { pid: 200, ppid: 100, pgid: 200, cmdline: '/usr/lib/chromium/chromium --crash-dumps-dir=/tmp/lookout-chromium-A' },
      { pid: 201, ppid: 1, pgid: 200, cmdline: '/usr/lib/chromium/chromium --type=zygote' },
      { pid: 205, ppid: 201, pgid: 200, cmdline: '/usr/lib/chromium/chromium --type=renderer' },
      { pid: 210, ppid: 1, pgid: 209, cmdline: 'chrome_crashpad_handler --database=/tmp/lookout-chromium-A/chromium/Crash Reports' },
      { pid: 300, ppid: 100, pgid: 300, cmdline: '/usr/lib/chromium/chromium --crash-dumps-dir=/tmp/lookout-chromium-B' },
      { pid: 310, ppid: 1, pgid: 309, cmdline: 'chrome_crashpad_handler --database=/tmp/lookout-chromium-B/chromium/Crash Reports' },
    ];
    expect(findBrowserPid('/tmp/lookout-chromium-A', 100, processes)).toBe(200);
    expect(findBrowserPid('/tmp/lookout-chromium-A', 999, processes)).toBeUndefined();
    expect(browserTree(200, '/tmp/lookout-chromium-A', processes)).toEqual([200, 201, 205, 210]);
  });
});

describe('Semaphore', () => {
  it('grants in order, and a waiter whose signal aborts leaves the queue', async () => {
    const semaphore = new Semaphore(1);
    const first = await semaphore.acquire();
    const order: string[] = [];
    const controller = new AbortController();
    const second = semaphore.acquire(controller.signal).then(() => order.push('second'), (e: Error) => order.push(`second aborted: ${e.message}`));
    const third = semaphore.acquire().then((release) => { order.push('third'); release(); });
    expect(semaphore.waiting).toBe(2);
    controller.abort(new Error('deadline'));
    first();
    await Promise.all([second, third]);
    expect(order).toEqual(['second aborted: deadline', 'third']);
    expect(semaphore.available).toBe(1);
  });
  it('refuses bad sizes', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});

describe('StepRecorder', () => {
  it('names nested steps, keeps the innermost failure, and records running steps when stopped', async () => {
    const recorder = new StepRecorder();
    await recorder.step('open', async () => {});
    await expect(recorder.step('checkout', () => recorder.step('pay', async () => { throw new Error('declined'); }))).rejects.toThrow('declined');
    const hanging = recorder.step('wait', () => new Promise(() => {}));
    hanging.catch(() => {});
    await Promise.resolve();
    recorder.stop("stopped at the run's timeout");
    expect(recorder.steps.map((s) => [s.name, s.status, s.error])).toEqual([
      ['open', 'passed', undefined],
      ['checkout › pay', 'failed', 'declined'],
      ['checkout', 'failed', 'declined'],
      ['wait', 'failed', "stopped at the run's timeout"],
    ]);
    expect(recorder.failedStep).toBe('checkout › pay');
    await expect(recorder.step('after', async () => {})).rejects.toBeInstanceOf(RunStoppedError);
  });
  it('keeps parents apart for steps run side by side', async () => {
    const recorder = new StepRecorder();
    await Promise.all([
      recorder.step('a', () => recorder.step('inner', () => new Promise((r) => setTimeout(r, 5)))),
      recorder.step('b', () => recorder.step('inner', () => new Promise((r) => setTimeout(r, 1)))),
    ]);
    expect(recorder.steps.map((s) => s.name).sort()).toEqual(['a', 'a › inner', 'b', 'b › inner']);
  });
});

describe('planArtifacts', () => {
  const artifact = (name: string, bytes: number) => ({ name, contentType: 'application/octet-stream', data: Buffer.alloc(bytes) });
  it('skips what is over the per-artifact cap or would pass the per-run cap, with a note each', () => {
    const plan = planArtifacts([artifact('screenshot.png', 50), artifact('trace.zip', 500), artifact('network.har', 80), artifact('x.bin', 30)], 100, 150);
    expect(plan.keep.map((a) => a.name)).toEqual(['screenshot.png', 'network.har']);
    expect(plan.notes).toEqual([
      'trace.zip not stored: 500 bytes is over the 100-byte cap',
      "x.bin not stored: the run's artifacts would pass 150 bytes",
    ]);
  });
});

describe('browser contract', () => {
  const definition = {
    type: 'browser', id: 'journey', name: 'Journey', regions: ['us-east'], frequencyMs: 60_000, timeoutMs: 30_000,
    script: { bundle: 'export default 1;', file: 'journey.check.ts' },
  };
  it('accepts a browser check in the definition union and rejects bad ones', () => {
    expect(CheckDefinition.parse(definition).type).toBe('browser');
    expect(BrowserCheckDefinition.safeParse({ ...definition, timeoutMs: 500 }).success).toBe(false);
    expect(BrowserCheckDefinition.safeParse({ ...definition, script: { bundle: '', file: 'x' } }).success).toBe(false);
    expect(CheckDefinition.safeParse({ ...definition, type: 'ftp' }).success).toBe(false);
  });
  it('accepts browser details on a result, and results without them', () => {
    const base = {
      schemaVersion: SCHEMA_VERSION, checkId: 'journey', checkVersion: 1, region: 'us-east', agentId: 'a', trigger: 'schedule',
      scheduledAt: 1, startedAt: 2, endedAt: 3, outcome: 'error', error: { code: 'BROWSER_CRASHED', message: 'gone' },
      timings: null, assertions: [], statusCode: null, responseBytes: null, slot: null,
    };
    expect(RunResult.safeParse(base).success).toBe(true);
    const browser = { runId: 'us-east.r-1', steps: [], failedStep: null, pageLoads: [], consoleErrors: [], failedRequests: [], artifacts: [], artifactNotes: [] };
    expect(RunResult.safeParse({ ...base, browser }).success).toBe(true);
    expect(RunResult.safeParse({ ...base, outcome: 'fail', error: { code: 'SCRIPT_ERROR', message: 'x' }, browser }).success).toBe(true);
    expect(RunResult.safeParse({ ...base, outcome: 'fail', error: { code: 'BROWSER_CRASHED', message: 'x' } }).success).toBe(false);
    expect(RunResult.safeParse({ ...base, browser: { ...browser, runId: 'has space' } }).success).toBe(false);
  });
});
