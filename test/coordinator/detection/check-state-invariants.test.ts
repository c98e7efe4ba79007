/**
 * Invariants of the decision path (check-state.ts over verdict, incident, confirmation and flapping), over
 * many seeded random histories: results of every outcome arriving late, out of order and twice, agents
 * coming and going, sweeps, maintenance windows, and random thresholds and alert policies. Each history
 * is reproducible from its seed (printed with any failure).
 */
import { describe, expect, it } from 'vitest';
import type { StoredCheck } from '../../../checks/contract.ts';
import { emptyCheckState, resultTransition, sweepCheck, type CheckState, type Transition } from '../../../coordinator/detection/check-state.ts';
import type { Incident } from '../../../coordinator/detection/incident.ts';
import { httpCheck, runResult } from '../support.ts';

const REGIONS = ['a', 'b', 'c'];
const SEEDS = 250;
const STEPS = 60;

/** A small deterministic generator (LCG), so that a failing history can be replayed from its seed. */
function random(seed: number): () => number {
  let state = seed;
  return () => { state = (state * 1_103_515_245 + 12_345) % 2_147_483_648; return state / 2_147_483_648; };
}

interface Options { confirmations: boolean }

/** Runs one random history and returns the first broken invariant (null when all held). */
function history(seed: number, options: Options): string | null {
  const r = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
  const check: StoredCheck = {
    definition: httpCheck('web', {
      regions: REGIONS, frequencyMs: 1_000, timeoutMs: 500,
      failureThreshold: 1 + Math.floor(r() * 2), successThreshold: 1 + Math.floor(r() * 2),
      alerting: {
        flapping: false,
        ...(r() < 0.5 ? { global: { regions: 1 + Math.floor(r() * 3), forMs: Math.floor(r() * 3_000) } } : {}),
        ...(r() < 0.3 ? { reminderEveryMs: 10_000 } : {}),
      },
    }),
    version: 1, updatedAt: 0,
  };
  const defaultScope = check.definition.alerting?.global === undefined;
  let ids = 0;
  const newId = (): string => `i${++ids}`;
  let state: CheckState = emptyCheckState(check);
  let now = 0;
  let inMaintenance = false;
  const live = new Set(REGIONS);
  const seen: ReturnType<typeof runResult>[] = [];
  const steps: string[] = [];
  const open = new Map<string, number>();
  const fail = (what: string): string => `seed ${seed}: ${what}\n  after ${steps.join(' ')}`;
  const context = () => ({ confirmations: options.confirmations, inMaintenance });
  // A transition that changes nothing but time: what any transition at `now` would emit anyway.
  const idle = (): Transition => resultTransition(state, check, runResult({ checkId: 'web', region: 'a', scheduledAt: 0, outcome: 'error' }), now, newId, context());

  for (let step = 0; step < STEPS; step++) {
    now += Math.floor(r() * 700);
    const kind = r();
    let t: Transition;
    if (kind < 0.1) {
      const region = pick(REGIONS);
      if (live.has(region)) live.delete(region); else live.add(region);
      steps.push(`live=${[...live].join('+')}@${now}`);
      t = sweepCheck(state, check, live, now, newId, context());
    } else if (kind < 0.2) {
      if (r() < 0.2) inMaintenance = !inMaintenance;
      steps.push(`sweep${inMaintenance ? '(maintenance)' : ''}@${now}`);
      t = sweepCheck(state, check, live, now, newId, context());
    } else if (kind < 0.27 && seen.length > 0) {
      const again = pick(seen);
      steps.push(`again:${again.region}:${again.outcome}@${again.scheduledAt}/${now}`);
      const expected = idle().events.map((e) => e.type);
      t = resultTransition(state, check, again, now, newId, context());
      if (!options.confirmations && t.events.map((e) => e.type).join() !== expected.join()) return fail(`a duplicate result emitted ${t.events.map((e) => e.type)}`);
    } else {
      const o = r();
      const outcome = o < 0.45 ? 'pass' : o < 0.85 ? 'fail' : 'error';
      const result = runResult({ checkId: 'web', region: pick(REGIONS), scheduledAt: now - Math.floor(r() * 1_500), outcome });
      seen.push(result);
      steps.push(`${result.region}:${outcome}@${result.scheduledAt}/${now}`);
      const expected = idle().events.map((e) => e.type);
      t = resultTransition(state, check, result, now, newId, context());
      // With confirmations on, an agent error may answer a pending confirmation and so end the wait for
      // it (the same decision the confirmation's expiry would make later); without them it changes nothing.
      if (outcome === 'error' && !options.confirmations && t.events.map((e) => e.type).join() !== expected.join()) {
        return fail(`an agent error emitted ${t.events.map((e) => e.type)}`);
      }
    }

    const failingBefore = state.incident?.failingRegions ?? [];
    for (const event of t.events) {
      if (!('incident' in event) || event.type === 'incident.reminder') continue;
      const incident: Incident = event.incident;
      if (event.type === 'incident.opened') {
        if (open.size > 0) return fail('a second incident opened while one was open');
        if (!Object.values(t.state.verdicts).some((v) => v.status === 'down')) return fail('an incident opened with no region down');
        open.set(incident.id, incident.seq);
        continue;
      }
      const previous = open.get(incident.id);
      if (previous === undefined) return fail(`${event.type} for an incident that is not open`);
      if (incident.seq !== previous + 1) return fail(`${event.type} skipped from seq ${previous} to ${incident.seq}`);
      if (event.type === 'incident.resolved') open.delete(incident.id);
      else open.set(incident.id, incident.seq);
      const newlyDown = incident.failingRegions.some((region) => !failingBefore.includes(region) && t.state.verdicts[region]?.status === 'down');
      if (event.type === 'incident.updated' && event.escalated && defaultScope && !newlyDown) return fail('escalated with no newly failing region');
    }
    if ((t.state.incident !== null) !== (open.size > 0)) return fail('the stored incident and the events disagree');
    if (t.events.length > 0 && inMaintenance) return fail(`emitted ${t.events.map((e) => e.type)} during maintenance`);
    state = t.state;
  }

  // Every region back and passing: nothing may stay open.
  inMaintenance = false;
  for (let round = 0; round < 3; round++) {
    for (const region of REGIONS) {
      now += 10;
      state = resultTransition(state, check, runResult({ checkId: 'web', region, scheduledAt: now, outcome: 'pass' }), now, newId, context()).state;
    }
  }
  return state.incident === null ? null : fail(`incident ${state.incident.id} stays open with every region passing`);
}

describe('decision path invariants over random histories', () => {
  it.each([{ confirmations: false }, { confirmations: true }])('hold with confirmations $confirmations', (options) => {
    const broken: string[] = [];
    for (let seed = 1; seed <= SEEDS && broken.length < 3; seed++) {
      const problem = history(seed, options);
      if (problem) broken.push(problem);
    }
    expect(broken).toEqual([]);
  });
});
