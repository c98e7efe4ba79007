/**
 * A journey that logs in picks up a session cookie and a bearer token: the HAR and the trace it leaves
 * must not carry them, whoever may download artifacts. Real Chromium, a real site on 127.0.0.1, the
 * runners as `lookout test` starts them (artifacts through the secrets-and-credentials wrapper).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheckOnce, startLocalRunners } from '../../agent/runs/local.ts';
import type { StartedRunners } from '../../agent/runners/index.ts';
import { zipEntries } from '../../agent/secrets/artifacts.ts';
import { browserCheck, removeProjects } from '../support/browser-checks.ts';
import { startHttpTarget, type TestTarget } from '../support/http-targets.ts';

const SESSION = 'sess-7f3a9c1e2b4d6058';
const BEARER = 'tok-91b2c3d4e5f60718';
let site: TestTarget;
let runners: StartedRunners;
let dir: string;

beforeAll(async () => {
  site = await startHttpTarget((req, res) => {
    if (req.url === '/login') {
      res.writeHead(302, { location: '/account', 'set-cookie': `session=${SESSION}; Path=/; HttpOnly` }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Account</title><h1>Your account</h1>');
  });
  dir = mkdtempSync(join(tmpdir(), 'lookout-credentials-'));
  runners = await startLocalRunners(['browser'], { artifactsDir: dir });
}, 30_000);
afterAll(async () => {
  await runners?.close();
  await site?.close();
  removeProjects();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('artifacts of a journey that logged in', () => {
  it('keep no session cookie or bearer token, in the HAR or the trace, and are stored', async () => {
    const check = await browserCheck('login-journey', `
      await page.setExtraHTTPHeaders({ authorization: 'Bearer ${BEARER}' });
      await step('log in', () => page.goto('${site.url('/login')}'));
      await step('see the account', () => expect(page.locator('h1')).toHaveText('Somebody else', { timeout: 500 }));
    `);
    const result = await runCheckOnce(check, { runners: runners.runners });
    expect(result.outcome, JSON.stringify(result.error)).toBe('fail');
    const stored = result.browser!.artifacts.map((a) => a.name).sort();
    expect(stored).toEqual(['network.har', 'screenshot.png', 'trace.zip']);
    const runDir = join(dir, result.browser!.runId);
    const har = readFileSync(join(runDir, 'network.har'), 'utf8');
    const entries = zipEntries(readFileSync(join(runDir, 'trace.zip')));
    expect(entries.length).toBeGreaterThan(1);
    expect(har).toContain('/account');
    const everything = [har, ...entries.map((e) => e.toString('latin1'))].join('\n');
    expect(everything).not.toContain(SESSION);
    expect(everything).not.toContain(BEARER);
    expect(readdirSync(runDir).sort()).toEqual(stored);
  }, 40_000);
});
