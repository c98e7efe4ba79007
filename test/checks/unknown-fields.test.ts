/** Unknown fields of what people write (check files, deployment bodies): reported, never silently dropped. */
import { describe, expect, it } from 'vitest';
import { CheckDefinition } from '../../checks/contract.ts';
import { normalizeCheck } from '../../checks/normalize.ts';
import { assert, defineHttpCheck } from '../../checks/sdk.ts';
import { unknownFields } from '../../checks/unknown-fields.ts';

const http = { type: 'http', id: 'api', name: 'API', url: 'https://example.com/', regions: ['us-east'], frequencyMs: 60_000, timeoutMs: 5_000 };
const browser = { type: 'browser', id: 'j', name: 'J', regions: ['us-east'], frequencyMs: 60_000, timeoutMs: 5_000, script: { bundle: 'x', file: 'j.check.ts' } };

describe('unknownFields', () => {
  const cases: Array<{ name: string; value: unknown; unknown: string[] }> = [
    { name: 'a complete HTTP check has none', value: { ...http, method: 'POST', headers: { 'x-a': '1' }, tags: ['t'], assertions: [{ type: 'status', op: 'equals', value: 200, soft: true }] }, unknown: [] },
    { name: 'every policy option is known', value: { ...http, degradedAfterMs: 800, confirmation: { retries: 2, backoffMs: 500, otherRegions: false }, alerting: { global: { regions: 2, forMs: 60_000 }, reminderEveryMs: null, flapping: false, notifyDegraded: true }, slo: { availability: { objective: 99.9 }, burnRateAlerts: false } }, unknown: [] },
    { name: 'a misspelt top-level option', value: { ...http, failureTreshold: 3 }, unknown: ['failureTreshold'] },
    { name: 'a misspelt nested option', value: { ...http, alerting: { reminderEvry: 1_000, flapping: { changes: 3, windw: 10 } } }, unknown: ['alerting.reminderEvry', 'alerting.flapping.windw'] },
    { name: 'an unknown field of one assertion', value: { ...http, assertions: [{ type: 'status', op: 'equals', value: 200 }, { type: 'header', name: 'x', op: 'exists', sfot: true }] }, unknown: ['assertions.1.sfot'] },
    { name: 'an HTTP option on a browser check', value: { ...browser, url: 'https://example.com/' }, unknown: ['url'] },
    { name: 'an unknown field in the script', value: { ...browser, script: { ...browser.script, extra: 1 } }, unknown: ['script.extra'] },
    { name: 'header values are not fields', value: { ...http, headers: { anything: 'x' } }, unknown: [] },
    { name: 'an unknown type: none reported (the type itself is the problem)', value: { ...http, type: 'ftp', bogus: 1 }, unknown: [] },
    { name: 'not an object: none', value: 'http', unknown: [] },
  ];
  it.each(cases)('$name', ({ value, unknown }) => {
    expect(unknownFields(CheckDefinition, value)).toEqual(unknown);
  });
});

describe('check files (normalizeCheck)', () => {
  const base = { id: 'api', name: 'API', url: 'https://example.com/', regions: ['us-east'] };

  it('reports a misspelt option by its SDK name instead of silently using the default', () => {
    const { definition, problems } = normalizeCheck(defineHttpCheck({
      ...base, failureTreshold: 5, alerting: { reminderEvry: '30m' }, confirmation: { backof: '2s' },
    } as never), 'api.check.ts');
    expect(definition).toBeUndefined();
    expect(problems).toEqual([
      { file: 'api.check.ts', checkId: 'api', field: 'failureTreshold', message: 'unknown option' },
      { file: 'api.check.ts', checkId: 'api', field: 'alerting.reminderEvry', message: 'unknown option' },
      { file: 'api.check.ts', checkId: 'api', field: 'confirmation.backof', message: 'unknown option' },
    ]);
  });

  it('says when the unknown option came from the project defaults', () => {
    const { problems } = normalizeCheck(defineHttpCheck(base), 'api.check.ts', undefined, { retries: 3 } as never);
    expect(problems).toEqual([
      { file: 'api.check.ts', checkId: 'api', field: 'retries', message: 'unknown option (inherited from defaults in lookout.config.ts)' },
    ]);
  });

  it('accepts every option the SDK documents', () => {
    const { problems } = normalizeCheck(defineHttpCheck({
      ...base, frequency: '30s', timeout: '5s', degradedAfter: '800ms', tags: ['t'],
      confirmation: { retries: 2, backoff: '2s', otherRegions: false },
      alerting: { global: { regions: 1, for: '1m' }, reminderEvery: '1h', flapping: { changes: 4, window: '15m', stableFor: '5m' }, notifyDegraded: true },
      slo: { availability: { objective: 99.9, window: '30d' }, latency: { objective: 99, threshold: '500ms' } },
      assertions: [assert.status(200), assert.soft(assert.responseTimeUnder(300)), assert.header('x').exists()],
    }), 'api.check.ts');
    expect(problems).toEqual([]);
  });
});
