/**
 * lookout.config.ts: defaults inherited and overridden, found from the checks' folder upward (not past
 * a git root), and validated together with the checks, every problem at once.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../checks/diagnostics.ts';
import { loadChecks } from '../../checks/loader.ts';
import { findConfigFile } from '../../checks/project-loader.ts';

const made: string[] = [];
afterAll(() => { for (const dir of made) rmSync(dir, { recursive: true, force: true }); });

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-project-'));
  made.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const sdk = `import { defineHttpCheck, defineConfig, secret, assert } from 'lookout/checks';`;
const config = (body: string): string => `${sdk}\nexport default defineConfig(${body});`;

describe('project configuration', () => {
  it('gives every check the defaults it does not set, and lets a check override them', async () => {
    const dir = project({
      'lookout.config.ts': config(`{ defaults: { regions: ['us-east', 'eu-west'], frequency: '30s', timeout: '5s', failureThreshold: 3, tags: ['team:shop'] }, deploy: { maxDeletePercent: 20 } }`),
      'checks/inherits.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'inherits', name: 'Inherits', url: 'http://127.0.0.1:9/' });`,
      'checks/overrides.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'overrides', name: 'Overrides', url: 'http://127.0.0.1:9/', regions: ['ap-south'], frequency: '2m', tags: ['own'], failureThreshold: 1 });`,
    });
    const loaded = await loadChecks([join(dir, 'checks')]);
    expect(loaded.problems).toEqual([]);
    expect(loaded.config).toMatchObject({ file: expect.stringMatching(/lookout\.config\.ts$/), dir, deploy: { maxDeletePercent: 20 } });
    const byId = Object.fromEntries(loaded.checks.map((c) => [c.definition.id, c.definition]));
    expect(byId.inherits).toMatchObject({ regions: ['us-east', 'eu-west'], frequencyMs: 30_000, timeoutMs: 5_000, failureThreshold: 3, tags: ['team:shop'] });
    expect(byId.overrides).toMatchObject({ regions: ['ap-south'], frequencyMs: 120_000, timeoutMs: 5_000, failureThreshold: 1, tags: ['own'] });
  });

  it('is found in the checks folder or its parents, but not past a git root', async () => {
    const dir = project({
      'lookout.config.ts': config(`{ defaults: { regions: ['outer'] } }`),
      'repo/.git/HEAD': 'ref: refs/heads/main\n',
      'repo/checks/a.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'a', name: 'A', url: 'http://127.0.0.1:9/', regions: ['x'] });`,
      'other/deep/b.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'b', name: 'B', url: 'http://127.0.0.1:9/' });`,
    });
    expect(findConfigFile(join(dir, 'repo/checks'), '/')).toBeNull();
    expect(findConfigFile(join(dir, 'other/deep/b.check.ts'), '/')).toBe(join(dir, 'lookout.config.ts'));
    const loaded = await loadChecks([join(dir, 'other')]);
    expect(loaded.problems).toEqual([]);
    expect(loaded.checks[0]!.definition.regions).toEqual(['outer']);
    // An explicit `false` loads no configuration: the check then lacks regions.
    const without = await loadChecks([join(dir, 'other')], { config: false });
    expect(without.problems.map(formatDiagnostic)).toEqual([expect.stringMatching(/b\.check\.ts \[b\] regions: regions is required: set it on the check, or as defaults\.regions in lookout\.config\.ts/)]);
  });

  it('reports every problem of the config and of every check at once, with file, check id and field', async () => {
    const dir = project({
      'lookout.config.ts': config(`{ defaults: { frequency: 'often', timeout: '5s', tags: [''], successThreshold: 2, failureThreshold: 0, id: 'x' } as any, deploy: { maxDeletePercent: 150, coordinator: 'ftp://x' }, colour: 'blue' } as any`),
      'a.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'no-regions', name: 'No regions', url: 'http://127.0.0.1:9/' });`,
      'b.check.ts': `${sdk}\nexport default [
  defineHttpCheck({ id: 'bad-secret', name: secret('NAME'), url: 'http://127.0.0.1:9/' + secret('TOKEN'), regions: ['us-east'], headers: { [secret('H')]: 'v', ok: 'Bearer {{secret:bad name}}' } }),
  defineHttpCheck({ id: 'slow', name: 'Slow', url: 'http://127.0.0.1:9/', regions: ['us-east'], frequency: '1s' }),
];`,
      'c.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'BAD', name: 'Bad', url: 'nope', regions: ['us-east'] });`,
    });
    const loaded = await loadChecks([dir]);
    const lines = loaded.problems.map(formatDiagnostic);
    const expectLine = (pattern: RegExp): void => expect(lines.some((l) => pattern.test(l)), `${pattern} in\n${lines.join('\n')}`).toBe(true);
    expectLine(/lookout\.config\.ts defaults\.frequency: expected a duration/);
    expectLine(/lookout\.config\.ts defaults\.tags\[0\]: /);
    expectLine(/lookout\.config\.ts defaults\.failureThreshold: /);
    expectLine(/lookout\.config\.ts defaults\.id: id cannot have a default/);
    expectLine(/lookout\.config\.ts deploy\.maxDeletePercent: /);
    expectLine(/lookout\.config\.ts deploy\.coordinator: expected an http/);
    expectLine(/lookout\.config\.ts unknown option colour/);
    expectLine(/a\.check\.ts \[no-regions\] regions: regions is required/);
    expectLine(/b\.check\.ts \[bad-secret\] name: secret\(\) is only resolved in an HTTP check's url, header values and body/);
    expectLine(/b\.check\.ts \[bad-secret\] headers\.\{\{secret:H\}\}: secret\(\) cannot be used in a header name/);
    expectLine(/b\.check\.ts \[bad-secret\] headers\.ok: malformed secret reference/);
    // A check's own frequency with the inherited timeout: the problem says where the timeout came from.
    expectLine(/b\.check\.ts \[slow\] timeout: timeout must not exceed frequency \(inherited from defaults in lookout\.config\.ts\)/);
    expectLine(/c\.check\.ts \[BAD\] id: /);
    expectLine(/c\.check\.ts \[BAD\] url: /);
    // The url's well-formed secret reference is fine; the invalid default frequency is reported once, not per check.
    expect(lines.filter((l) => /bad-secret\] url/.test(l))).toEqual([]);
    expect(lines.filter((l) => /frequency/.test(l) && !/slow/.test(l))).toHaveLength(1);
    expect(loaded.checks).toEqual([]);
  });

  it('reports a config file that does not export defineConfig', async () => {
    const dir = project({
      'lookout.config.ts': `export default { defaults: {} };`,
      'a.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'a', name: 'A', url: 'http://127.0.0.1:9/', regions: ['x'] });`,
    });
    const loaded = await loadChecks([dir]);
    expect(loaded.problems.map(formatDiagnostic)).toEqual([expect.stringMatching(/lookout\.config\.ts must default-export defineConfig/)]);
  });
});
