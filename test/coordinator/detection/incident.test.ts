import { describe, expect, it } from 'vitest';
import { classify, nextIncident, type Incident } from '../../../coordinator/detection/incident.ts';
import { initialVerdict, type RegionVerdict, type VerdictStatus } from '../../../coordinator/detection/verdict.ts';

/** A verdict in a status; down ones failing since `since` with a TIMEOUT at that time. */
function v(status: VerdictStatus, since = 1_000, lastKnown: 'up' | 'down' | null = status === 'no-data' ? null : status === 'degraded' ? 'up' : status): RegionVerdict {
  const down = status === 'down' || lastKnown === 'down';
  return {
    ...initialVerdict(0), status, since, lastKnown,
    lastFailure: down ? { code: 'TIMEOUT', message: `timeout since ${since}`, at: since } : null,
    failingSince: down ? since : null,
  };
}
const ids = (): (() => string) => { let n = 0; return () => `inc-${++n}`; };

/** Plays a sequence of verdict maps through nextIncident; returns the event types and the last incident. */
function play(states: Array<Record<string, RegionVerdict>>) {
  let open: Incident | null = null;
  const events: string[] = [];
  const newId = ids();
  const seen: Incident[] = [];
  states.forEach((verdicts, i) => {
    const { incident, event } = nextIncident(open, 'c1', verdicts, (i + 1) * 10_000, newId);
    events.push(event ? `${event.type.replace('incident.', '')}:${event.incident.scope}:${event.incident.failingRegions.join('+')}` : '-');
    if (event) seen.push(event.incident);
    open = incident;
  });
  return { events, open: open as Incident | null, seen };
}

describe('classify', () => {
  const cases: Array<{ name: string; verdicts: Record<string, RegionVerdict>; held?: string[]; scope: string | null; failing: string[] }> = [
    { name: 'all up: no incident', verdicts: { a: v('up'), b: v('up') }, scope: null, failing: [] },
    { name: 'one of two down: regional', verdicts: { a: v('down'), b: v('up') }, scope: 'regional', failing: ['a'] },
    { name: 'all down: global', verdicts: { a: v('down'), b: v('down') }, scope: 'global', failing: ['a', 'b'] },
    { name: 'down plus no-data only: global (no reporting region passes)', verdicts: { a: v('down'), b: v('no-data') }, scope: 'global', failing: ['a'] },
    { name: 'no-data never fails by itself', verdicts: { a: v('no-data'), b: v('up') }, scope: null, failing: [] },
    { name: 'a held region gone silent still fails', verdicts: { a: v('no-data', 1_000, 'down'), b: v('up') }, held: ['a'], scope: 'regional', failing: ['a'] },
  ];
  it.each(cases)('$name', ({ verdicts, held, scope, failing }) => {
    const c = classify(verdicts, held);
    expect(c.scope).toBe(scope);
    expect(c.failing).toEqual(failing);
  });
});

describe('nextIncident', () => {
  const up = v('up'); const down = v('down', 2_000); const none = v('no-data');
  const cases: Array<{ name: string; states: Array<Record<string, RegionVerdict>>; events: string[] }> = [
    { name: 'regional outage opens regional and resolves', states: [{ a: up, b: up }, { a: down, b: up }, { a: up, b: up }], events: ['-', 'opened:regional:a', 'resolved:regional:'] },
    { name: 'regional escalates to global', states: [{ a: down, b: up }, { a: down, b: down }], events: ['opened:regional:a', 'updated:global:a+b'] },
    { name: 'global de-escalates to regional, then resolves', states: [{ a: down, b: down }, { a: down, b: up }, { a: up, b: up }], events: ['opened:global:a+b', 'updated:regional:a', 'resolved:regional:'] },
    { name: 'no-data never opens an incident', states: [{ a: none, b: none }, { a: none, b: up }], events: ['-', '-'] },
    { name: 'no-data never escalates: a passing region going silent does not make it global', states: [{ a: down, b: up }, { a: down, b: none }], events: ['opened:regional:a', '-'] },
    { name: 'after the passing region went silent, a newly failing region still escalates', states: [{ a: down, b: up, c: up }, { a: down, b: none, c: up }, { a: down, b: none, c: down }], events: ['opened:regional:a', '-', 'updated:global:a+c'] },
    { name: 'a failing region going silent stays held (no resolve)', states: [{ a: down, b: up }, { a: v('no-data', 2_000, 'down'), b: up }], events: ['opened:regional:a', '-'] },
    { name: 'a held silent region resolves when it reports up again', states: [{ a: down, b: up }, { a: v('no-data', 2_000, 'down'), b: up }, { a: up, b: up }], events: ['opened:regional:a', '-', 'resolved:regional:'] },
    { name: 'a held region removed from the check no longer holds the incident', states: [{ a: down, b: up }, { b: up }], events: ['opened:regional:a', 'resolved:regional:'] },
    { name: 'a change only in passing regions emits nothing', states: [{ a: down, b: up, c: up }, { a: down, b: up, c: none }], events: ['opened:regional:a', '-'] },
    { name: 'a second failing region updates the failing set', states: [{ a: down, b: up, c: up }, { a: down, b: down, c: up }], events: ['opened:regional:a', 'updated:regional:a+b'] },
  ];
  it.each(cases)('$name', ({ states, events }) => {
    expect(play(states).events).toEqual(events);
  });

  it('numbers transitions with seq and keeps the incident id', () => {
    const { seen } = play([{ a: down, b: up }, { a: down, b: down }, { a: up, b: up }]);
    expect(seen.map((i) => [i.id, i.seq])).toEqual([['inc-1', 1], ['inc-1', 2], ['inc-1', 3]]);
    expect(seen[2]!.resolvedAt).toBe(30_000);
    expect(seen[2]!.failingRegions).toEqual([]);
  });

  it('dates the incident from the earliest failure streak and keeps last errors per failing region', () => {
    const { open } = play([{ a: v('down', 3_000), b: v('down', 1_500) }]);
    expect(open!.firstFailureAt).toBe(1_500);
    expect(open!.openedAt).toBe(10_000);
    expect(Object.keys(open!.lastErrors).sort()).toEqual(['a', 'b']);
    expect(open!.lastErrors.b!.code).toBe('TIMEOUT');
  });

  it('a new outage after resolution gets a new id', () => {
    const { seen } = play([{ a: down, b: up }, { a: up, b: up }, { a: down, b: up }]);
    expect(seen.map((i) => i.id)).toEqual(['inc-1', 'inc-1', 'inc-2']);
  });
});
