/**
 * The monitoring watching itself (platform/degraded-store.ts) on a real redis-server: results nobody
 * ingests raise `ingest-backlog` and, as the same result stays at the head, `results-lag`; a new primary
 * (its run id) raises `redis-failover`; each event lands in the outbox once, however many coordinators
 * look at once; and the gauges say what is raised.
 */
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { monitoringStateKey, outboxKey, resultsQueueName } from '../../../checks/keys.ts';
import { MonitoringWatch } from '../../../coordinator/platform/degraded-store.ts';
import { createMetrics } from '../../../coordinator/platform/metrics.ts';
import { TransactionRunner } from '../../../coordinator/platform/transaction.ts';
import { redisForFile, uniquePrefix } from '../../support/redis.ts';
import { memoryLogger, runResult } from '../support.ts';

const file = redisForFile();
const limits = { resultsWaiting: 3, resultsLagMs: 5_000, deliveriesWaiting: 10, deliveryLagMs: 60_000, failoverHoldMs: 30_000 };
const closers: Array<() => Promise<unknown>> = [];
afterAll(async () => { for (const close of closers.reverse()) await close(); });

function watcher(prefix: string, clock: { now: number }) {
  const tx = new TransactionRunner(file.redis, { size: 2 });
  const metrics = createMetrics(async () => 0);
  const watch = new MonitoringWatch({ redis: file.redis, tx, prefix, metrics, logger: memoryLogger().logger, limits, localNow: () => clock.now });
  closers.push(() => watch.close(), () => tx.close());
  return { watch, metrics };
}

const outbox = async (prefix: string): Promise<string[]> =>
  (await file.redis.lrange(outboxKey(prefix), 0, -1)).map((raw) => { const e = JSON.parse(raw) as { type: string; reason: string }; return `${e.type}:${e.reason}`; }).reverse();

describe('the monitoring watching itself', () => {
  it('raises and clears backlogs and lag once, however many coordinators look', async () => {
    const prefix = uniquePrefix('deg');
    const clock = { now: 1_000_000 };
    const [a, b] = [watcher(prefix, clock), watcher(prefix, clock)];
    const results = new Queue(resultsQueueName('eu-west'), { connection: file.redis, prefix });
    closers.push(() => results.close());
    await a.watch.sweep(['eu-west'], clock.now);
    expect(await outbox(prefix)).toEqual([]);

    for (let i = 0; i < 4; i++) await results.add('result', runResult({ checkId: 'c', region: 'eu-west', scheduledAt: i }));
    await Promise.all([a.watch.sweep(['eu-west'], clock.now), b.watch.sweep(['eu-west'], clock.now)]);
    expect(await outbox(prefix)).toEqual(['monitoring.degraded:ingest-backlog']);
    // The same result at the head for longer than the bound: lag, by this coordinator's own clock.
    clock.now += 6_000;
    await Promise.all([a.watch.sweep(['eu-west'], clock.now), b.watch.sweep(['eu-west'], clock.now)]);
    expect(await outbox(prefix)).toEqual(['monitoring.degraded:ingest-backlog', 'monitoring.degraded:results-lag']);
    expect(await a.metrics.monitoringDegraded.get()).toMatchObject({ values: expect.arrayContaining([{ labels: { reason: 'ingest-backlog' }, value: 1 }]) });

    await results.drain();
    clock.now += 1_000;
    await Promise.all([a.watch.sweep(['eu-west'], clock.now), b.watch.sweep(['eu-west'], clock.now)]);
    expect(await outbox(prefix)).toEqual([
      'monitoring.degraded:ingest-backlog', 'monitoring.degraded:results-lag', 'monitoring.recovered:ingest-backlog', 'monitoring.recovered:results-lag',
    ]);
  });

  it('sees a new primary as a failover (here: a run id other than the one remembered)', async () => {
    const prefix = uniquePrefix('deg');
    const clock = { now: 2_000_000 };
    const { watch } = watcher(prefix, clock);
    await watch.sweep([], clock.now);
    const stored = JSON.parse((await file.redis.get(monitoringStateKey(prefix)))!) as { primary: { runId: string; address: string } };
    expect(stored.primary.address).toMatch(/^127\.0\.0\.1:\d+$/);
    // As the record reads after a failover: it names the primary before, which had another run id.
    await file.redis.set(monitoringStateKey(prefix), JSON.stringify({ ...stored, primary: { ...stored.primary, runId: 'before-the-failover', address: '10.9.9.9:6379' } }));
    await watch.sweep([], clock.now);
    const [event] = (await file.redis.lrange(outboxKey(prefix), 0, -1)).map((raw) => JSON.parse(raw) as { type: string; reason: string; detail: string });
    expect(event).toMatchObject({ type: 'monitoring.degraded', reason: 'redis-failover', detail: `primary 10.9.9.9:6379 → ${stored.primary.address}` });
  });
});
