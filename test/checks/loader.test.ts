import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../checks/diagnostics.ts';
import { loadChecks } from '../../checks/loader.ts';

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-loader-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const sdk = `import { defineHttpCheck, assert } from 'lookout/checks';`;

describe('loadChecks', () => {
  it('loads default, named and array exports, with relative imports and defaults applied', async () => {
    const dir = project({
      'shared/base.ts': `export const BASE = 'http://127.0.0.1:9';`,
      'a.check.ts': `${sdk}\nimport { BASE } from './shared/base.ts';\nexport default defineHttpCheck({ id: 'a', name: 'A', url: BASE + '/a', regions: ['us-east'] });`,
      'nested/b.check.ts': `${sdk}\nexport const b = defineHttpCheck({ id: 'b', name: 'B', url: 'http://127.0.0.1:9/b', regions: ['eu-west'], frequency: '30s', timeout: '2s', assertions: [assert.status(204)] });\nexport const more = [defineHttpCheck({ id: 'c', name: 'C', url: 'http://127.0.0.1:9/c', regions: ['eu-west'] })];\nexport const notACheck = 42;`,
      'helper.ts': `export const ignored = true;`,
    });
    const loaded = await loadChecks([dir]);
    expect(loaded.problems).toEqual([]);
    const byId = Object.fromEntries(loaded.checks.map((c) => [c.definition.id, c.definition]));
    expect(Object.keys(byId).sort()).toEqual(['a', 'b', 'c']);
    expect(byId.a).toMatchObject({ url: 'http://127.0.0.1:9/a', frequencyMs: 60_000, timeoutMs: 10_000 });
    expect(byId.b).toMatchObject({ frequencyMs: 30_000, timeoutMs: 2_000, assertions: [{ type: 'status', op: 'equals', value: 204 }] });
    expect(loaded.files).toHaveLength(2);
  });

  it('reports every problem of every file at once, with file, check id and field', async () => {
    const dir = project({
      'one.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'Bad Id', name: '', url: 'ftp://x', regions: ['us-east', 'us-east'], frequency: '10x' as any });`,
      'two.check.ts': `${sdk}\nexport default [defineHttpCheck({ id: 'dup', name: 'D', url: 'http://127.0.0.1/', regions: ['x'] }), defineHttpCheck({ id: 'dup', name: 'D2', url: 'http://127.0.0.1/', regions: ['x'], frequency: '5s', timeout: '10s' })];`,
      'three.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'ok', name: 'ok', url: 'http://127.0.0.1/', regions: ['x'] ;`,
      'four.check.ts': `export const nothing = 1;`,
    });
    const loaded = await loadChecks([dir]);
    const lines = loaded.problems.map(formatDiagnostic);
    const expectLine = (pattern: RegExp): void => expect(lines.some((l) => pattern.test(l)), `${pattern} in\n${lines.join('\n')}`).toBe(true);
    expectLine(/one\.check\.ts \[Bad Id\] frequency: expected a duration/);
    expectLine(/one\.check\.ts \[Bad Id\] id: /);
    expectLine(/one\.check\.ts \[Bad Id\] name: /);
    expectLine(/one\.check\.ts \[Bad Id\] url: url must be http/);
    expectLine(/one\.check\.ts \[Bad Id\] regions: regions must not repeat/);
    expectLine(/two\.check\.ts \[dup\] timeout: timeout must not exceed frequency/);
    expectLine(/three\.check\.ts:2:\d+ Expected "}" but found ";"/);
    expectLine(/four\.check\.ts exports no checks/);
  });

  it('reports duplicate ids across files', async () => {
    const dir = project({
      'a.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'same', name: 'A', url: 'http://127.0.0.1/', regions: ['x'] });`,
      'b.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'same', name: 'B', url: 'http://127.0.0.1/', regions: ['x'] });`,
    });
    const loaded = await loadChecks([dir]);
    expect(loaded.problems.map(formatDiagnostic)).toEqual([expect.stringMatching(/b\.check\.ts \[same\] id: duplicate check id \(also defined in .*a\.check\.ts\)/)]);
    expect(loaded.checks).toHaveLength(1);
  });

  it('reports a missing path and an import that cannot be resolved, with its line', async () => {
    const dir = project({ 'x.check.ts': `${sdk}\nimport { nope } from './missing.ts';\nexport default defineHttpCheck({ id: nope, name: 'x', url: 'http://127.0.0.1/', regions: ['x'] });` });
    const loaded = await loadChecks([dir, join(dir, 'absent')]);
    const lines = loaded.problems.map(formatDiagnostic);
    expect(lines).toContainEqual(expect.stringMatching(/absent no such file or folder/));
    expect(lines).toContainEqual(expect.stringMatching(/x\.check\.ts:2:\d+ Could not resolve "\.\/missing\.ts"/));
  });

  it('loads the shipped example checks without problems', async () => {
    const loaded = await loadChecks(['checks/examples']);
    expect(loaded.problems).toEqual([]);
    expect(loaded.checks.map((c) => c.definition.id).sort()).toEqual(['demo-api-health', 'demo-cart-journey', 'demo-checkout-api', 'demo-homepage']);
  });
});
