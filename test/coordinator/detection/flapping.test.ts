import { describe, expect, it } from 'vitest';
import { initialFlapState, isTargetStateChange, nextFlapState, type FlapState } from '../../../coordinator/detection/flapping.ts';

const rule = { changes: 3, windowMs: 10_000, stableForMs: 5_000 };

/**
 * Plays events at their times: `c@t` a state change at t, `t@t` a tick (re-evaluation) at t. Returns the
 * transitions seen (`-` for none) and the final state.
 */
function play(events: string[]): { transitions: string; state: FlapState } {
  let state = initialFlapState();
  const seen: string[] = [];
  for (const event of events) {
    const [kind, at] = event.split('@') as [string, string];
    const next = nextFlapState(state, rule, Number(at), kind === 'c');
    seen.push(next.transition ?? '-');
    state = next.state;
  }
  return { transitions: seen.join(' '), state };
}

describe('flapping', () => {
  const cases: Array<{ name: string; events: string[]; transitions: string }> = [
    { name: 'changes up to the limit are not flapping', events: ['c@1000', 'c@2000', 'c@3000'], transitions: '- - -' },
    { name: 'one change more than the limit within the window starts flapping, once', events: ['c@1000', 'c@2000', 'c@3000', 'c@4000', 'c@5000'], transitions: '- - - started -' },
    { name: 'changes spread wider than the window never flap', events: ['c@1000', 'c@6000', 'c@11001', 'c@16002', 'c@21003'], transitions: '- - - - -' },
    { name: 'stable for stableFor ends it', events: ['c@1000', 'c@2000', 'c@3000', 'c@4000', 't@8999', 't@9000'], transitions: '- - - started - ended' },
    { name: 'a change while flapping postpones the end', events: ['c@1000', 'c@2000', 'c@3000', 'c@4000', 'c@8000', 't@9000', 't@13000'], transitions: '- - - started - - ended' },
    { name: 'after it ends, it takes a fresh burst of changes to flap again', events: ['c@1000', 'c@2000', 'c@3000', 'c@4000', 't@9000', 'c@9500', 'c@9600'], transitions: '- - - started ended - -' },
  ];
  it.each(cases)('$name', ({ events, transitions }) => {
    expect(play(events).transitions).toBe(transitions);
  });

  it('keeps a bounded list of changes and forgets old ones', () => {
    const { state } = play(['c@1000', 'c@1100', 'c@1200', 'c@1300', 'c@1400', 'c@1500', 'c@1600']);
    expect(state.changes).toHaveLength(rule.changes + 1);
    const quiet = nextFlapState({ changes: [1_000, 2_000], flappingSince: null, lastChangeAt: 2_000 }, rule, 11_500, false);
    expect(quiet.state.changes).toEqual([2_000]);
  });

  it('returns the same state when nothing changes', () => {
    const state: FlapState = { changes: [5_000], flappingSince: null, lastChangeAt: 5_000 };
    expect(nextFlapState(state, rule, 6_000, false).state).toBe(state);
  });

  it.each([
    ['up', 'down', true], ['down', 'up', true], ['degraded', 'down', true], ['down', 'degraded', true],
    ['up', 'degraded', false], ['no-data', 'down', false], ['down', 'no-data', false], ['up', 'up', false],
  ] as const)('%s → %s counts as a target state change: %s', (from, to, counts) => {
    expect(isTargetStateChange(from, to)).toBe(counts);
  });
});
