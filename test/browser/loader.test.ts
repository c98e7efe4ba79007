/**
 * Browser checks through the loader: helpers imported by relative path travel in the bundle, bundle
 * errors and imports that agents cannot satisfy are reported with file and line, and an agent that runs
 * no browser checks never loads Playwright.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../checks/diagnostics.ts';
import { loadChecks } from '../../checks/loader.ts';
import { runCheckOnce } from '../../agent/runs/local.ts';
import { loadProject, removeProjects, writeProject } from '../support/browser-checks.ts';
import { startTestSite, type TestSite } from '../support/pages.ts';

let site: TestSite;
beforeAll(async () => { site = await startTestSite(); });
afterAll(async () => {
  removeProjects();
  await site?.close();
});

const sdk = `import { defineBrowserCheck, defineHttpCheck } from 'lookout/checks';`;
const check = (id: string, body: string): string =>
  `export const ${id.replace(/-/g, '_')} = defineBrowserCheck({ id: '${id}', name: '${id}', regions: ['local'], timeout: '10s', script: async ({ page, step, expect }) => { ${body} } });`;

describe('browser checks through the loader', () => {
  it('bundles a helper imported by relative path, and the check runs with it on a fresh agent-side runner', async () => {
    const dir = writeProject({
      'helpers/shop.ts': `import type { Page } from 'playwright-core';
export async function openProducts(page: Page, base: string): Promise<string> {
  await page.goto(base + '/products');
  return page.title();
}`,
      'journeys/products.check.ts': `${sdk}
import { openProducts } from '../helpers/shop.ts';
export default defineBrowserCheck({
  id: 'products', name: 'Products', regions: ['local'], timeout: '30s',
  script: async ({ page, step, expect }) => {
    const title = await step('open products', () => openProducts(page, '${site.url}'));
    expect(title).toBe('Products · Acme Shop');
    await step('three products', () => expect(page.locator('li.p')).toHaveCount(3));
  },
});`,
    });
    const loaded = await loadChecks([dir]);
    expect(loaded.problems).toEqual([]);
    const [products] = loaded.checks;
    expect(products!.definition).toMatchObject({ type: 'browser', id: 'products', timeoutMs: 30_000, script: { file: products!.file } });
    const bundle = products!.definition.type === 'browser' ? products!.definition.script.bundle : '';
    // The helper is inlined and nothing is left to resolve on the agent.
    expect(bundle).toContain('openProducts');
    expect(bundle).not.toMatch(/from\s*["'](playwright-core|\.\.?\/)/);

    // A fresh runner: this run also launches the browser and starts a sandbox, within its deadline (30 s:
    // a loaded machine took 7 s); that start is not what is tested here.
    const result = await runCheckOnce(products!, { region: 'local' });
    expect(result.outcome, JSON.stringify(result.error)).toBe('pass');
    expect(result.browser!.steps.map((s) => s.name)).toEqual(['open products', 'three products']);
  }, 60_000);

  it('writes a failed local run\'s artifacts to a folder', async () => {
    const loaded = await loadProject({ 'fails.check.ts': `${sdk}\n${check('fails', `await page.goto('${site.url}/tiny'); await step('look', () => expect(page.locator('h1')).toHaveText('nope', { timeout: 300 }));`)}` });
    const artifactsDir = writeProject({});
    const result = await runCheckOnce(loaded.checks[0]!, { artifactsDir });
    expect(result.error!.code).toBe('ASSERTION_FAILED');
    const stored = result.browser!.artifacts;
    expect(stored.map((a) => a.name).sort()).toEqual(['network.har', 'screenshot.png', 'trace.zip']);
    for (const artifact of stored) {
      expect(artifact.key.startsWith(join(artifactsDir, result.browser!.runId))).toBe(true);
      expect(readFileSync(artifact.key).byteLength).toBe(artifact.bytes);
    }
  }, 30_000);

  it('reports a syntax error with file and line, and loads nothing from that file', async () => {
    const dir = writeProject({
      'broken.check.ts': `${sdk}\nexport default defineBrowserCheck({\n  id: 'broken', name: 'B', regions: ['local'],\n  script: async ({ page }) => { await page.goto('x') ;; ) },\n});`,
    });
    const loaded = await loadChecks([dir]);
    expect(loaded.checks).toEqual([]);
    const lines = loaded.problems.map(formatDiagnostic);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${escape(relative(process.cwd(), join(dir, 'broken.check.ts')))}:4:\\d+ `));
  });

  it('reports each import an agent cannot satisfy at its file and line, and allows the SDK and Node built-ins', async () => {
    const dir = writeProject({
      'node_modules/left-pad/package.json': '{ "name": "left-pad", "main": "index.js" }',
      'node_modules/left-pad/index.js': 'module.exports = (s) => s;',
      // As in a real project, where playwright-core is installed for its types.
      'node_modules/playwright-core/package.json': '{ "name": "playwright-core", "main": "index.js" }',
      'node_modules/playwright-core/index.js': 'exports.chromium = {};',
      'helpers/format.ts': `import { createHash } from 'node:crypto';\nimport path from 'path';\nimport leftPad from 'left-pad';\nexport const fmt = (s: string) => leftPad(s) + createHash('sha1').update(path.sep).digest('hex');`,
      'uses-helper.check.ts': `${sdk}\nimport { fmt } from './helpers/format.ts';\n${check('uses-helper', 'await page.goto(fmt("x"));')}`,
      'second-playwright.check.ts': `${sdk}\nimport { chromium } from 'playwright-core';\n${check('second-playwright', 'await chromium.launch();')}`,
      // The same package is fine for an HTTP check: its file runs only here, at deploy time.
      'http.check.ts': `${sdk}\nimport leftPad from 'left-pad';\nexport default defineHttpCheck({ id: 'http-ok', name: leftPad('H'), url: 'http://127.0.0.1:9/', regions: ['local'] });`,
    });
    const loaded = await loadChecks([dir]);
    const lines = loaded.problems.map(formatDiagnostic);
    const rel = (name: string): string => escape(relative(process.cwd(), join(dir, name)));
    expect(lines).toHaveLength(2);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${rel('helpers/format.ts')}:3:\\d+ "left-pad" is not available on agents`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${rel('second-playwright.check.ts')}:2:\\d+ "playwright-core" cannot be imported by a browser check`)));
    expect(loaded.checks.map((c) => c.definition.id)).toEqual(['http-ok']);
  });

  it('does not load Playwright in an agent that imports the runner table and serves HTTP checks only', () => {
    // Node's module hooks list every module the child loads.
    const probe = `
      import { registerHooks } from 'node:module';
      const seen = [];
      registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
      const { CHECK_TYPE_RUNNERS, startRunners } = await import(${JSON.stringify(join(process.cwd(), 'agent/runners/index.ts'))});
      await import(${JSON.stringify(join(process.cwd(), 'agent/runners/browser/index.ts'))});
      await import(${JSON.stringify(join(process.cwd(), 'agent/runners/browser/runner.ts'))});
      // What an agent with browser checks off starts.
      const started = await startRunners(['http']);
      if (typeof CHECK_TYPE_RUNNERS.browser.start !== 'function' || typeof started.runners.browser !== 'function') throw new Error('no runner table');
      const before = seen.filter((u) => u.includes('playwright'));
      await import('playwright-core'); // the control: the hook does see Playwright when it is loaded
      console.log(JSON.stringify({ before, after: seen.filter((u) => u.includes('playwright')) }));
    `;
    const child = spawnSync(join(process.cwd(), 'node_modules/.bin/node'), ['--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 20_000 });
    expect(child.stderr).toBe('');
    const { before, after } = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { before: string[]; after: string[] };
    expect(before).toEqual([]);
    expect(after).toContainEqual(expect.stringContaining('node_modules/playwright-core/'));
  }, 30_000);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
