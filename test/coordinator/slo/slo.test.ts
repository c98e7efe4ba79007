import { describe, expect, it } from 'vitest';
import { decideBurnAlerts, type StoredSloAlerts } from '../../../coordinator/slo/alerts.ts';
import { burnWindowRollups, sloWindowRollup } from '../../../coordinator/slo/data.ts';
import {
  BURN_RATE_RULES, availabilityCounts, burnRate, errorBudget, latencyCounts, nextBurnAlert, ruleFires, sli,
} from '../../../coordinator/slo/slo.ts';
import { emptyRollup, latencyBucket, type Rollup } from '../../../coordinator/results/uptime.ts';

function rollup(pass: number, fail: number, latencies: number[] = []): Rollup {
  const r = emptyRollup();
  r.pass = pass; r.fail = fail;
  for (const ms of latencies) r.latency[latencyBucket(ms)]! += 1;
  return r;
}

describe('SLIs and error budgets', () => {
  it.each([
    ['all good', 1_000, 0, 99.9, 1, 1, 0],
    ['budget half spent', 999, 1, 99.8, 0.999, 2, 1],
    ['budget exactly spent', 999, 1, 99.9, 0.999, 1, 1],
    ['overspent', 990, 10, 99.9, 0.99, 1, 10],
  ] as const)('%s', (_name, pass, fail, objective, expectedSli, budgetTotal, consumed) => {
    const counts = availabilityCounts(rollup(pass, fail));
    expect(sli(counts)).toBeCloseTo(expectedSli, 10);
    const budget = errorBudget(counts, objective);
    expect(budget.total).toBeCloseTo(budgetTotal, 8);
    expect(budget.consumed).toBe(consumed);
    expect(budget.remaining).toBeCloseTo(budgetTotal - consumed, 8);
    expect(budget.remainingRatio).toBeCloseTo((budgetTotal - consumed) / budgetTotal, 8);
  });

  it('has no SLI, ratio or burn rate without events', () => {
    const counts = availabilityCounts(emptyRollup());
    expect(sli(counts)).toBeNull();
    expect(errorBudget(counts, 99.9)).toEqual({ total: 0, consumed: 0, remaining: 0, remainingRatio: null });
    expect(burnRate(counts, 99.9)).toBeNull();
  });

  it('counts latency events under the threshold: exact on a bucket bound, interpolated inside a bucket', () => {
    const r = rollup(10, 0, [40, 90, 120, 180, 400, 400, 400, 400, 900, 2_000]);
    expect(latencyCounts(r, 500)).toEqual({ good: 8, total: 10 });
    // 400 ms lies in (300, 500]: a 400 ms threshold counts half of that bucket's four runs.
    expect(latencyCounts(r, 400)).toEqual({ good: 6, total: 10 });
    expect(latencyCounts(r, 1)).toEqual({ good: 0, total: 10 });
  });

  it.each([
    ['no errors', 100, 0, 0],
    ['the exact budget rate burns at 1', 999, 1, 1],
    ['1 % errors against 99.9 % burns at 10', 99, 1, 10],
    ['everything failing against 99.9 % burns at 1000', 0, 5, 1_000],
  ] as const)('burn rate: %s', (_name, pass, fail, expected) => {
    expect(burnRate(availabilityCounts(rollup(pass, fail)), 99.9)).toBeCloseTo(expected, 8);
  });
});

describe('burn-rate rules', () => {
  const fast = BURN_RATE_RULES.find((r) => r.name === 'fast')!;
  it.each([
    ['both windows above the factor fire', 20, 15, true],
    ['exactly the factor fires', 14.4, 14.4, true],
    ['a long window above but a recovered short window does not', 20, 2, false],
    ['a short spike alone does not', 3, 100, false],
    ['no events in a window does not', null, 100, false],
  ] as const)('%s', (_name, long, short, fires) => {
    expect(ruleFires(fast, long, short)).toBe(fires);
  });

  it.each([
    ['starts firing', null, true, { state: 'fired', firedAt: 50 }],
    ['keeps firing quietly', { firedAt: 10 }, true, null],
    ['resolves', { firedAt: 10 }, false, { state: 'resolved', firedAt: 10 }],
    ['stays quiet', null, false, null],
  ] as const)('alert state: %s', (_name, current, firing, change) => {
    expect(nextBurnAlert(current, firing, 50).change).toEqual(change);
  });
});

describe('decideBurnAlerts', () => {
  const check = { id: 'shop', name: 'Shop' };
  const slo = { availability: { objective: 99.9, windowMs: 30 * 86_400_000 }, latency: null, burnRateAlerts: true };
  const rates = (r: number | null) => ({ availability: { '5m': r, '30m': r, '1h': r, '6h': r } });

  it('fires both rules of a fast burn once, with deterministic ids, then resolves them', () => {
    const fired = decideBurnAlerts(null, check, slo, rates(20), 1_000);
    expect(fired.events.map((e) => `${e.slo.sli}:${e.rule.name}:${e.state}`)).toEqual(['availability:fast:fired', 'availability:slow:fired']);
    expect(fired.events[0]!.id).toBe('slo.burn_rate:shop:availability:fast:1000:fired');
    expect(fired.events[0]!.burnRate).toEqual({ long: 20, short: 20 });
    const again = decideBurnAlerts(fired.next, check, slo, rates(20), 2_000);
    expect(again.events).toEqual([]);
    const resolved = decideBurnAlerts(fired.next, check, slo, rates(0), 3_000);
    expect(resolved.events.map((e) => `${e.rule.name}:${e.state}:${e.firedAt}`)).toEqual(['fast:resolved:1000', 'slow:resolved:1000']);
    expect(resolved.next).toBeNull();
  });

  it('fires only the slow rule for a moderate burn', () => {
    expect(decideBurnAlerts(null, check, slo, rates(8), 1_000).events.map((e) => e.rule.name)).toEqual(['slow']);
  });

  it('resolves what fires when the SLO (or its alerts) goes away', () => {
    const stored: StoredSloAlerts = decideBurnAlerts(null, check, slo, rates(20), 1_000).next!;
    const gone = decideBurnAlerts(stored, check, null, {}, 5_000);
    expect(gone.events.map((e) => `${e.rule.name}:${e.state}`)).toEqual(['fast:resolved', 'slow:resolved']);
    expect(gone.next).toBeNull();
    expect(decideBurnAlerts(stored, check, { ...slo, burnRateAlerts: false }, rates(20), 5_000).events).toHaveLength(2);
  });
});

describe('SLO windows from rollup hashes', () => {
  const MIN = 60_000; const HOUR = 3_600_000;
  it('puts minute rollups into the 5m, 30m, 1h and 6h windows by age (the current minute included)', () => {
    const now = 10 * HOUR + 30 * MIN + 15_000;
    // Hour 10: minute 30 (now), minute 26 (age 4: in 5m), minute 25 (age 5: not in 5m); hour 9 minute 0 (age 90); hour 4 minute 31 (age 359).
    const hashes = new Map<number, Record<string, string>>([
      [10 * HOUR, { '30:f': '1', '26:f': '2', '25:f': '4' }],
      [9 * HOUR, { '0:f': '8' }],
      [4 * HOUR, { '31:f': '16', '30:f': '32' }],
    ]);
    const w = burnWindowRollups(hashes, now);
    expect([w['5m'].fail, w['30m'].fail, w['1h'].fail, w['6h'].fail]).toEqual([3, 7, 7, 31]);
  });

  it('takes whole hours (the current one included) for the SLO window', () => {
    const DAY = 86_400_000;
    const now = 3 * DAY + 5 * HOUR + 10 * MIN;
    const hashes = new Map<number, Record<string, string>>([
      [3 * DAY, { '5:p': '1', '0:p': '2' }],
      [2 * DAY, { '6:p': '4', '5:p': '8' }],
    ]);
    // 24 h back from hour 5 of day 3: hours 6..23 of day 2 and 0..5 of day 3.
    expect(sloWindowRollup(hashes, now, DAY).pass).toBe(7);
    expect(sloWindowRollup(hashes, now, HOUR).pass).toBe(1);
  });
});
