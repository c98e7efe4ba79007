import { describe, expect, it } from 'vitest';
import {
  CONFIRMATION_GRACE_MS, awaitedRegions, planConfirmations, settleConfirmations, type PendingConfirmation,
} from '../../../coordinator/detection/confirmation.ts';
import { initialVerdict, type RegionVerdict, type VerdictStatus } from '../../../coordinator/detection/verdict.ts';

const v = (status: VerdictStatus, consecutiveFailures = 0): RegionVerdict => ({ ...initialVerdict(0), status, consecutiveFailures });
const policy = (retries = 1, otherRegions = true) => ({ confirmation: { retries, backoffMs: 1_000, otherRegions } });
const NOW = 100_000;
const pendingAt = (scheduledAt: number): PendingConfirmation => ({ scheduledAt, expiresAt: scheduledAt + 5_000, reason: 'retry' });

describe('planConfirmations', () => {
  const cases: Array<{
    name: string; region?: string; outcome?: 'pass' | 'fail' | 'error'; trigger?: 'schedule' | 'confirmation'; applied?: boolean;
    verdicts: Record<string, RegionVerdict>; pending?: Record<string, PendingConfirmation>; retries?: number; otherRegions?: boolean;
    inMaintenance?: boolean; expected: string[];
  }> = [
    {
      name: 'a first failure: a retry after the backoff, every other region at once',
      verdicts: { a: v('up', 1), b: v('up'), c: v('up') }, expected: ['a:retry:1000', 'b:other-region:0', 'c:other-region:0'],
    },
    { name: 'a pass plans nothing', outcome: 'pass', verdicts: { a: v('up'), b: v('up') }, expected: [] },
    { name: 'an agent error plans nothing', outcome: 'error', applied: false, verdicts: { a: v('up'), b: v('up') }, expected: [] },
    { name: 'a stale result (not applied) plans nothing', applied: false, verdicts: { a: v('up', 1), b: v('up') }, expected: [] },
    { name: 'no retry once the region is down', verdicts: { a: v('down', 2), b: v('up') }, expected: ['b:other-region:0'] },
    {
      name: 'a failed confirmation retries again while within retries, with doubled backoff, and asks no other region',
      trigger: 'confirmation', retries: 3, verdicts: { a: v('up', 2), b: v('up') }, expected: ['a:retry:2000'],
    },
    { name: 'retries exhausted: nothing more', trigger: 'confirmation', retries: 1, verdicts: { a: v('up', 2), b: v('up') }, expected: [] },
    { name: 'retries 0 and other regions off: nothing', retries: 0, otherRegions: false, verdicts: { a: v('up', 1), b: v('up') }, expected: [] },
    {
      name: 'one pending confirmation per region: none doubled',
      verdicts: { a: v('up', 1), b: v('up'), c: v('up') }, pending: { a: pendingAt(NOW - 10), b: pendingAt(NOW - 10) }, expected: ['c:other-region:0'],
    },
    { name: 'down and silent regions are not asked', verdicts: { a: v('up', 1), b: v('down', 3), c: v('no-data') }, expected: ['a:retry:1000'] },
    { name: 'a fresh region (no-data) failing still retries itself', verdicts: { a: v('no-data', 1), b: v('up') }, expected: ['a:retry:1000', 'b:other-region:0'] },
    { name: 'nothing during maintenance', inMaintenance: true, verdicts: { a: v('up', 1), b: v('up') }, expected: [] },
  ];
  it.each(cases)('$name', (c) => {
    const planned = planConfirmations({
      result: { region: c.region ?? 'a', outcome: c.outcome ?? 'fail', trigger: c.trigger ?? 'schedule' },
      applied: c.applied ?? true, verdicts: c.verdicts, pending: c.pending ?? {}, policy: policy(c.retries, c.otherRegions),
      timeoutMs: 2_000, inMaintenance: c.inMaintenance ?? false, now: NOW,
    });
    expect(planned.map((p) => `${p.region}:${p.reason}:${p.delayMs}`)).toEqual(c.expected);
    for (const p of planned) {
      expect(p.scheduledAt).toBe(NOW + p.delayMs);
      expect(p.expiresAt).toBe(p.scheduledAt + 2_000 + CONFIRMATION_GRACE_MS);
    }
  });
});

describe('settleConfirmations', () => {
  const pending = { a: pendingAt(1_000), b: pendingAt(2_000) };
  const cases: Array<{ name: string; now: number; answered?: { region: string; scheduledAt: number }; left: string[] }> = [
    { name: 'the confirmation result itself answers it', now: 1_500, answered: { region: 'a', scheduledAt: 1_000 }, left: ['b'] },
    { name: 'a later result of the region answers it too', now: 1_500, answered: { region: 'b', scheduledAt: 3_000 }, left: ['a'] },
    { name: 'an older result does not', now: 1_500, answered: { region: 'b', scheduledAt: 1_999 }, left: ['a', 'b'] },
    { name: 'expired ones go', now: 6_001, left: ['b'] },
  ];
  it.each(cases)('$name', ({ now, answered, left }) => {
    expect(Object.keys(settleConfirmations(pending, now, answered)).sort()).toEqual(left);
  });
  it('returns the same object when nothing is dropped', () => {
    expect(settleConfirmations(pending, 1_500)).toBe(pending);
  });
});

describe('awaitedRegions', () => {
  it('waits only for regions whose failure is being confirmed', () => {
    const pending = { a: pendingAt(1), b: pendingAt(1), c: pendingAt(1), gone: pendingAt(1) };
    const verdicts = { a: v('up', 1), b: v('up', 0), c: v('down', 2), d: v('up', 1) };
    expect(awaitedRegions(pending, verdicts)).toEqual(['a']);
  });
});
