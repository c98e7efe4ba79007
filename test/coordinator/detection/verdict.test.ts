import { describe, expect, it } from 'vitest';
import { applyResult, initialVerdict, isStale, markNoData, type VerdictPolicy } from '../../../coordinator/detection/verdict.ts';
import { DEFAULT_VERDICT_POLICY, playVerdict } from './verdict-steps.ts';

const policy = DEFAULT_VERDICT_POLICY;
const play = playVerdict;

describe('verdict state machine', () => {
  const cases: Array<{ name: string; steps: string; policy?: VerdictPolicy; expected: string }> = [
    { name: 'first pass makes a fresh region up at once', steps: 'P', expected: 'up' },
    { name: 'one failure below the threshold keeps up', steps: 'PF', expected: 'up up' },
    { name: 'failureThreshold consecutive failures make it down', steps: 'PFF', expected: 'up up down' },
    { name: 'a pass in between resets the failure streak', steps: 'PFPF', expected: 'up up up up' },
    { name: 'threshold 1 goes down on the first failure', steps: 'PF', policy: { failureThreshold: 1, successThreshold: 1 }, expected: 'up down' },
    { name: 'threshold 3 needs three failures', steps: 'PFFF', policy: { failureThreshold: 3, successThreshold: 2 }, expected: 'up up up down' },
    { name: 'down needs successThreshold passes to recover (hysteresis)', steps: 'FFPP', expected: 'no-data down down up' },
    { name: 'a failure during recovery restarts the success count', steps: 'FFPFPP', expected: 'no-data down down down down up' },
    { name: 'agent errors neither fail nor recover', steps: 'PEEEE', expected: 'up up up up up' },
    { name: 'agent errors do not break a failure streak', steps: 'PFEF', expected: 'up up up down' },
    { name: 'agent errors do not count as recovery', steps: 'FFEEP', expected: 'no-data down down down down' },
    { name: 'no-data then pass: a region last up is up at once', steps: 'PNP', expected: 'up no-data up' },
    { name: 'no-data then pass: a region last down must prove recovery', steps: 'FFNPP', expected: 'no-data down no-data no-data up' },
    { name: 'no-data resets streaks: one failure after silence is not down', steps: 'PFNF', expected: 'up up no-data no-data' },
    { name: 'a fresh region that fails stays no-data until the threshold', steps: 'F', expected: 'no-data' },
  ];
  it.each(cases)('$name', ({ steps, policy: p, expected }) => {
    expect(play(steps, p).statuses).toBe(expected);
  });

  it('ignores results scheduled at or before the newest applied one (out of order, duplicate)', () => {
    let v = applyResult(initialVerdict(0), { outcome: 'pass', scheduledAt: 5_000, error: null }, policy, 5_000);
    const afterOld = applyResult(v, { outcome: 'fail', scheduledAt: 4_000, error: { code: 'TIMEOUT', message: '' } }, policy, 6_000);
    expect(afterOld).toBe(v);
    const duplicate = applyResult(v, { outcome: 'pass', scheduledAt: 5_000, error: null }, policy, 6_000);
    expect(duplicate).toBe(v);
    v = applyResult(v, { outcome: 'fail', scheduledAt: 6_000, error: { code: 'TIMEOUT', message: 'slow' } }, policy, 6_000);
    expect(v.consecutiveFailures).toBe(1);
    expect(v.lastResultAt).toBe(6_000);
  });

  it('records the last failure and the start of the failure streak', () => {
    const { verdict } = play('PFF');
    expect(verdict.lastFailure).toEqual({ code: 'TIMEOUT', message: 'm2', at: 3_000 });
    expect(verdict.failingSince).toBe(2_000);
    expect(verdict.since).toBe(3_000);
    expect(play('PFFP').verdict.failingSince).toBeNull();
  });

  it('keeps the outage start of a down region through no-data, but drops a partial streak of an up region', () => {
    expect(play('FFN').verdict.failingSince).toBe(1_000);
    // Regression: an up region with one failure then silence used to keep failingSince, so a failure
    // days later opened an incident whose firstFailureAt was the old, unrelated failure.
    const upThenSilent = play('PFN').verdict;
    expect(upThenSilent.failingSince).toBeNull();
    expect(applyResult(upThenSilent, { outcome: 'fail', scheduledAt: 9_000, error: { code: 'TIMEOUT', message: '' } }, policy, 9_000).failingSince).toBe(9_000);
  });

  it('markNoData returns the same object when already no-data', () => {
    const v = initialVerdict(0);
    expect(markNoData(v, 10)).toBe(v);
  });

  const timing = { frequencyMs: 1_000, timeoutMs: 500, deployedAt: 10_000 };
  const staleCases: Array<{ name: string; lastResultAt: number | null; now: number; alive: boolean; stale: boolean }> = [
    { name: 'no live agent is stale at once', lastResultAt: 12_000, now: 12_001, alive: false, stale: true },
    { name: 'fresh result is not stale', lastResultAt: 12_000, now: 14_000, alive: true, stale: false },
    { name: 'exactly two intervals plus timeout is not stale yet', lastResultAt: 12_000, now: 14_500, alive: true, stale: false },
    { name: 'past two intervals plus timeout is stale', lastResultAt: 12_000, now: 14_501, alive: true, stale: true },
    { name: 'never reported: measured from deployment (fresh)', lastResultAt: null, now: 12_000, alive: true, stale: false },
    { name: 'never reported: measured from deployment (stale)', lastResultAt: null, now: 12_501, alive: true, stale: true },
  ];
  it.each(staleCases)('isStale: $name', ({ lastResultAt, now, alive, stale }) => {
    expect(isStale({ ...initialVerdict(0), lastResultAt }, now, timing, alive)).toBe(stale);
  });

  // The coordinator judging has seen Redis only since `judgedFrom` (Redis or its link was away).
  const judgedCases: Array<{ name: string; lastResultAt: number | null; now: number; judgedFrom: number; alive: boolean; stale: boolean }> = [
    { name: 'silence while the control plane was away does not count', lastResultAt: 12_000, now: 40_000, judgedFrom: 39_000, alive: true, stale: false },
    { name: 'it counts from the return on: two intervals plus timeout after it', lastResultAt: 12_000, now: 41_501, judgedFrom: 39_000, alive: true, stale: true },
    { name: 'a result newer than the return is the reference', lastResultAt: 40_000, now: 42_000, judgedFrom: 39_000, alive: true, stale: false },
    { name: 'no live agent is stale whatever the return', lastResultAt: 12_000, now: 40_000, judgedFrom: 39_000, alive: false, stale: true },
  ];
  it.each(judgedCases)('isStale after the control plane was away: $name', ({ lastResultAt, now, judgedFrom, alive, stale }) => {
    expect(isStale({ ...initialVerdict(0), lastResultAt }, now, timing, alive, judgedFrom)).toBe(stale);
  });
});

describe('results that arrive already stale (a spool flushed after an outage)', () => {
  const stalePolicy: VerdictPolicy = { ...policy, staleAfterMs: 2_500 };
  const pass = (scheduledAt: number) => ({ outcome: 'pass' as const, scheduledAt, error: null });
  const fail = (scheduledAt: number) => ({ outcome: 'fail' as const, scheduledAt, error: { code: 'TIMEOUT', message: '' } });
  const silentSince = (at: number) => markNoData(applyResult(initialVerdict(0), pass(1_000), stalePolicy, 1_000), at);

  it('leave a no-data region no-data (no up → no-data → up flicker), but are recorded as history', () => {
    const before = silentSince(5_000);
    const after = applyResult(before, pass(6_000), stalePolicy, 60_000);
    expect(after).toMatchObject({ status: 'no-data', since: 5_000, lastResultAt: 6_000, consecutiveSuccesses: 1 });
    // The next sweep finds it as silent as before: nothing to flip.
    expect(isStale(after, 60_500, { frequencyMs: 1_000, timeoutMs: 500, deployedAt: 0 }, true)).toBe(true);
  });

  it('a fresh result after them brings the region back, counting the stale ones in its streak', () => {
    let v = applyResult(silentSince(5_000), fail(6_000), stalePolicy, 60_000);
    expect(v.status).toBe('no-data');
    v = applyResult(v, fail(59_000), stalePolicy, 60_000);
    expect(v).toMatchObject({ status: 'down', consecutiveFailures: 2, failingSince: 6_000, since: 60_000 });
  });

  it('a result that is not yet stale lifts no-data as always', () => {
    expect(applyResult(silentSince(5_000), pass(58_000), stalePolicy, 60_000)).toMatchObject({ status: 'up', since: 60_000 });
  });

  it('change nothing for a region that is up or down: only no-data is held', () => {
    const up = applyResult(initialVerdict(0), pass(1_000), stalePolicy, 1_000);
    expect(applyResult(up, fail(2_000), stalePolicy, 60_000)).toMatchObject({ status: 'up', consecutiveFailures: 1, lastResultAt: 2_000 });
  });
});
