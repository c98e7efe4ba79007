import { describe, expect, it } from 'vitest';
import {
  CONFIRMATION_GRACE_MS, awaitedRegions, nextAnswerMs, planConfirmations, planForUnanswered, retryDelayMs,
  settleConfirmations, unansweredBudgetMs, type PendingConfirmation,
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
    inMaintenance?: boolean; startedAt?: number; earlyConfirmed?: boolean; expected: string[];
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
    {
      name: 'the back-off counts from the failing run\'s start: a refusal 20 ms ago waits the rest',
      startedAt: NOW - 20, verdicts: { a: v('up', 1), b: v('up') }, expected: ['a:retry:980', 'b:other-region:0'],
    },
    {
      name: 'a run that timed out has waited longer than the back-off: its retry starts at once',
      startedAt: NOW - 3_000, verdicts: { a: v('up', 1), b: v('up') }, expected: ['a:retry:0', 'b:other-region:0'],
    },
    {
      name: 'a failure whose slot was confirmed while it was silent plans nothing more',
      earlyConfirmed: true, verdicts: { a: v('up', 1), b: v('up') }, expected: [],
    },
  ];
  it.each(cases)('$name', (c) => {
    const planned = planConfirmations({
      result: { region: c.region ?? 'a', outcome: c.outcome ?? 'fail', trigger: c.trigger ?? 'schedule', ...(c.startedAt === undefined ? {} : { startedAt: c.startedAt }) },
      applied: c.applied ?? true, verdicts: c.verdicts, pending: c.pending ?? {}, policy: policy(c.retries, c.otherRegions),
      timeoutMs: 2_000, inMaintenance: c.inMaintenance ?? false, now: NOW, earlyConfirmed: c.earlyConfirmed ?? false,
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

describe('retryDelayMs', () => {
  it.each([
    { name: 'no start known: the whole back-off', startedAt: undefined, expected: 1_000 },
    { name: 'started 300 ms ago: the rest', startedAt: NOW - 300, expected: 700 },
    { name: 'started longer ago than the back-off: at once', startedAt: NOW - 5_000, expected: 0 },
    { name: 'an agent clock ahead of ours never lengthens it past the back-off', startedAt: NOW + 5_000, expected: 1_000 },
  ])('$name', ({ startedAt, expected }) => {
    expect(retryDelayMs(1_000, startedAt, NOW)).toBe(expected);
  });
});

describe('unansweredBudgetMs', () => {
  it.each([
    { name: 'usual answer unknown: the shortest budget', timeoutMs: 3_000, usual: undefined, expected: 300 },
    { name: 'a fast target: the shortest budget', timeoutMs: 3_000, usual: 20, expected: 300 },
    { name: 'a slower target: 2 × its usual answer + 150 ms', timeoutMs: 10_000, usual: 400, expected: 950 },
    { name: 'never more than half the timeout', timeoutMs: 3_000, usual: 900, expected: 1_500 },
    { name: 'a very short timeout still gets the shortest budget', timeoutMs: 400, usual: 300, expected: 300 },
  ])('$name', ({ timeoutMs, usual, expected }) => {
    expect(unansweredBudgetMs(timeoutMs, usual)).toBe(expected);
  });
});

describe('nextAnswerMs', () => {
  it.each([
    { name: 'the first answer is the average', previous: undefined, answer: 80, expected: 80 },
    { name: 'one slow answer moves it a fifth of the way', previous: 100, answer: 600, expected: 200 },
    { name: 'capped at the timeout', previous: undefined, answer: 9_000, expected: 3_000 },
    { name: 'never negative (clock skew)', previous: undefined, answer: -50, expected: 0 },
  ])('$name', ({ previous, answer, expected }) => {
    expect(nextAnswerMs(previous, answer, 3_000)).toBe(expected);
  });
});

describe('planForUnanswered', () => {
  const SLOT = NOW - 400;
  const withResult = (verdict: RegionVerdict, lastResultAt: number): RegionVerdict => ({ ...verdict, lastResultAt });
  const cases: Array<{
    name: string; verdicts: Record<string, RegionVerdict>; now?: number; trigger?: 'schedule' | 'confirmation';
    pending?: Record<string, PendingConfirmation>; earlyConfirmed?: Record<string, number>; usual?: number;
    retries?: number; otherRegions?: boolean; inMaintenance?: boolean; expected: string;
  }> = [
    {
      name: 'silent past its budget: a retry in its region and every other region, all at once',
      verdicts: { a: v('up'), b: v('up'), c: v('up') }, expected: 'confirm a:retry:0 b:other-region:0 c:other-region:0',
    },
    { name: 'within its budget: look again when it ends', now: SLOT + 100, verdicts: { a: v('up'), b: v('up') }, expected: `wait ${SLOT + 300}` },
    { name: 'a usually slow region gets a longer budget', usual: 200, verdicts: { a: v('up'), b: v('up') }, expected: `wait ${SLOT + 550}` },
    { name: 'answered (a result of this slot is in)', verdicts: { a: withResult(v('up'), SLOT), b: v('up') }, expected: 'done answered' },
    { name: 'answered by a later slot', verdicts: { a: withResult(v('up'), SLOT + 1), b: v('up') }, expected: 'done answered' },
    { name: 'past its timeout and grace: lost', now: SLOT + 2_000 + CONFIRMATION_GRACE_MS + 1, verdicts: { a: v('up'), b: v('up') }, expected: 'done expired' },
    { name: 'confirmed already (another coordinator)', earlyConfirmed: { a: SLOT }, verdicts: { a: v('up'), b: v('up') }, expected: 'done already-confirmed' },
    { name: 'a silent confirmation run confirms nothing early', trigger: 'confirmation', verdicts: { a: v('up'), b: v('up') }, expected: 'done not-applicable' },
    { name: 'a region already down: nothing to confirm', verdicts: { a: v('down', 2), b: v('up') }, expected: 'done not-applicable' },
    { name: 'a region without data (no agent): nothing to confirm', verdicts: { a: v('no-data'), b: v('up') }, expected: 'done not-applicable' },
    { name: 'not a region of the check', verdicts: { b: v('up') }, expected: 'done not-applicable' },
    { name: 'maintenance: nothing', inMaintenance: true, verdicts: { a: v('up'), b: v('up') }, expected: 'done not-applicable' },
    {
      name: 'pending, down and silent regions are not asked again',
      verdicts: { a: v('up'), b: v('up'), c: v('down', 2), d: v('no-data'), e: v('up') }, pending: { b: pendingAt(NOW - 10) },
      expected: 'confirm a:retry:0 e:other-region:0',
    },
    { name: 'retries 0: only the other regions', retries: 0, verdicts: { a: v('up'), b: v('up') }, expected: 'confirm b:other-region:0' },
    { name: 'other regions off: only the retry', otherRegions: false, verdicts: { a: v('up'), b: v('up') }, expected: 'confirm a:retry:0' },
    {
      name: 'a region already failing (streak 1) is confirmed too: its silence is the second failure in the making',
      verdicts: { a: v('up', 1), b: v('up') }, expected: 'confirm a:retry:0 b:other-region:0',
    },
  ];
  it.each(cases)('$name', (c) => {
    const now = c.now ?? NOW;
    const decision = planForUnanswered({
      run: { checkId: 'web', region: 'a', scheduledAt: SLOT, trigger: c.trigger ?? 'schedule' },
      verdicts: c.verdicts, pending: c.pending ?? {}, earlyConfirmed: c.earlyConfirmed ?? {}, usualAnswerMs: c.usual,
      policy: policy(c.retries ?? 1, c.otherRegions ?? true), timeoutMs: 2_000, inMaintenance: c.inMaintenance ?? false, now,
    });
    const shown = decision.kind === 'confirm'
      ? ['confirm', ...decision.planned.map((p) => `${p.region}:${p.reason}:${p.delayMs}`)].join(' ')
      : decision.kind === 'wait' ? `wait ${decision.until}` : `done ${decision.reason}`;
    expect(shown).toBe(c.expected);
    if (decision.kind === 'confirm') {
      for (const p of decision.planned) expect(p).toMatchObject({ after: 'silence', scheduledAt: now, expiresAt: now + 2_000 + CONFIRMATION_GRACE_MS });
    }
  });
});
