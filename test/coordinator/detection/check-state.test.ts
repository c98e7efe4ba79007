import { describe, expect, it } from 'vitest';
import type { StoredCheck } from '../../../checks/contract.ts';
import { alignRegions, emptyCheckState, resultTransition, retireCheck, sweepCheck, type CheckState } from '../../../coordinator/detection/check-state.ts';
import { initialVerdict } from '../../../coordinator/detection/verdict.ts';
import { httpCheck, runResult } from '../support.ts';

const stored = (overrides: Record<string, unknown> = {}, updatedAt = 0): StoredCheck =>
  ({ definition: httpCheck('web', { frequencyMs: 1_000, timeoutMs: 500, failureThreshold: 1, ...overrides }), version: 1, updatedAt });
const ids = () => { let n = 0; return () => `i${++n}`; };
const live = new Set(['us-east', 'eu-west']);

/** Applies results (region:outcome@time) in order; returns the final state and every event type. */
function run(check: StoredCheck, steps: string[]): { state: CheckState; events: string[] } {
  let state = emptyCheckState(check);
  const events: string[] = [];
  const newId = ids();
  for (const step of steps) {
    const [, region, outcome, at] = /^(.+):(pass|fail|error)@(\d+)$/.exec(step)!;
    const t = resultTransition(state, check, runResult({ checkId: 'web', region: region!, scheduledAt: Number(at), outcome: outcome as 'pass' }), Number(at), newId);
    events.push(...t.events.map((e) => e.type));
    state = t.state;
  }
  return { state, events };
}

describe('check state', () => {
  it('starts every region no-data at the deployment time and drops removed regions', () => {
    const check = stored({}, 500);
    const aligned = alignRegions({ ...emptyCheckState(check), verdicts: { 'ap-south': { ...initialVerdict(0), status: 'up' } } }, check);
    expect(Object.keys(aligned.verdicts)).toEqual(['us-east', 'eu-west']);
    expect(aligned.verdicts['us-east']).toMatchObject({ status: 'no-data', since: 500 });
  });

  const cases: Array<{ name: string; steps: string[]; events: string[]; statuses: string }> = [
    { name: 'a regional failure opens a regional incident', steps: ['eu-west:pass@1', 'us-east:fail@1'], events: ['incident.opened'], statuses: 'down up' },
    { name: 'failing everywhere escalates it', steps: ['eu-west:pass@1', 'us-east:fail@1', 'eu-west:fail@2'], events: ['incident.opened', 'incident.updated'], statuses: 'down down' },
    { name: 'agent errors change nothing', steps: ['eu-west:pass@1', 'us-east:error@1', 'us-east:error@2'], events: [], statuses: 'no-data up' },
    { name: 'recovery resolves (successThreshold 2)', steps: ['eu-west:pass@1', 'us-east:fail@1', 'us-east:pass@2', 'us-east:pass@3'], events: ['incident.opened', 'incident.resolved'], statuses: 'up up' },
  ];
  it.each(cases)('$name', ({ steps, events, statuses }) => {
    const result = run(stored(), steps);
    expect(result.events).toEqual(events);
    expect(Object.values(result.state.verdicts).map((v) => v.status).join(' ')).toBe(statuses);
  });

  it('builds alert events with the check name and a deterministic id', () => {
    const check = stored();
    const t = resultTransition(emptyCheckState(check), check, runResult({ checkId: 'web', region: 'us-east', scheduledAt: 10, outcome: 'fail' }), 10, () => 'inc-1');
    expect(t.events).toEqual([expect.objectContaining({ id: 'inc-1:1', type: 'incident.opened', at: 10, check: { id: 'web', name: 'Check web' } })]);
    expect(t.verdictChanges).toEqual([{ region: 'us-east', from: 'no-data', to: 'down' }]);
  });

  it('sweeps silent regions to no-data without opening anything, and is a no-op when nothing is stale', () => {
    const check = stored();
    const { state } = run(check, ['eu-west:pass@1000', 'us-east:pass@1000']);
    expect(sweepCheck(state, check, live, 2_000, ids()).changed).toBe(false);
    // us-east loses its agent.
    const noAgent = sweepCheck(state, check, new Set(['eu-west']), 2_000, ids());
    expect(noAgent.verdictChanges).toEqual([{ region: 'us-east', from: 'up', to: 'no-data' }]);
    expect(noAgent.events).toEqual([]);
    // Everything silent for more than 2 × 1000 + 500 ms.
    const silent = sweepCheck(state, check, live, 3_501, ids());
    expect(Object.values(silent.state.verdicts).map((v) => v.status)).toEqual(['no-data', 'no-data']);
    expect(silent.state.incident).toBeNull();
  });

  it('retiring a check resolves its open incident', () => {
    const { state } = run(stored(), ['eu-west:pass@1', 'us-east:fail@1']);
    const t = retireCheck(state, 99);
    expect(t.events.map((e) => e.type)).toEqual(['incident.resolved']);
    expect(t.resolved).toMatchObject({ resolvedAt: 99 });
    expect(t.state.incident).toBeNull();
  });
});
