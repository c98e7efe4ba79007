/**
 * The stall decision of one region (canary-state.ts), as a table: fresh answers, a stale region, canaries
 * off, no agents, and the windows that keep a newly watched region from stalling before it could answer.
 */
import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, type CanaryAnswer } from '../../../checks/contract.ts';
import {
  decideRegionCanary, isStalled, parseCanaryAnswer, parseStoredRegionCanary, stallWindowMs,
  type RegionCanaryDecision, type RegionCanaryInput, type StoredRegionCanary,
} from '../../../coordinator/liveness/canary.ts';

const I = 10_000;
const NOW = 1_700_000_000_000;
const answer = (at: number, agentId = 'agent-a', slot = at - (at % I)): CanaryAnswer => ({ schemaVersion: SCHEMA_VERSION, region: 'eu-west', agentId, slot, at });
const stored = (overrides: Partial<StoredRegionCanary> = {}): StoredRegionCanary => ({
  region: 'eu-west', status: 'ok', watchedSince: NOW - 3_600_000, changedAt: NOW - 3_600_000,
  lastAnswer: { agentId: 'agent-a', slot: NOW - 40_000, at: NOW - 39_990 }, ...overrides,
});
const input = (overrides: Partial<RegionCanaryInput> = {}): RegionCanaryInput => ({
  region: 'eu-west', stored: stored(), intervalMs: I, answer: null, liveAgents: ['agent-b', 'agent-a'], now: NOW, ...overrides,
});

/** The decision as a short, comparable shape: kind, status written, event type and reason. */
function outline(decision: RegionCanaryDecision): string {
  if (decision.kind === 'none') return 'none';
  const event = decision.event ? ` ${decision.event.type}${decision.event.reason ? `(${decision.event.reason})` : ''}` : '';
  return decision.kind === 'write' ? `write ${decision.state.status}${event}` : `forget${event}`;
}

describe('decideRegionCanary', () => {
  const stalled = stored({ status: 'stalled', changedAt: NOW - 5_000 });
  const cases: Array<[string, Partial<RegionCanaryInput>, string]> = [
    // Fresh
    ['a fresh answer keeps a region ok and records it', { answer: answer(NOW - 1_000) }, 'write ok'],
    ['the same answer again changes nothing', { stored: stored({ lastAnswer: { agentId: 'agent-a', slot: NOW - 1_000 - ((NOW - 1_000) % I), at: NOW - 1_000 } }), answer: answer(NOW - 1_000) }, 'none'],
    ['a first sight of a region starts watching it, quietly', { stored: null }, 'write ok'],
    ['a region watched for less than the window may not have answered yet', { stored: stored({ watchedSince: NOW - 2 * I, lastAnswer: null }) }, 'none'],
    ['exactly at the window is not yet stalled', { stored: stored({ watchedSince: NOW - stallWindowMs(I), lastAnswer: null }) }, 'none'],
    // Stale
    ['no answer for longer than the window: stalled, once', {}, 'write stalled probe.stalled'],
    ['never answered since watched longer than the window: stalled', { stored: stored({ watchedSince: NOW - stallWindowMs(I) - 1, lastAnswer: null }) }, 'write stalled probe.stalled'],
    ['still no answer while stalled: nothing new', { stored: stalled }, 'none'],
    ['an answer while stalled: recovered', { stored: stalled, answer: answer(NOW - 10) }, 'write ok probe.recovered(answered)'],
    // Canaries disabled
    ['canaries off, never watched: nothing', { stored: null, intervalMs: null }, 'none'],
    ['canaries off, region ok: forgotten quietly', { intervalMs: null }, 'forget'],
    ['canaries off while stalled: the condition is cleared', { stored: stalled, intervalMs: null }, 'forget probe.recovered(canaries-off)'],
    ['an interval of 0 counts as off', { stored: stalled, intervalMs: 0 }, 'forget probe.recovered(canaries-off)'],
    // No agents
    ['no live agent, never watched: nothing (probe.offline is the signal)', { stored: null, liveAgents: [] }, 'none'],
    ['no live agent, region ok: forgotten quietly', { liveAgents: [] }, 'forget'],
    ['no live agent while stalled: the condition is cleared', { stored: stalled, liveAgents: [] }, 'forget probe.recovered(no-agents)'],
    // After the control plane was away: answers could not be written, the window counts from the return
    ['no answer, but the coordinator has seen Redis for less than the window: not stalled', { judgedFrom: NOW - 2 * I }, 'none'],
    ['no answer for the whole window since the return: stalled', { judgedFrom: NOW - stallWindowMs(I) - 1 }, 'write stalled probe.stalled'],
  ];
  it.each(cases)('%s', (_name, overrides, expected) => {
    expect(outline(decideRegionCanary(input(overrides)))).toBe(expected);
  });

  it('probe.stalled names the region, its heartbeating agents and the last answer', () => {
    const decision = decideRegionCanary(input());
    expect(decision).toEqual({
      kind: 'write',
      state: { ...stored(), status: 'stalled', changedAt: NOW },
      event: {
        id: `probe.stalled:eu-west:${NOW}`, type: 'probe.stalled', at: NOW, region: 'eu-west',
        lastAnswerAt: NOW - 39_990, lastAnswerAgentId: 'agent-a', agents: ['agent-a', 'agent-b'], canaryIntervalMs: I, stalledSince: NOW,
      },
    });
  });

  it('probe.recovered says since when the region was stalled, and the answer that ended it', () => {
    const since = NOW - 65_000;
    const decision = decideRegionCanary(input({ stored: stored({ status: 'stalled', changedAt: since }), answer: answer(NOW - 10, 'agent-b') }));
    expect(decision.kind).toBe('write');
    if (decision.kind !== 'write') return;
    expect(decision.state).toMatchObject({ status: 'ok', changedAt: NOW, lastAnswer: { agentId: 'agent-b', at: NOW - 10 } });
    expect(decision.event).toMatchObject({ id: `probe.recovered:eu-west:${NOW}`, stalledSince: since, lastAnswerAt: NOW - 10, reason: 'answered' });
  });

  it('keeps the watch start while watched, so a later silence is measured from it', () => {
    const first = decideRegionCanary(input({ stored: null, now: NOW }));
    if (first.kind !== 'write') throw new Error('expected a write');
    expect(first.state).toEqual({ region: 'eu-west', status: 'ok', watchedSince: NOW, changedAt: NOW, lastAnswer: null });
    const later = decideRegionCanary(input({ stored: first.state, now: NOW + stallWindowMs(I) + 1 }));
    expect(outline(later)).toBe('write stalled probe.stalled');
  });
});

describe('parsing what Redis holds', () => {
  it('reads stored regions and answers, and refuses anything else', () => {
    expect(parseStoredRegionCanary(JSON.stringify(stored()))).toEqual(stored());
    expect(isStalled(parseStoredRegionCanary(JSON.stringify(stored({ status: 'stalled' }))))).toBe(true);
    expect(isStalled(null)).toBe(false);
    for (const raw of [null, '', 'not json', '{"region":"eu-west","status":"sleepy","watchedSince":1,"changedAt":1}', '[]']) {
      expect(parseStoredRegionCanary(raw)).toBeNull();
    }
    expect(parseCanaryAnswer(JSON.stringify(answer(NOW)), 'eu-west')).toEqual(answer(NOW));
    // An answer for another region, or one off the contract, is no answer at all.
    expect(parseCanaryAnswer(JSON.stringify(answer(NOW)), 'us-east')).toBeNull();
    expect(parseCanaryAnswer(JSON.stringify({ ...answer(NOW), schemaVersion: 99 }), 'eu-west')).toBeNull();
    expect(parseCanaryAnswer('{', 'eu-west')).toBeNull();
  });
});
