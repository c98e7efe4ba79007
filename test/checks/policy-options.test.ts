/** The detection and alert options of the SDK: their durations, validation, and the coordinator's defaults. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckDefinition } from '../../checks/contract.ts';
import { loadChecks } from '../../checks/loader.ts';
import { normalizeCheck } from '../../checks/normalize.ts';
import { assert, defineHttpCheck, type HttpCheckOptions } from '../../checks/sdk.ts';
import { resolvePolicy } from '../../coordinator/detection/policy.ts';

const base: HttpCheckOptions = { id: 'shop', name: 'Shop', url: 'http://127.0.0.1:9/', regions: ['us-east', 'eu-west'] };

describe('policy options in check files', () => {
  it('turns every nested duration into wire milliseconds', () => {
    const { definition, problems } = normalizeCheck(defineHttpCheck({
      ...base,
      degradedAfter: '800ms',
      confirmation: { retries: 2, backoff: '2s', otherRegions: false },
      alerting: { global: { regions: 2, for: '1m' }, reminderEvery: '1h', flapping: { changes: 4, window: '15m', stableFor: '5m' }, notifyDegraded: true },
      slo: { availability: { objective: 99.9, window: '30d' }, latency: { objective: 99, threshold: '500ms', window: '7d' } },
      assertions: [assert.status(200), assert.soft(assert.responseTimeUnder(300))],
    }), 'shop.check.ts');
    expect(problems).toEqual([]);
    expect(definition).toMatchObject({
      degradedAfterMs: 800,
      confirmation: { retries: 2, backoffMs: 2_000, otherRegions: false },
      alerting: { global: { regions: 2, forMs: 60_000 }, reminderEveryMs: 3_600_000, flapping: { changes: 4, windowMs: 900_000, stableForMs: 300_000 }, notifyDegraded: true },
      slo: { availability: { objective: 99.9, windowMs: 2_592_000_000 }, latency: { objective: 99, thresholdMs: 500, windowMs: 604_800_000 } },
      assertions: [{ type: 'status', op: 'equals', value: 200 }, { type: 'responseTime', op: 'lessThan', ms: 300, soft: true }],
    });
  });

  it('does not change objects shared with other checks (e.g. project defaults)', () => {
    const shared = { backoff: '2s' as const };
    normalizeCheck(defineHttpCheck({ ...base, confirmation: shared }), 'a.check.ts');
    expect(shared).toEqual({ backoff: '2s' });
  });

  it('reports bad values with the names the user wrote', () => {
    const { problems } = normalizeCheck(defineHttpCheck({
      ...base,
      degradedAfter: 'soon' as never,
      confirmation: { retries: 9, backoff: '1x' as never },
      alerting: { reminderEvery: '1s', flapping: { changes: 1 } },
      slo: { latency: { objective: 100, threshold: '500ms' } },
    }), 'shop.check.ts');
    expect(problems.map((p) => p.field).sort()).toEqual([
      'alerting.flapping.changes', 'alerting.reminderEvery', 'confirmation.backoff', 'confirmation.retries', 'degradedAfter', 'slo.latency.objective',
    ]);
  });

  it('keeps null as "off" and refuses an SLO without an objective', () => {
    expect(normalizeCheck(defineHttpCheck({ ...base, alerting: { reminderEvery: null, flapping: false } }), 'a.check.ts').definition)
      .toMatchObject({ alerting: { reminderEveryMs: null, flapping: false } });
    expect(CheckDefinition.safeParse({ ...normalizeCheck(defineHttpCheck(base), 'a').definition, slo: {} }).success).toBe(false);
  });
});

describe('resolvePolicy', () => {
  const definition = (extra: Record<string, unknown> = {}) => CheckDefinition.parse({ type: 'http', ...base, frequencyMs: 60_000, timeoutMs: 5_000, ...extra });
  it('fills every default for a check that sets nothing', () => {
    expect(resolvePolicy(definition())).toEqual({
      failureThreshold: 2, successThreshold: 2, degradedAfterMs: null,
      confirmation: { retries: 1, backoffMs: 1_000, otherRegions: true },
      globalRegions: null, globalForMs: 0, reminderEveryMs: null,
      flapping: { changes: 5, windowMs: 600_000, stableForMs: 600_000 },
      notifyDegraded: false, slo: null,
    });
  });
  it.each([
    ['flapping off', { alerting: { flapping: false } }, { flapping: null }],
    ['partial flapping keeps the other defaults', { alerting: { flapping: { changes: 9 } } }, { flapping: { changes: 9, windowMs: 600_000, stableForMs: 600_000 } }],
    ['global quorum', { alerting: { global: { regions: 2 } } }, { globalRegions: 2, globalForMs: 0 }],
    ['an SLO gets a 30-day window and burn-rate alerts', { slo: { availability: { objective: 99.5 } } },
      { slo: { availability: { objective: 99.5, windowMs: 2_592_000_000 }, latency: null, burnRateAlerts: true } }],
  ] as const)('%s', (_name, extra, expected) => {
    expect(resolvePolicy(definition(extra as Record<string, unknown>))).toMatchObject(expected);
  });
});

describe('project defaults (lookout.config.ts)', () => {
  const made: string[] = [];
  afterAll(() => { for (const dir of made) rmSync(dir, { recursive: true, force: true }); });

  it('gives every check the project\'s detection and alert options, which a check may replace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lookout-policy-'));
    made.push(dir);
    const sdk = `import { defineHttpCheck, defineConfig } from 'lookout/checks';`;
    const files: Record<string, string> = {
      'lookout.config.ts': `${sdk}\nexport default defineConfig({ defaults: { regions: ['us-east'], confirmation: { retries: 2, backoff: '3s' }, alerting: { reminderEvery: '1h' }, slo: { availability: { objective: 99.9 } } } });`,
      'checks/a.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'a', name: 'A', url: 'http://127.0.0.1:9/' });`,
      'checks/b.check.ts': `${sdk}\nexport default defineHttpCheck({ id: 'b', name: 'B', url: 'http://127.0.0.1:9/', confirmation: { otherRegions: false } });`,
    };
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    const loaded = await loadChecks([join(dir, 'checks')]);
    expect(loaded.problems).toEqual([]);
    const byId = Object.fromEntries(loaded.checks.map((c) => [c.definition.id, c.definition]));
    expect(byId.a).toMatchObject({ confirmation: { retries: 2, backoffMs: 3_000 }, alerting: { reminderEveryMs: 3_600_000 }, slo: { availability: { objective: 99.9 } } });
    // A check's own group replaces the project's whole group (options are not merged field by field).
    expect(byId.b!.confirmation).toEqual({ otherRegions: false });
    expect(resolvePolicy(byId.b!).confirmation).toEqual({ retries: 1, backoffMs: 1_000, otherRegions: false });
    expect(byId.b).toMatchObject({ alerting: { reminderEveryMs: 3_600_000 } });
  });
});
