/**
 * Check transitions under the alert policy, played as a user would see them: results and sweeps in, events
 * out. Pure (check-state.ts), so every rule is table-driven with exact times.
 */
import { describe, expect, it } from 'vitest';
import type { RunResult, StoredCheck } from '../../../checks/contract.ts';
import { emptyCheckState, resultTransition, sweepCheck, type CheckState, type TransitionContext } from '../../../coordinator/detection/check-state.ts';
import { httpCheck, runResult } from '../support.ts';

const REGIONS = ['a', 'b', 'c'];
const live = new Set(REGIONS);
const stored = (overrides: Record<string, unknown> = {}): StoredCheck =>
  ({ definition: httpCheck('web', { regions: REGIONS, frequencyMs: 60_000, timeoutMs: 5_000, ...overrides }), version: 1, updatedAt: 0 });

/**
 * Steps: `a:pass@1000` (a result), `a:fail@2000/c` (a confirmation result), `a:slow@3000` (a pass of
 * 900 ms), `sweep@5000`. `m` after the time (`…@5000m`) runs the step in maintenance. Each result is
 * applied at its own time. Returns every event (`type[:detail]`), the planned confirmations and the state.
 */
function play(check: StoredCheck, steps: string[], base: TransitionContext = { confirmations: true }) {
  let state: CheckState = emptyCheckState(check);
  let n = 0;
  const newId = () => `inc-${++n}`;
  const events: string[] = [];
  const planned: string[] = [];
  for (const step of steps) {
    const match = /^(?:(\w+):(pass|fail|slow)|(sweep))@(\d+)(\/c)?(m)?$/.exec(step);
    if (!match) throw new Error(`bad step ${step}`);
    const [, region, kind, sweep, at, confirmation, maintenance] = match;
    const now = Number(at);
    const context = { ...base, inMaintenance: maintenance === 'm' };
    const t = sweep
      ? sweepCheck(state, check, live, now, newId, context)
      : resultTransition(state, check, result(region!, kind!, now, confirmation ? 'confirmation' : 'schedule'), now, newId, context);
    for (const e of t.events) events.push(label(e));
    planned.push(...t.confirmations.map((c) => `${c.region}+${c.delayMs}`));
    state = t.state;
  }
  return { events, planned, state };
}

function result(region: string, kind: string, at: number, trigger: RunResult['trigger']): RunResult {
  const base = runResult({ checkId: 'web', region, scheduledAt: at, trigger, outcome: kind === 'fail' ? 'fail' : 'pass' });
  return kind === 'slow' ? { ...base, timings: { ...base.timings!, totalMs: 900 } } : base;
}

function label(e: { type: string } & Record<string, any>): string {
  if (e.type.startsWith('incident.') && e.type !== 'incident.reminder') return `${e.type}:${e.incident.scope}:${e.incident.failingRegions.join('+')}${e.escalated ? ':escalated' : ''}`;
  if (e.type === 'incident.reminder') return `incident.reminder:${e.reminder}`;
  if (e.type === 'check.flapping') return `check.flapping:${e.region}:${e.state}`;
  return `${e.type}:${e.region}`;
}

describe('confirmations through check transitions', () => {
  it('a failed run plus a failed confirmation make the region down and open a regional incident at once', () => {
    const r = play(stored(), ['a:pass@1000', 'b:pass@1000', 'c:pass@1000', 'a:fail@61000', 'b:pass@61010/c', 'c:pass@61020/c', 'a:fail@62000/c']);
    expect(r.planned).toEqual(['a+1000', 'b+0', 'c+0']);
    expect(r.events).toEqual(['incident.opened:regional:a']);
    expect(r.state.confirmations).toBeUndefined();
  });

  it('opens a global outage as global: the first region down waits for the others being confirmed', () => {
    const r = play(stored(), [
      'a:pass@1000', 'b:pass@1000', 'c:pass@1000',
      'a:fail@61000', 'b:fail@61000', 'c:fail@61000',
      // a's retry comes back first: b and c are still being confirmed, so nothing opens yet.
      'a:fail@62000/c',
      'b:fail@61001/c',
      'c:fail@61002/c',
    ]);
    expect(r.events).toEqual(['incident.opened:global:a+b+c']);
  });

  it('plans nothing when confirmations are not wired (no dispatcher)', () => {
    const r = play(stored(), ['a:pass@1000', 'a:fail@61000'], {});
    expect(r.planned).toEqual([]);
  });

  it('forgets an expired confirmation on a sweep and then opens what it held back', () => {
    const r = play(stored(), [
      'a:pass@1000', 'b:pass@1000', 'c:pass@1000',
      'a:fail@61000', 'b:fail@61000', 'a:fail@62000/c',
      // b's own failure answered the fan-out, so b got a retry of its own (due 62000); it never answers
      // and expires at 62000 + 5000 (timeout) + 10000 (grace).
      'sweep@77000', 'sweep@77001',
    ]);
    expect(r.events).toEqual(['incident.opened:regional:a']);
  });
});

describe('maintenance', () => {
  it('holds incidents and notifications back, records verdicts, and lets what is still wrong open afterwards', () => {
    const r = play(stored({ failureThreshold: 1 }), ['a:pass@1000', 'b:pass@1000', 'c:pass@1000', 'a:fail@2000m', 'sweep@3000m', 'sweep@4000']);
    expect(r.planned).toEqual([]);
    expect(r.events).toEqual(['incident.opened:regional:a']);
    expect(r.state.incident?.openedAt).toBe(4_000);
  });

  it('an outage that ends during maintenance never notifies', () => {
    const r = play(stored({ failureThreshold: 1, successThreshold: 1 }), ['a:pass@1000', 'b:pass@1000', 'c:pass@1000', 'a:fail@2000m', 'a:pass@3000m', 'sweep@4000']);
    expect(r.events).toEqual([]);
  });
});

describe('flapping', () => {
  const flappy = stored({ failureThreshold: 1, successThreshold: 1, alerting: { flapping: { changes: 3, windowMs: 60_000, stableForMs: 30_000 } } });
  it('sends one notice, keeps the incident open while flapping, and resolves once stable', () => {
    const r = play(flappy, [
      'a:pass@1000', 'b:pass@1000', 'c:pass@1000',
      'a:fail@2000', 'a:pass@3000', 'a:fail@4000', 'a:pass@5000', 'a:fail@6000', 'a:pass@7000',
      'sweep@36999', 'sweep@37000',
    ], {});
    expect(r.events).toEqual([
      'incident.opened:regional:a', 'incident.resolved:regional:', 'incident.opened:regional:a',
      'check.flapping:a:started',
      'incident.resolved:regional:', 'check.flapping:a:ended',
    ]);
  });

  it('is off with flapping: false', () => {
    const r = play(stored({ failureThreshold: 1, successThreshold: 1, alerting: { flapping: false } }), [
      'a:pass@1000', 'a:fail@2000', 'a:pass@3000', 'a:fail@4000', 'a:pass@5000', 'a:fail@6000', 'a:pass@7000',
    ], {});
    expect(r.events.filter((e) => e.startsWith('check.flapping'))).toEqual([]);
    expect(r.events).toHaveLength(6);
  });
});

describe('reminders', () => {
  const reminding = stored({ failureThreshold: 1, alerting: { reminderEveryMs: 60_000 } });
  it('re-notifies every interval while the incident is open, and not during maintenance', () => {
    const r = play(reminding, ['a:pass@1000', 'b:pass@1000', 'c:pass@1000', 'a:fail@2000', 'sweep@61999', 'sweep@62000', 'sweep@121999m', 'sweep@122000m', 'sweep@122001', 'sweep@182000'], {});
    expect(r.events).toEqual(['incident.opened:regional:a', 'incident.reminder:1', 'incident.reminder:2']);
    expect(r.state.incident).toMatchObject({ reminders: 2, lastNotifiedAt: 122_001 });
  });

  it('counts from the newest notification: an update restarts the clock', () => {
    const r = play(reminding, ['a:pass@1000', 'b:pass@1000', 'c:pass@1000', 'a:fail@2000', 'b:fail@50000', 'sweep@62000', 'sweep@110000'], {});
    expect(r.events).toEqual(['incident.opened:regional:a', 'incident.updated:regional:a+b', 'incident.reminder:1']);
  });

  it('sends none by default', () => {
    const r = play(stored({ failureThreshold: 1, frequencyMs: 86_400_000 }), ['a:pass@1000', 'b:pass@1000', 'c:pass@1000', 'a:fail@2000', 'sweep@10000000'], {});
    expect(r.events).toEqual(['incident.opened:regional:a']);
  });
});

describe('degraded', () => {
  const slowAfter = { degradedAfterMs: 500 };
  it('shows degraded without an incident, and notifies only with notifyDegraded', () => {
    const quiet = play(stored(slowAfter), ['a:pass@1000', 'a:slow@2000', 'a:pass@3000'], {});
    expect(quiet.events).toEqual([]);
    const loud = play(stored({ ...slowAfter, alerting: { notifyDegraded: true } }), ['a:pass@1000', 'a:slow@2000', 'a:slow@3000', 'a:pass@4000'], {});
    expect(loud.events).toEqual(['check.degraded:a', 'check.recovered:a']);
  });

  it('says why the region degraded', () => {
    const check = stored({ ...slowAfter, alerting: { notifyDegraded: true } });
    const up = resultTransition(emptyCheckState(check), check, result('a', 'pass', 1_000, 'schedule'), 1_000, () => 'x');
    const t = resultTransition(up.state, check, result('a', 'slow', 2_000, 'schedule'), 2_000, () => 'x');
    expect(t.state.verdicts.a!.status).toBe('degraded');
    expect(t.events).toEqual([expect.objectContaining({ type: 'check.degraded', region: 'a', reason: { slowMs: 900, softFailures: [] }, id: 'check.degraded:web:a:2000' })]);
  });
});

describe('global quorum over sweeps', () => {
  it('escalates on a sweep once N regions have failed for the set time', () => {
    const r = play(stored({ failureThreshold: 1, alerting: { global: { regions: 2, forMs: 10_000 } } }), [
      'a:pass@1000', 'b:pass@1000', 'c:pass@1000', 'a:fail@2000', 'b:fail@2000', 'sweep@11999', 'sweep@12000',
    ], {});
    expect(r.events).toEqual(['incident.opened:regional:a', 'incident.updated:regional:a+b', 'incident.updated:global:a+b:escalated']);
  });
});
