/**
 * Flapping of one (check, region), as a pure state machine. A region that changes between up and down
 * more than `changes` times within `windowMs` is flapping; it stops flapping once it has kept one state
 * for `stableForMs`. Only target state changes count (up or degraded ↔ down); no-data does not.
 *
 * While a region flaps, the incident logic counts it as failing (see check-state.ts): the incident
 * stays open instead of opening and resolving with every change, and one `check.flapping` notice is
 * the only thing sent until the region is stable again.
 */
import type { FlappingRule } from './policy.ts';

export interface FlapState {
  /** Times of the recent state changes, oldest first; at most `changes + 1` are kept. */
  changes: number[];
  flappingSince: number | null;
  lastChangeAt: number | null;
}

export type FlapTransition = 'started' | 'ended' | null;

export function initialFlapState(): FlapState {
  return { changes: [], flappingSince: null, lastChangeAt: null };
}

/** Whether a verdict change is a target state change (the kind that counts toward flapping). */
export function isTargetStateChange(from: string, to: string): boolean {
  const side = (status: string): 'up' | 'down' | null => (status === 'up' || status === 'degraded' ? 'up' : status === 'down' ? 'down' : null);
  const a = side(from);
  const b = side(to);
  return a !== null && b !== null && a !== b;
}

/**
 * Records a change at `at` (when `changed`) and re-evaluates at `now`. Returns the new state and whether
 * flapping started or ended with it. Same object when nothing changed.
 */
export function nextFlapState(state: FlapState, rule: FlappingRule, now: number, changed: boolean): { state: FlapState; transition: FlapTransition } {
  let changes = state.changes.filter((t) => t > now - rule.windowMs);
  let lastChangeAt = state.lastChangeAt;
  if (changed) {
    changes = [...changes, now].slice(-(rule.changes + 1));
    lastChangeAt = now;
  }
  let flappingSince = state.flappingSince;
  let transition: FlapTransition = null;
  if (flappingSince === null && changes.length > rule.changes) {
    flappingSince = now;
    transition = 'started';
  } else if (flappingSince !== null && lastChangeAt !== null && now - lastChangeAt >= rule.stableForMs) {
    flappingSince = null;
    changes = [];
    transition = 'ended';
  }
  const same = !changed && transition === null && changes.length === state.changes.length;
  return same ? { state, transition } : { state: { changes, flappingSince, lastChangeAt }, transition };
}
