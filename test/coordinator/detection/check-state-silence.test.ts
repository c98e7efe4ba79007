/**
 * A silent run (a target that drops packets) through the whole check transition, with exact times: its
 * confirmations start once its budget is over, not after its timeout; its failure then plans nothing more;
 * the retry decides. Pure (check-state.ts).
 */
import { describe, expect, it } from 'vitest';
import type { RunResult, StoredCheck } from '../../../checks/contract.ts';
import { emptyCheckState, resultTransition, sweepCheck, unansweredTransition, type CheckState } from '../../../coordinator/detection/check-state.ts';
import { httpCheck, runResult } from '../support.ts';

const REGIONS = ['a', 'b', 'c'];
const check: StoredCheck = { definition: httpCheck('web', { regions: REGIONS, frequencyMs: 10_000, timeoutMs: 3_000 }), version: 1, updatedAt: 0 };
const context = { confirmations: true };
const newId = () => 'inc-1';

function apply(state: CheckState, result: Partial<RunResult> & { region: string; scheduledAt: number }, now: number) {
  return resultTransition(state, check, runResult({ checkId: 'web', ...result }), now, newId, context);
}
const silent = (state: CheckState, scheduledAt: number, now: number, trigger: 'schedule' | 'confirmation' = 'schedule') =>
  unansweredTransition(state, check, { checkId: 'web', region: 'a', scheduledAt, trigger }, now, newId, context);

/** Every region up, answering 20 ms after its slot. */
function upEverywhere(): CheckState {
  let state = emptyCheckState(check);
  for (const region of REGIONS) state = apply(state, { region, scheduledAt: 0 }, 20).state;
  return state;
}

describe('a silent run', () => {
  it('starts its confirmations when its budget ends, and the retry decides the outage about a timeout after the slot', () => {
    let state = upEverywhere();
    expect(state.answerMs).toEqual({ a: 20, b: 20, c: 20 });

    // Within its budget (300 ms, the shortest: this target answers in 20 ms): nothing yet.
    const early = silent(state, 10_000, 10_100);
    expect(early.decision).toEqual({ kind: 'wait', until: 10_300 });
    expect(early.transition.changed).toBe(false);

    const due = silent(state, 10_000, 10_300);
    expect(due.decision.kind).toBe('confirm');
    expect(due.transition.confirmations.map((c) => `${c.region}:${c.reason}+${c.delayMs}`)).toEqual(['a:retry+0', 'b:other-region+0', 'c:other-region+0']);
    expect(due.transition.events).toEqual([]);
    expect(due.transition.verdictChanges).toEqual([]);
    state = due.transition.state;
    expect(state.verdicts.a).toMatchObject({ status: 'up', consecutiveFailures: 0 });
    expect(state.earlyConfirmed).toEqual({ a: 10_000 });

    // Another coordinator looking at the same run plans nothing.
    expect(silent(state, 10_000, 10_350).decision).toEqual({ kind: 'done', reason: 'already-confirmed' });

    // The other regions answer: they pass.
    state = apply(state, { region: 'b', scheduledAt: 10_300, trigger: 'confirmation' }, 10_320).state;
    state = apply(state, { region: 'c', scheduledAt: 10_300, trigger: 'confirmation' }, 10_320).state;
    // The silent run times out: a failure, but no second round of confirmations, and no incident yet
    // (its retry is out).
    const timedOut = apply(state, { region: 'a', scheduledAt: 10_000, startedAt: 10_000, outcome: 'fail', error: { code: 'CONNECT_TIMEOUT', message: 'timed out' } }, 13_010);
    expect(timedOut.confirmations).toEqual([]);
    expect(timedOut.events).toEqual([]);
    state = timedOut.state;
    expect(state.earlyConfirmed).toBeUndefined();
    // The retry, started at 10 300, times out too: a is down, the incident opens regional.
    const decided = apply(state, { region: 'a', scheduledAt: 10_300, startedAt: 10_300, trigger: 'confirmation', outcome: 'fail', error: { code: 'CONNECT_TIMEOUT', message: 'timed out' } }, 13_310);
    expect(decided.events.map((e) => e.type)).toEqual(['incident.opened']);
    expect(decided.state.incident).toMatchObject({ scope: 'regional', failingRegions: ['a'], passingRegions: ['b', 'c'] });
  });

  it('is not counted when it answers late but passes: only its region\'s usual answer time grows', () => {
    let state = silent(upEverywhere(), 10_000, 10_300).transition.state;
    const late = apply(state, { region: 'a', scheduledAt: 10_000 }, 12_500);
    expect(late.events).toEqual([]);
    expect(late.confirmations).toEqual([]);
    state = late.state;
    expect(state.verdicts.a).toMatchObject({ status: 'up', consecutiveFailures: 0 });
    expect(state.answerMs?.a).toBe(Math.round(20 + 0.2 * (2_500 - 20)));
  });

  it('a failure of a slot not confirmed early plans its confirmations as before', () => {
    const t = apply(upEverywhere(), { region: 'a', scheduledAt: 10_000, startedAt: 10_000, outcome: 'fail' }, 10_005);
    expect(t.confirmations.map((c) => `${c.region}:${c.reason}+${c.delayMs}`)).toEqual(['a:retry+995', 'b:other-region+0', 'c:other-region+0']);
  });

  it('forgets an early-confirmed mark once its run can no longer answer', () => {
    const state = silent(upEverywhere(), 10_000, 10_300).transition.state;
    expect(sweepCheck(state, check, new Set(REGIONS), 12_000, newId).state.earlyConfirmed).toEqual({ a: 10_000 });
    expect(sweepCheck(state, check, new Set(REGIONS), 10_000 + 3_000 + 10_001, newId).state.earlyConfirmed).toBeUndefined();
  });
});
