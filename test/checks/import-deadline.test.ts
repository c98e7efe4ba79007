/**
 * Check files run their own code when they load. That code runs in a worker thread with a deadline, so a
 * file that loops or waits forever at import time is reported, not obeyed, and a throw names its line.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadChecks } from '../../checks/loader.ts';

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-import-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const sdk = `import { defineHttpCheck, defineBrowserCheck } from 'lookout/checks';`;
const check = (id: string): string => `export default defineHttpCheck({ id: '${id}', name: '${id}', url: 'http://127.0.0.1:9/', regions: ['r1'] });`;

describe('loading check files under a deadline', () => {
  it('reports IMPORT_TIMEOUT for a file that loops or never settles at import, naming it, and loads the others', async () => {
    // The short deadline only for the looping file: the others must load whatever the machine's load.
    const looping = await loadChecks([project({ 'loop.check.ts': `${sdk}\nlet ready = false;\nwhile (!ready) {}\n${check('loop')}` })], { config: false, importTimeoutMs: 1_000 });
    expect(looping.problems.map((p) => [relative(join(p.file, '..'), p.file), p.code])).toEqual([['loop.check.ts', 'IMPORT_TIMEOUT']]);
    expect(looping.problems[0]!.message).toContain('within 1000 ms');

    const dir = project({
      'wait.check.ts': `${sdk}\nawait new Promise(() => {});\n${check('wait')}`,
      'fine.check.ts': `${sdk}\n${check('fine')}`,
    });
    const loaded = await loadChecks([dir], { config: false });
    expect(loaded.checks.map((c) => c.definition.id)).toEqual(['fine']);
    expect(loaded.problems.map((p) => [relative(dir, p.file), p.code])).toEqual([['wait.check.ts', 'IMPORT_TIMEOUT']]);
  });

  it('names the line a file threw at, and what ends the process while loading', async () => {
    const dir = project({
      'throws.check.ts': `${sdk}\n\nfunction setUp(): void {\n  throw new Error('no config here');\n}\nsetUp();\n${check('throws')}`,
      'exits.check.ts': `${sdk}\nprocess.exit(3);\n${check('exits')}`,
    });
    const loaded = await loadChecks([dir], { config: false });
    const byFile = Object.fromEntries(loaded.problems.map((p) => [relative(dir, p.file), p]));
    expect(byFile['throws.check.ts']).toMatchObject({ line: 4, message: 'failed while loading: no config here' });
    expect(byFile['exits.check.ts']!.message).toContain('exit code 3');
  });

  it("still sees a browser check's script as a function", async () => {
    const dir = project({
      'journey.check.ts': `${sdk}\nexport default defineBrowserCheck({ id: 'j', name: 'J', regions: ['r1'], timeout: '5s', script: async ({ page }) => { await page.goto('about:blank'); } });`,
    });
    const loaded = await loadChecks([dir], { config: false });
    expect(loaded.problems).toEqual([]);
    expect(loaded.checks[0]!.definition.type).toBe('browser');
  });
});
