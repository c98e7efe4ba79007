/**
 * When the monitoring itself is degraded (platform/degraded.ts), as a table: each reason raised once and
 * cleared once, with hysteresis; a new primary (failover or restart) held for a while; nothing told about
 * a first look or a steady state.
 */
import { describe, expect, it } from 'vitest';
import { parseAlertEvent, summarize } from '../../../coordinator/events/catalog.ts';
import { viewEvent } from '../../../coordinator/events/view.ts';
import { EMPTY_MONITORING, decideMonitoring, parseStoredMonitoring, type MonitoringReading, type StoredMonitoring } from '../../../coordinator/platform/degraded.ts';

const limits = { resultsWaiting: 100, resultsLagMs: 10_000, deliveriesWaiting: 10, deliveryLagMs: 20_000, failoverHoldMs: 30_000 };
const calm: MonitoringReading = { primary: { runId: 'aaa', address: '10.0.0.5:6379' }, resultsWaiting: 0, resultsLagMs: 0, deliveriesWaiting: 0, deliveryLagMs: 0 };
const seen: StoredMonitoring = { primary: { runId: 'aaa', address: '10.0.0.5:6379', since: 0 }, raised: {} };
const NOW = 100_000;

/** `type:reason` of each event, or `-`, and whether the record changed. */
const outline = (stored: StoredMonitoring, reading: Partial<MonitoringReading>, now = NOW): string => {
  const decision = decideMonitoring(stored, { ...calm, ...reading }, now, limits);
  return `${decision.events.map((e) => `${e.type}:${e.reason}`).join(' ') || '-'}${decision.changed ? '' : ' (unchanged)'}`;
};
const raised = (reason: string, since = 50_000): StoredMonitoring => ({ ...seen, raised: { [reason]: { since, detail: 'x' } } });

describe('decideMonitoring', () => {
  const cases: Array<[string, StoredMonitoring, Partial<MonitoringReading>, string]> = [
    ['a first look records the primary, quietly', EMPTY_MONITORING, {}, '-'],
    ['all calm: nothing', seen, {}, '- (unchanged)'],
    ['the primary could not be read: nothing changes', seen, { primary: null }, '- (unchanged)'],
    ['a new primary elsewhere: failover', seen, { primary: { runId: 'bbb', address: '10.0.0.6:6379' } }, 'monitoring.degraded:redis-failover'],
    ['the same address with a new run id: a restart, reported as well', seen, { primary: { runId: 'bbb', address: '10.0.0.5:6379' } }, 'monitoring.degraded:redis-failover'],
    ['the new primary serving for less than the hold: still reported', { primary: { ...seen.primary!, since: NOW - 10_000 }, raised: { 'redis-failover': { since: NOW - 10_000, detail: 'x' } } }, {}, '- (unchanged)'],
    ['the new primary serving for the hold: recovered', { primary: { ...seen.primary!, since: NOW - 30_000 }, raised: { 'redis-failover': { since: NOW - 30_000, detail: 'x' } } }, {}, 'monitoring.recovered:redis-failover'],
    ['results waiting over the bound: ingest backlog', seen, { resultsWaiting: 101 }, 'monitoring.degraded:ingest-backlog'],
    ['still over: told once', raised('ingest-backlog'), { resultsWaiting: 500 }, '- (unchanged)'],
    ['below the bound but above half: still degraded (no chatter)', raised('ingest-backlog'), { resultsWaiting: 60 }, '- (unchanged)'],
    ['at half the bound: recovered', raised('ingest-backlog'), { resultsWaiting: 50 }, 'monitoring.recovered:ingest-backlog'],
    ['the head result waiting past the bound: results lag', seen, { resultsLagMs: 10_001 }, 'monitoring.degraded:results-lag'],
    ['lag at half: recovered', raised('results-lag'), { resultsLagMs: 5_000 }, 'monitoring.recovered:results-lag'],
    ['deliveries waiting past the bound: delivery backlog', seen, { deliveriesWaiting: 11 }, 'monitoring.degraded:delivery-backlog'],
    ['the oldest delivery waiting too long: delivery backlog', seen, { deliveryLagMs: 20_001 }, 'monitoring.degraded:delivery-backlog'],
    ['few deliveries but one still old: not recovered', raised('delivery-backlog'), { deliveriesWaiting: 1, deliveryLagMs: 15_000 }, '- (unchanged)'],
    ['deliveries caught up: recovered', raised('delivery-backlog'), { deliveriesWaiting: 1, deliveryLagMs: 1_000 }, 'monitoring.recovered:delivery-backlog'],
    ['several reasons at once, each its own event', seen, { primary: { runId: 'ccc', address: '10.0.0.7:6379' }, resultsWaiting: 1_000, deliveriesWaiting: 50 },
      'monitoring.degraded:redis-failover monitoring.degraded:ingest-backlog monitoring.degraded:delivery-backlog'],
  ];
  it.each(cases)('%s', (_name, stored, reading, expected) => {
    expect(outline(stored, reading)).toBe(expected);
  });

  it('names what it saw, and a recovery carries the id of the condition it clears', () => {
    const failover = decideMonitoring(seen, { ...calm, primary: { runId: 'bbb', address: '10.0.0.6:6379' } }, NOW, limits);
    expect(failover.events).toEqual([{
      id: `monitoring.degraded:redis-failover:${NOW}`, type: 'monitoring.degraded', at: NOW, reason: 'redis-failover', since: NOW,
      detail: 'primary 10.0.0.5:6379 → 10.0.0.6:6379',
    }]);
    const later = NOW + 30_000;
    const recovered = decideMonitoring(failover.next, calm.primary ? { ...calm, primary: { runId: 'bbb', address: '10.0.0.6:6379' } } : calm, later, limits);
    expect(recovered.events).toEqual([expect.objectContaining({ id: `monitoring.recovered:redis-failover:${NOW}`, since: NOW, at: later })]);
    expect(decideMonitoring(seen, { ...calm, resultsWaiting: 1_204 }, NOW, limits).events[0]!.detail).toBe('1,204 results waiting');
  });

  it('a second failover while the first is reported renews it without a second event', () => {
    const first = decideMonitoring(seen, { ...calm, primary: { runId: 'bbb', address: '10.0.0.6:6379' } }, NOW, limits);
    const second = decideMonitoring(first.next, { ...calm, primary: { runId: 'ccc', address: '10.0.0.5:6379' } }, NOW + 5_000, limits);
    expect(second.events).toEqual([]);
    expect(second.next.raised['redis-failover']).toEqual({ since: NOW, detail: 'primary 10.0.0.6:6379 → 10.0.0.5:6379' });
    expect(second.next.primary).toEqual({ runId: 'ccc', address: '10.0.0.5:6379', since: NOW + 5_000 });
  });

  it('reads back what it wrote, and starts afresh from anything malformed', () => {
    const { next } = decideMonitoring(seen, { ...calm, resultsWaiting: 1_000 }, NOW, limits);
    expect(parseStoredMonitoring(JSON.stringify(next))).toEqual(next);
    for (const raw of [null, '', '{', '[]', '{"primary":{"runId":1},"raised":{}}']) expect(parseStoredMonitoring(raw)).toEqual(EMPTY_MONITORING);
    expect(parseStoredMonitoring('{"primary":null,"raised":{"bogus":{"since":1,"detail":"x"}}}')).toEqual(EMPTY_MONITORING);
  });
});

describe('monitoring events for people and channels', () => {
  it('are validated, summarized, and threaded per reason as a condition that is raised and cleared', () => {
    const { events: [degraded] } = decideMonitoring(seen, { ...calm, resultsWaiting: 1_204 }, NOW, limits);
    expect(parseAlertEvent(degraded).success).toBe(true);
    expect(parseAlertEvent({ ...degraded, reason: 'bored' }).success).toBe(false);
    expect(summarize(degraded!)).toBe('Lookout itself is degraded: results are waiting to be ingested (1,204 results waiting); verdicts may lag, targets are not blamed');
    const recovered = { ...degraded!, type: 'monitoring.recovered' as const, at: NOW + 90_000, detail: '12 results waiting' };
    expect(summarize(recovered)).toBe('Lookout is no longer degraded after 1m30s: the results backlog is cleared (12 results waiting)');
    expect(viewEvent(degraded!)).toMatchObject({ kind: 'other', condition: 'monitoring_degraded', thread: 'monitoring_degraded:ingest-backlog', firing: true, severity: 'warning' });
    expect(viewEvent(recovered)).toMatchObject({ thread: 'monitoring_degraded:ingest-backlog', firing: false });
  });
});
