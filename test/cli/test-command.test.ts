/**
 * `lookout test` as a user runs it (a child process in a project folder with a lookout.config.ts),
 * against real loopback targets: exit codes, the table, JSON and JUnit reports, patterns, the region,
 * secrets from a secrets file (HTTP headers and a browser script in local Chromium), never printed.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLookout } from '../support/cli.ts';
import { startHttpTarget, type TestTarget } from '../support/http-targets.ts';

const API_KEY = 'sk_test_8d1f1e2a9b';
let target: TestTarget;
let dir: string;
const regionsSeen: string[] = [];

function write(files: Record<string, string>, root = dir): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), text);
  }
}

beforeAll(async () => {
  target = await startHttpTarget((req, res) => {
    regionsSeen.push(String(req.headers['x-lookout-region']));
    const authorized = req.headers.authorization === `Bearer ${API_KEY}`;
    const cut = /^\/cut\?o=(\d+)$/.exec(req.url ?? '');
    if (cut) {
      const offset = Number(cut[1]);
      const echoed = String(req.headers['x-long']);
      res.writeHead(200, { 'x-echo': `${'h'.repeat(offset % 130)}${echoed}` }).end(`${'.'.repeat(offset)}${echoed}${'-'.repeat(40)}marker${'.'.repeat(300)}`);
      return;
    }
    switch (req.url) {
      case '/ok': res.writeHead(200, { 'content-type': 'text/plain' }).end('hello'); return;
      case '/broken': res.writeHead(503, { 'content-type': 'text/plain' }).end('down'); return;
      case '/auth': res.writeHead(authorized ? 200 : 401).end(); return;
      case '/page': res.writeHead(authorized ? 200 : 401, { 'content-type': 'text/html' })
        .end(authorized ? '<!doctype html><title>Shop</title><h1>Welcome</h1>' : '<!doctype html><title>No</title><h1>Denied</h1>'); return;
      default: res.writeHead(404).end();
    }
  });
  dir = mkdtempSync(join(tmpdir(), 'lookout-test-cmd-'));
  const sdk = `import { defineHttpCheck, defineBrowserCheck, defineConfig, secret, assert } from 'lookout/checks';`;
  write({
    'lookout.config.ts': `${sdk}\nexport default defineConfig({ checks: ['checks'], defaults: { regions: ['us-east'], timeout: '20s' } });`,
    'checks/home.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'home-ok', name: 'Home', url: '${target.url('/ok')}', assertions: [assert.status(200), assert.body.contains('hello')] });`,
    'checks/api.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'api-broken', name: 'API', url: '${target.url('/broken')}', assertions: [assert.status(200)] });`,
    'checks/auth.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'auth-secret', name: 'Auth', url: '${target.url('/auth')}', headers: { authorization: \`Bearer \${secret('API_KEY')}\` }, assertions: [assert.status(200)] });`,
    'checks/journey.check.ts': `${sdk}\nexport default defineBrowserCheck({ id: 'journey', name: 'Journey', timeout: '30s', frequency: '1m',
  script: async ({ page, step, expect, secrets }) => {
    await page.setExtraHTTPHeaders({ authorization: 'Bearer ' + secrets.API_KEY });
    await step('open', () => page.goto('${target.url('/page')}'));
    await step('welcome', () => expect(page.locator('h1')).toHaveText('Welcome'));
  } });`,
    'secrets.env': `API_KEY=${API_KEY}\n`,
  });
});
afterAll(async () => {
  await target?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('lookout test', () => {
  it('runs the selected checks here (HTTP and a browser journey in Chromium), with secrets, and exits 0 when all pass', async () => {
    regionsSeen.length = 0;
    const run = await runLookout(['test', 'home-ok', 'auth-*', 'journey.check.ts', '--secrets-file', 'secrets.env', '--region', 'eu-west'], { cwd: dir, timeoutMs: 40_000 });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^RESULT +CHECK +TYPE +STATUS +TOTAL +DNS +CONNECT +TLS +TTFB/m);
    expect(run.stdout).toMatch(/^PASS +home-ok +http +200 +\d+ms/m);
    expect(run.stdout).toMatch(/^PASS +auth-secret +http +200/m);
    expect(run.stdout).toMatch(/^PASS +journey +browser/m);
    expect(run.stdout).toMatch(/3 check\(s\): 3 passed, 0 failed, 0 error\(s\)/);
    expect(run.stdout).not.toContain('api-broken');
    expect(new Set(regionsSeen.filter((r) => r !== 'undefined'))).toEqual(new Set(['eu-west']));
    expect(run.stdout + run.stderr).not.toContain(API_KEY);
  }, 45_000);

  it('exits 1 when a check fails, and the JSON report says why (failing assertion, missing secret)', async () => {
    const run = await runLookout(['test', '*-*', '--reporter', 'json'], { cwd: dir });
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout) as { summary: Record<string, number>; checks: Array<Record<string, any>> };
    expect(report.summary).toMatchObject({ total: 3, passed: 1, failed: 2, errors: 0 });
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    expect(byId['api-broken']).toMatchObject({
      outcome: 'fail', statusCode: 503, file: join('checks', 'api.check.ts'), error: { code: 'ASSERTION_FAILED' },
      failedAssertions: [{ expected: 'status 200', actual: 'status 503' }],
      timings: { totalMs: expect.any(Number), connectMs: expect.any(Number) },
    });
    expect(byId['auth-secret']).toMatchObject({ outcome: 'fail', error: { code: 'SECRET_MISSING', message: expect.stringContaining('"API_KEY"') } });
    expect(byId['home-ok']).toMatchObject({ outcome: 'pass', error: null, failedAssertions: [] });
  });

  it('writes a JUnit report: a target failure is a <failure>, an agent error an <error>', async () => {
    const run = await runLookout(['test', '--reporter', 'junit', '--output', 'report.xml', '--secrets-file', 'secrets.env', '--chromium', '/nonexistent/chromium'], { cwd: dir });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/4 check\(s\): 2 passed, 1 failed, 1 error\(s\); junit report written to report\.xml/);
    const xml = readFileSync(join(dir, 'report.xml'), 'utf8');
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="lookout" tests="4" failures="1" errors="1"/);
    expect(xml).toMatch(/<testcase classname="checks\/api\.check\.ts" name="api-broken" time="[\d.]+">\n\s+<failure type="ASSERTION_FAILED" message="1 of 1 assertion failed: expected status 200, got status 503">ASSERTION_FAILED: [^<]*\n✗ expected status 200, got status 503<\/failure>/);
    expect(xml).toMatch(/<testcase classname="checks\/journey\.check\.ts" name="journey" time="[\d.]+">\n\s+<error type="BROWSER_CRASHED"/);
    expect(xml).toMatch(/<testcase classname="checks\/home\.check\.ts" name="home-ok" time="[\d.]+"><\/testcase>/);
    expect(xml).not.toContain(API_KEY);
  });

  it('exits 2, running nothing, for a pattern that matches no check, a bad flag, or an invalid project', async () => {
    const before = regionsSeen.length;
    const unmatched = await runLookout(['test', 'nothing-*'], { cwd: dir });
    expect(unmatched.code).toBe(2);
    expect(unmatched.stderr).toContain('no check matches "nothing-*"');
    const badFlag = await runLookout(['test', '--reporter', 'xml', '--region', 'Bad Region'], { cwd: dir });
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/--region: region must be 1-32 chars of a-z, 0-9 and "-"[^\n]*got "Bad Region"[\s\S]*--reporter: expected "table" or "json" or "junit", got "xml"/);

    const broken = mkdtempSync(join(tmpdir(), 'lookout-test-invalid-'));
    try {
      write({
        'a.check.ts': `import { defineHttpCheck } from 'lookout/checks';\nexport default defineHttpCheck({ id: 'a', name: 'A', url: '${target.url('/ok')}' });`,
        'b.check.ts': `import { defineHttpCheck } from 'lookout/checks';\nexport default defineHttpCheck({ id: 'b', name: 'B', url: '${target.url('/ok')}', regions: ['x'], frequency: '5s', timeout: '10s' });`,
      }, broken);
      const invalid = await runLookout(['test', '.'], { cwd: broken });
      expect(invalid.code).toBe(2);
      expect(invalid.stderr).toMatch(/2 problem\(s\); nothing run:\n {2}a\.check\.ts \[a\] regions: regions is required[\s\S]*b\.check\.ts \[b\] timeout: timeout must not exceed frequency/);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
    expect(regionsSeen.length).toBe(before);
  });

  it('prints no 16 characters of a secret the target echoes across any excerpt edge, in any reporter', async () => {
    const LONG = "Lk9-long secret/with+plus&q='x'~(y)*z!0123456";
    const project = mkdtempSync(join(tmpdir(), 'lookout-test-cut-'));
    try {
      const offsets = [0, 100, 118, 119, 121, 200, 239, 241];
      write({
        'cut.check.ts': `import { defineHttpCheck, secret, assert } from 'lookout/checks';
export default ${JSON.stringify(offsets)}.map((o) => defineHttpCheck({
  id: 'cut-' + o, name: 'Cut ' + o, regions: ['local'], url: '${target.url('/cut')}?o=' + o, headers: { 'x-long': secret('LONG') },
  assertions: [assert.body.contains('never-there'), assert.body.notContains('marker'), assert.body.matches('marker'), assert.header('x-echo').equals('other')],
}));`,
        'secrets.json': JSON.stringify({ LONG }),
      }, project);
      for (const reporter of ['table', 'json', 'junit']) {
        const run = await runLookout(['test', 'cut.check.ts', '--secrets-file', 'secrets.json', '--reporter', reporter], { cwd: project });
        expect(run.code, run.stderr).toBe(1);
        const output = run.stdout + run.stderr;
        expect(output).toContain('[secret:LONG]');
        for (let i = 0; i + 16 <= LONG.length; i++) expect(output.includes(LONG.slice(i, i + 16)), `${reporter}: ${LONG.slice(i, i + 16)}`).toBe(false);
      }
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  }, 40_000);

  it('stops a check file that loops at import: IMPORT_TIMEOUT naming the file, exit 2', async () => {
    const project = mkdtempSync(join(tmpdir(), 'lookout-test-loop-'));
    try {
      write({ 'loop.check.ts': `import { defineHttpCheck } from 'lookout/checks';\nlet ready = false;\nwhile (!ready) {}\nexport default defineHttpCheck({ id: 'l', name: 'L', regions: ['x'], url: '${target.url('/ok')}' });` }, project);
      const run = await runLookout(['test', 'loop.check.ts', '--import-timeout', '1s'], { cwd: project });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/loop\.check\.ts IMPORT_TIMEOUT: did not finish loading within 1000 ms/);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
