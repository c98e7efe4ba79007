/**
 * The check-type table and what is derived from it: how a check's target is shown, where secret()
 * placeholders are allowed and resolved, and how the loader treats a type that ships a script.
 */
import { describe, expect, it } from 'vitest';
import { CHECK_TYPE_NAMES, checkTarget, checkTypeTraits } from '../../checks/check-types.ts';
import { BrowserCheckDefinition, CheckDefinition, HttpCheckDefinition } from '../../checks/contract.ts';
import { normalizeCheck } from '../../checks/normalize.ts';
import { defineBrowserCheck, defineHttpCheck } from '../../checks/sdk.ts';
import { isSecretField, resolveSecretFields, secret } from '../../checks/secrets.ts';

const common = { id: 'c1', name: 'C1', regions: ['eu-west'], frequencyMs: 60_000, timeoutMs: 5_000 };
const http = HttpCheckDefinition.parse({
  ...common, type: 'http', url: `https://api.example.test/v1?key=${secret('API_KEY')}`,
  headers: { authorization: `Bearer ${secret('TOKEN')}`, accept: 'application/json' }, body: `{"p":"${secret('API_KEY')}"}`,
});
const browser = BrowserCheckDefinition.parse({ ...common, type: 'browser', script: { bundle: 'export default 1', file: 'checks/shop.check.ts' } });

describe('checkTarget', () => {
  it.each([
    ['an HTTP check: its URL, placeholders as written', http, `https://api.example.test/v1?key={{secret:API_KEY}}`],
    ['a browser check: its script file', browser, 'checks/shop.check.ts'],
  ])('%s', (_name, definition, target) => {
    expect(checkTarget(definition)).toBe(target);
  });

  it('has traits for every type the contract accepts, and for nothing else', () => {
    const contractTypes = CheckDefinition.options.map((option) => option.shape.type.value);
    expect([...CHECK_TYPE_NAMES].sort()).toEqual([...contractTypes].sort());
    expect(checkTypeTraits('no-such-type')).toBeUndefined();
    expect(checkTypeTraits('toString')).toBeUndefined();
  });
});

describe('secret fields', () => {
  it.each([
    [['url'], true], [['body'], true], [['headers', 'authorization'], true],
    [['headers'], false], [['name'], false], [['assertions', '0', 'value'], false], [['url', 'x'], false],
  ])('%j is a secret field of an HTTP check: %s', (path, allowed) => {
    expect(isSecretField(checkTypeTraits('http')!.secrets.fields, path)).toBe(allowed);
  });

  it('resolves only the listed fields, header values but not names, and leaves the definition as it was', () => {
    const before = structuredClone(http);
    const out = resolveSecretFields(http, ['url', 'headers.*', 'body'], { API_KEY: 'k&1', TOKEN: 't' });
    expect(out).toEqual({
      definition: {
        ...http, url: 'https://api.example.test/v1?key=k&1', headers: { authorization: 'Bearer t', accept: 'application/json' }, body: '{"p":"k&1"}',
      },
    });
    expect(http).toEqual(before);
  });

  it('names every missing secret once, in field order', () => {
    expect(resolveSecretFields(http, ['url', 'headers.*', 'body'], {})).toEqual({ missing: ['API_KEY', 'TOKEN'] });
    expect(resolveSecretFields(http, ['headers.*', 'url'], {})).toEqual({ missing: ['TOKEN', 'API_KEY'] });
  });

  it('resolves nothing in a type that lists no field (browser scripts get values through their argument)', () => {
    expect(checkTypeTraits('browser')!.secrets.fields).toEqual([]);
    expect(resolveSecretFields(browser, [], {})).toEqual({ definition: browser });
  });
});

describe('normalizeCheck with the table', () => {
  const options = { id: 'n1', name: 'N1', regions: ['eu-west'] };

  it('refuses a placeholder outside the fields of its type, with that type\'s message', () => {
    const { problems } = normalizeCheck(defineHttpCheck({ ...options, name: secret('X'), url: 'https://a.test/', headers: { [secret('H')]: 'v' } }), 'a.check.ts');
    expect(problems.map((p) => [p.field, p.message])).toEqual(expect.arrayContaining([
      ['name', "secret() is only resolved in an HTTP check's url, header values and body (browser scripts use their secrets argument)"],
      ['headers.{{secret:H}}', 'secret() cannot be used in a header name, only in its value'],
    ]));
    const browserProblems = normalizeCheck(defineBrowserCheck({ ...options, name: secret('X'), script: async () => {} }), 'b.check.ts', 'export {}').problems;
    expect(browserProblems).toContainEqual(expect.objectContaining({ field: 'name', message: checkTypeTraits('browser')!.secrets.elsewhere }));
  });

  it('turns the script of a type that ships one into the file\'s bundle, and says what a script must be', () => {
    const ok = normalizeCheck(defineBrowserCheck({ ...options, script: async () => {} }), 'checks/b.check.ts', 'export const bundled = 1;');
    expect(ok.problems).toEqual([]);
    expect(ok.definition).toMatchObject({ type: 'browser', script: { bundle: 'export const bundled = 1;', file: 'checks/b.check.ts' } });
    const bad = normalizeCheck({ ...defineBrowserCheck({ ...options, script: async () => {} }), script: 'not a function' as never }, 'b.check.ts', 'export {}');
    expect(bad.problems).toContainEqual({ file: 'b.check.ts', checkId: 'n1', field: 'script', message: 'script must be an async function ({ page, step, expect }) => { … }' });
  });
});
