/**
 * The sandbox's pure parts, table-tested: what the relay refuses, how a run's end becomes its outcome,
 * when a TIMEOUT is the agent's, the sandbox's node flags, which secrets a script reads, what the script
 * policy finds in code, which requests carry a bound secret elsewhere, and the pool's choices (with
 * stand-in processes: the real ones are exercised in sandbox.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { textFindings } from '../../checks/script-policy.ts';
import { scriptSecretNames } from '../../checks/secret-references.ts';
import { deniedSecretOrigin } from '../../agent/secrets/origins.ts';
import { blameLostBudget, endOfRun } from '../../agent/runners/browser/ending.ts';
import { harFromTrace } from '../../agent/runners/browser/har.ts';
import { refusal } from '../../agent/runners/browser/relay.ts';
import { SandboxPool } from '../../agent/runners/browser/sandbox/pool.ts';
import { sandboxArgs, type SandboxProcess } from '../../agent/runners/browser/sandbox/process.ts';

const call = (method: string, params: Record<string, unknown> = {}): string => JSON.stringify({ id: 'a@1', guid: 'browser@1', method, params });

describe('refusal (relay)', () => {
  it.each<[string, string, boolean]>([
    ['a CDP session on the browser (sees every target)', call('newBrowserCDPSession'), true],
    ['a CDP session on a page', call('newCDPSession', { page: { guid: 'page@1' } }), true],
    ['browser-wide tracing', call('startTracing', {}), true],
    ['saving an artifact on the agent\'s disk', call('saveAs', { path: '/etc/cron.d/x' }), true],
    ['uploading a directory from the agent\'s disk', call('setInputFiles', { localDirectory: '/root' }), true],
    ['uploading files from the agent\'s disk', call('setInputFiles', { localPaths: ['/etc/shadow'] }), true],
    ['a trace name that is a path', call('tracingStart', { name: '../../etc/x' }), true],
    ['a launch', call('launch', { executablePath: '/bin/sh' }), true],
    ['a refused method spelt with JSON escapes', '{"id":"a@1","guid":"page@1","method":"newCDP\\u0053ession","params":{}}', true],
    ['not JSON (forwarded: Playwright\'s server drops such a connection)', 'nope', false],
    ['a new context', call('newContext', { recordHar: { content: 'omit' } }), false],
    ['a navigation', call('goto', { url: 'https://example.com/' }), false],
    ['an upload from buffers', call('setInputFiles', { payloads: [{ name: 'a.txt', buffer: 'YQ==' }] }), false],
    ['context tracing with a plain name', call('tracingStart', { name: 'trace_1', snapshots: true }), false],
    ['a streamed artifact (how remote clients save)', call('saveAsStream'), false],
  ])('%s → refused: %s', (_name, text, refused) => {
    expect(refusal(text) !== undefined).toBe(refused);
  });
});

describe('endOfRun', () => {
  const result = (fields: Record<string, unknown>) => ({
    kind: 'result' as const,
    message: { type: 'result' as const, runId: 'r', outcome: 'pass' as const, error: null, details: null, scriptMs: 10, setupMs: 0, artifacts: [], closeHung: false, ...fields },
  });
  it.each<[string, Parameters<typeof endOfRun>[0], boolean, string | null, string, boolean]>([
    ['a pass', result({}), false, null, 'pass', true],
    ['a failed assertion', result({ outcome: 'fail', error: { code: 'ASSERTION_FAILED', message: 'x' } }), false, 'ASSERTION_FAILED', 'fail', true],
    ['a script timeout (it may still run)', result({ outcome: 'fail', error: { code: 'TIMEOUT', message: 'x' } }), false, 'TIMEOUT', 'fail', false],
    ['a failure while the browser went away', result({ outcome: 'fail', error: { code: 'SCRIPT_ERROR', message: 'x' } }), true, 'BROWSER_CRASHED', 'error', false],
    ['a sandbox claiming an agent code for a fail', result({ outcome: 'fail', error: { code: 'BROWSER_CRASHED', message: 'x' } }), false, 'AGENT_INTERNAL', 'error', false],
    ['a sandbox claiming a pass with an error', result({ error: { code: 'TIMEOUT', message: 'x' } }), false, 'AGENT_INTERNAL', 'error', false],
    ['a loop killed past the script deadline', { kind: 'killed', why: 'blocked' }, false, 'TIMEOUT', 'fail', false],
    ['a run killed at its deadline', { kind: 'killed', why: 'deadline' }, false, 'TIMEOUT', 'fail', false],
    ['a teardown killed after the script passed', { kind: 'killed', why: 'deadline', sofar: { type: 'ended', runId: 'r', outcome: 'pass', error: null, details: null, scriptMs: 5, setupMs: 0 } }, false, null, 'pass', false],
    ['a teardown killed after a failed assertion', { kind: 'killed', why: 'deadline', sofar: { type: 'ended', runId: 'r', outcome: 'fail', error: { code: 'ASSERTION_FAILED', message: 'x' }, details: null, scriptMs: 5, setupMs: 0 } }, false, 'ASSERTION_FAILED', 'fail', false],
    ['a shutdown', { kind: 'killed', why: 'cancelled' }, false, 'RUN_CANCELLED', 'error', false],
    ['the script ended its process', { kind: 'exited', started: true, detail: 'exited with code 0' }, false, 'SCRIPT_ERROR', 'fail', false],
    ['the sandbox died before the run', { kind: 'exited', started: false, detail: 'killed by SIGKILL' }, false, 'AGENT_INTERNAL', 'error', false],
  ])('%s', (_name, end, crashed, code, outcome, reusable) => {
    const ending = endOfRun(end, { crashed, budgetMs: 1_000 });
    expect(ending.error?.code ?? null).toBe(code);
    expect(ending.outcome).toBe(outcome);
    expect(ending.reusable).toBe(reusable);
  });
});

describe('blameLostBudget', () => {
  const timeout = { outcome: 'fail' as const, error: { code: 'TIMEOUT' as const, message: 'script did not finish within 100ms' } };
  it.each<[string, typeof timeout | { outcome: 'pass'; error: null }, number, number, string]>([
    ['a timeout after a quick start stays the target\'s', timeout, 40, 10_000, 'TIMEOUT'],
    ['a timeout after a slow launch is the agent\'s', timeout, 8_000, 10_000, 'BROWSER_CAPACITY'],
    ['a small loss under the floor stays the target\'s', timeout, 900, 2_000, 'TIMEOUT'],
    ['a loss under a quarter of the timeout stays the target\'s', timeout, 2_400, 10_000, 'TIMEOUT'],
    ['a pass after a slow launch is a pass', { outcome: 'pass', error: null }, 8_000, 10_000, 'none'],
  ])('%s', (_name, ending, lostMs, timeoutMs, code) => {
    expect(blameLostBudget(ending, lostMs, timeoutMs).error?.code ?? 'none').toBe(code);
  });
});

describe('sandboxArgs', () => {
  it('reads only Lookout\'s browser code and its packages, writes only its folder, runs no code from strings', () => {
    const args = sandboxArgs('/tmp/box', { root: '/app', playwright: '/app/node_modules/playwright-core', zod: '/app/node_modules/zod' });
    expect(args).toContain('--permission');
    expect(args).toContain('--disallow-code-generation-from-strings');
    expect(args.filter((a) => a.startsWith('--allow-fs-write'))).toEqual(['--allow-fs-write=/tmp/box']);
    expect(args.filter((a) => a.startsWith('--allow-') && !a.startsWith('--allow-fs-'))).toEqual([]);
    const reads = args.filter((a) => a.startsWith('--allow-fs-read=')).map((a) => a.slice('--allow-fs-read='.length));
    expect(reads).not.toContain('/app');
    expect(reads.every((path) => path.startsWith('/app/agent/runners/browser') || path.startsWith('/app/node_modules/') || path === '/tmp/box'
      || ['/app/agent/secrets/origins.ts', '/app/lib/bounded.ts', '/app/checks/sdk.ts', '/app/package.json', '/proc/sys/fs/binfmt_misc/WSLInterop', '/run/WSL'].includes(path))).toBe(true);
  });
});

describe('scriptSecretNames', () => {
  it.each<[string, string[]]>([
    ['await page.fill("#p", secrets.SHOP_PASSWORD);', ['SHOP_PASSWORD']],
    ['secrets["API_KEY"] + secrets?.OTHER + secrets?.[\'THIRD\']', ['API_KEY', 'OTHER', 'THIRD']],
    ['async ({ page, secrets: { A, B: b, C = "x" } }) => {}', ['A', 'B', 'C']],
    ['const { TOKEN, ...rest } = secrets;', ['TOKEN']],
    ['secrets[name]; helper(secrets); mySecrets.NOPE', []],
  ])('%s → %j', (code, names) => {
    expect(scriptSecretNames(code)).toEqual(names);
  });
});

describe('textFindings (script policy)', () => {
  it.each<[string, string | null]>([
    ['const x = await import(name);', 'dynamic import()'],
    ['await import("node:fs")', null],
    ['const r = require; __require("fs")', 'require is not allowed'],
    ['globalThis.process.binding("fs")', '"binding"'],
    ['process["_linkedBinding"]("x")', '"_linkedBinding"'],
    ['process.getBuiltinModule("fs")', '"getBuiltinModule"'],
    ['JSON.stringify(process.env)', 'process.env is empty'],
    ['new Function("return 1")', 'code built from strings'],
    ['isFunction(x); obj.required; requireAuth(); const evaluate = 1;', null],
  ])('%s', (code, message) => {
    const found = textFindings(code);
    if (message === null) expect(found).toEqual([]);
    else expect(found.map((f) => f.message).join(' | ')).toContain(message);
  });
});

describe('deniedSecretOrigin', () => {
  const bound = [{ name: 'KEY', value: 'k/ü 1', origins: ['https://api.example.com'] }];
  it.each<[string, string, Array<string | undefined>, boolean]>([
    ['its own origin', 'https://api.example.com/v1', ['Bearer k/ü 1'], false],
    ['another origin, in a header', 'https://evil.example/', ['Bearer k/ü 1'], true],
    ['another origin, percent-encoded in the URL', `https://evil.example/?k=${encodeURIComponent('k/ü 1')}`, [`https://evil.example/?k=${encodeURIComponent('k/ü 1')}`], true],
    ['another origin, form-encoded in the body', 'https://evil.example/', [undefined, 'k=k%2F%C3%BC+1'], true],
    ['another origin, without the value', 'https://evil.example/', ['Bearer other'], false],
    ['another port is another origin', 'https://api.example.com:8443/', ['k/ü 1'], true],
  ])('%s', (_name, url, parts, denied) => {
    expect(deniedSecretOrigin(new URL(url), parts, bound) !== undefined).toBe(denied);
  });
});

describe('SandboxPool', () => {
  function fakes() {
    const made: Array<SandboxProcess & { killed: boolean }> = [];
    const spawn = (): SandboxProcess => {
      const process = { pid: made.length + 1, key: undefined, ready: Promise.resolve(), exited: new Promise<void>(() => {}), killed: false, get alive() { return !this.killed; },
        run: async () => ({ kind: 'exited' as const, started: false, detail: '' }), connect() {}, kill() { this.killed = true; } };
      made.push(process);
      return process;
    };
    return { made, spawn };
  }
  const signal = new AbortController().signal;

  it('gives a check its own idle process, never another check\'s, and keeps one warm for the next check', async () => {
    const { made, spawn } = fakes();
    const pool = new SandboxPool({ maxIdle: 4, idleTtlMs: 60_000, spawn });
    const a = await pool.acquire('check-a', signal);
    expect(a.key).toBe('check-a');
    pool.release(a, true);
    expect(await pool.acquire('check-a', signal)).toBe(a);
    pool.release(a, true);
    const b = await pool.acquire('check-b', signal);
    expect(b).not.toBe(a);
    expect(b.key).toBe('check-b');
    expect(pool.stats()).toMatchObject({ reused: 1, warmTaken: 1 });
    // A run that did not end cleanly: its process is killed, not kept.
    pool.release(b, false);
    expect(made.find((p) => p === b)!.killed).toBe(true);
    pool.close();
    expect(made.every((p) => p.killed)).toBe(true);
  });

  it('keeps at most maxIdle idle processes, ending the least recently used', async () => {
    const { spawn } = fakes();
    const pool = new SandboxPool({ maxIdle: 2, idleTtlMs: 60_000, spawn });
    const held = [];
    for (const key of ['a', 'b', 'c']) held.push(await pool.acquire(key, signal));
    for (const process of held) pool.release(process, true);
    expect(pool.stats().idle).toBe(2);
    expect(held[0]!.alive).toBe(false);
    expect(held[2]!.alive).toBe(true);
    pool.close();
  });
});

describe('harFromTrace', () => {
  it('makes a HAR of the resource snapshots in a trace, and nothing of what is not a trace', async () => {
    const { deflateRawSync } = await import('node:zlib');
    const network = [
      JSON.stringify({ type: 'resource-snapshot', snapshot: { request: { method: 'GET', url: 'http://127.0.0.1/a' }, response: { status: 200 } } }),
      '{"type":"resource-snapshot","snapshot":', // a torn line
      JSON.stringify({ type: 'other' }),
    ].join('\n');
    const zip = zipOf([['trace.trace', '{}'], ['trace.network', network]], deflateRawSync);
    const har = JSON.parse(harFromTrace(zip)!.toString());
    expect(har.log.entries).toEqual([{ request: { method: 'GET', url: 'http://127.0.0.1/a' }, response: { status: 200 } }]);
    expect(harFromTrace(Buffer.from('not a zip'))).toBeUndefined();
  });
});

/** A ZIP of deflated entries, as Playwright writes traces. */
function zipOf(files: Array<[string, string]>, deflate: (data: Buffer) => Buffer): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of files) {
    const data = deflate(Buffer.from(text));
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(8, 8); local.writeUInt32LE(data.length, 18); local.writeUInt32LE(text.length, 22); local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(8, 10); central.writeUInt32LE(data.length, 20); central.writeUInt32LE(text.length, 24);
    central.writeUInt16LE(nameBytes.length, 28); central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const centralBytes = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(files.length, 8); end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(centralBytes.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralBytes, end]);
}
