/** The alert-policy rules of incidents: global quorum (N of M for X), escalation, forced and awaited regions. */
import { describe, expect, it } from 'vitest';
import { nextIncident, type Incident, type IncidentOptions } from '../../../coordinator/detection/incident.ts';
import { initialVerdict, type RegionVerdict, type VerdictStatus } from '../../../coordinator/detection/verdict.ts';

function v(status: VerdictStatus): RegionVerdict {
  const down = status === 'down';
  return {
    ...initialVerdict(0), status, lastKnown: status === 'no-data' ? null : down ? 'down' : 'up',
    lastFailure: down ? { code: 'TIMEOUT', message: 'timeout', at: 1_000 } : null, failingSince: down ? 1_000 : null,
  };
}
const U = v('up'); const D = v('down'); const N = v('no-data'); const G = v('degraded');

/** Plays (verdicts, options, time) steps; returns `type:scope:failing[:escalated]` or `-` per step. */
function play(steps: Array<{ at: number; verdicts: Record<string, RegionVerdict>; options?: IncidentOptions }>): { events: string[]; open: Incident | null } {
  let open: Incident | null = null;
  let n = 0;
  const events: string[] = [];
  for (const step of steps) {
    const { incident, event } = nextIncident(open, 'c1', step.verdicts, step.at, () => `inc-${++n}`, step.options);
    events.push(event ? `${event.type.replace('incident.', '')}:${event.incident.scope}:${event.incident.failingRegions.join('+')}${event.escalated ? ':escalated' : ''}` : '-');
    open = incident;
  }
  return { events, open };
}

describe('global quorum: N of M regions for X', () => {
  const twoFor5s = { policy: { globalRegions: 2, globalForMs: 5_000 } };
  const twoAtOnce = { policy: { globalRegions: 2, globalForMs: 0 } };
  const cases: Array<{ name: string; steps: Array<{ at: number; verdicts: Record<string, RegionVerdict>; options?: IncidentOptions }>; events: string[] }> = [
    {
      name: '2 of 3 failing is global at once with N = 2',
      steps: [{ at: 1_000, verdicts: { a: D, b: D, c: U }, options: twoAtOnce }], events: ['opened:global:a+b'],
    },
    {
      name: 'the historical rule (no N) keeps 2 of 3 regional',
      steps: [{ at: 1_000, verdicts: { a: D, b: D, c: U } }], events: ['opened:regional:a+b'],
    },
    {
      name: 'with a duration, it opens regional and escalates once the quorum has held for X',
      steps: [
        { at: 1_000, verdicts: { a: D, b: D, c: U }, options: twoFor5s },
        { at: 5_999, verdicts: { a: D, b: D, c: U }, options: twoFor5s },
        { at: 6_000, verdicts: { a: D, b: D, c: U }, options: twoFor5s },
      ],
      events: ['opened:regional:a+b', '-', 'updated:global:a+b:escalated'],
    },
    {
      name: 'the quorum clock restarts when it breaks',
      steps: [
        { at: 1_000, verdicts: { a: D, b: D, c: U }, options: twoFor5s },
        { at: 3_000, verdicts: { a: D, b: U, c: U }, options: twoFor5s },
        { at: 4_000, verdicts: { a: D, b: D, c: U }, options: twoFor5s },
        { at: 8_999, verdicts: { a: D, b: D, c: U }, options: twoFor5s },
        { at: 9_000, verdicts: { a: D, b: D, c: U }, options: twoFor5s },
      ],
      events: ['opened:regional:a+b', 'updated:regional:a', 'updated:regional:a+b', '-', 'updated:global:a+b:escalated'],
    },
    {
      name: 'N larger than the region count is capped at it',
      steps: [{ at: 1_000, verdicts: { a: D, b: D }, options: { policy: { globalRegions: 5, globalForMs: 0 } } }], events: ['opened:global:a+b'],
    },
    {
      name: 'no-data does not count toward N',
      steps: [{ at: 1_000, verdicts: { a: D, b: N, c: U }, options: twoAtOnce }], events: ['opened:regional:a'],
    },
    {
      name: 'falling below N de-escalates (without the escalated flag)',
      steps: [{ at: 1_000, verdicts: { a: D, b: D, c: U }, options: twoAtOnce }, { at: 2_000, verdicts: { a: D, b: U, c: U }, options: twoAtOnce }],
      events: ['opened:global:a+b', 'updated:regional:a'],
    },
    {
      name: 'escalation by the historical rule is flagged too',
      steps: [{ at: 1_000, verdicts: { a: D, b: U } }, { at: 2_000, verdicts: { a: D, b: D } }],
      events: ['opened:regional:a', 'updated:global:a+b:escalated'],
    },
    {
      name: 'degraded regions pass',
      steps: [{ at: 1_000, verdicts: { a: D, b: G } }], events: ['opened:regional:a'],
    },
  ];
  it.each(cases)('$name', ({ steps, events }) => {
    expect(play(steps).events).toEqual(events);
  });

  it('records when the incident escalated', () => {
    const { open } = play([{ at: 1_000, verdicts: { a: D, b: U } }, { at: 2_000, verdicts: { a: D, b: D } }]);
    expect(open).toMatchObject({ scope: 'global', escalatedAt: 2_000, quorumSince: 2_000 });
  });
});

describe('forced failing (flapping) and awaited (confirming) regions', () => {
  const cases: Array<{ name: string; steps: Array<{ at: number; verdicts: Record<string, RegionVerdict>; options?: IncidentOptions }>; events: string[] }> = [
    {
      name: 'a forced region counts as failing even while up: the incident stays open',
      steps: [{ at: 1_000, verdicts: { a: D, b: U } }, { at: 2_000, verdicts: { a: U, b: U }, options: { forceFailing: ['a'] } }, { at: 3_000, verdicts: { a: U, b: U } }],
      events: ['opened:regional:a', '-', 'resolved:regional:'],
    },
    {
      name: 'opening waits while a failure is being confirmed, then opens with the right scope',
      steps: [
        { at: 1_000, verdicts: { a: D, b: U }, options: { awaiting: ['b'] } },
        { at: 2_000, verdicts: { a: D, b: D } },
      ],
      events: ['-', 'opened:global:a+b'],
    },
    {
      name: 'a scope change waits too, but resolving does not',
      steps: [
        { at: 1_000, verdicts: { a: D, b: U, c: U } },
        { at: 2_000, verdicts: { a: D, b: D, c: U }, options: { awaiting: ['c'] } },
        { at: 3_000, verdicts: { a: U, b: U, c: U }, options: { awaiting: ['c'] } },
      ],
      events: ['opened:regional:a', '-', 'resolved:regional:'],
    },
  ];
  it.each(cases)('$name', ({ steps, events }) => {
    expect(play(steps).events).toEqual(events);
  });
});
