/**
 * Results Redis took can still be lost: a primary that fails over before its replica had them, or a Redis
 * restarted without its last writes. The publisher publishes again, when the connection comes back, what
 * it published in the last minute before the connection was lost: here a redis-server restarted empty
 * (everything lost) gets the results back, also after an outage longer than that window, and a reconnect
 * to a Redis that kept them adds no second job.
 */
import { once } from 'node:events';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resultsQueueName } from '../../../checks/keys.ts';
import { connectRedis } from '../../../lib/redis.ts';
import { silentLogger } from '../../../lib/log.ts';
import { createAgentMetrics } from '../../../agent/liveness/metrics.ts';
import { ResultPublisher } from '../../../agent/results/publisher.ts';
import { runResult } from '../../coordinator/support.ts';
import { slotProofFor } from '../../support/signing.ts';
import { freePort, uniquePrefix } from '../../support/redis.ts';
import { waitUntil } from '../../support/wait.ts';
import { restartableRedis, type RestartableRedis } from '../support.ts';

let redis: RestartableRedis;
beforeAll(async () => {
  redis = restartableRedis(await freePort());
  await redis.start();
});
afterAll(async () => { await redis?.kill(); });

const result = (scheduledAt: number) => {
  const base = runResult({ checkId: 'shop', region: 'eu-west', scheduledAt });
  return { ...base, slot: slotProofFor(base) };
};

async function waiting(prefix: string): Promise<number[]> {
  const queue = new Queue(resultsQueueName('eu-west'), { connection: { url: redis.url }, prefix });
  try {
    return (await queue.getJobs(['waiting'])).map((job) => (job.data as { scheduledAt: number }).scheduledAt).sort();
  } finally {
    await queue.close();
  }
}

describe('results published again after a reconnect', () => {
  it('brings back what a Redis restarted empty lost, and adds nothing where Redis kept them', async () => {
    const prefix = uniquePrefix('republish');
    const conn = connectRedis(redis.url, { name: 'publisher', logger: silentLogger, blocking: true });
    const metrics = createAgentMetrics();
    const publisher = new ResultPublisher({ redis: conn, prefix, region: 'eu-west', logger: silentLogger, metrics, flushIntervalMs: 200 });
    try {
      await conn.ping();
      expect(await publisher.publish(result(1_000))).toBe('published');
      expect(await publisher.publish(result(2_000))).toBe('published');
      expect(await waiting(prefix)).toEqual([1_000, 2_000]);

      // Lost with the Redis that took them (no persistence: it comes back empty).
      await redis.kill();
      await redis.start();
      await waitUntil('both results back', async () => (await waiting(prefix)).length === 2, 15_000);
      expect(await waiting(prefix)).toEqual([1_000, 2_000]);
      expect((await metrics.resultsRepublished.get()).values[0]?.value).toBe(2);

      // A reconnect to a Redis that kept them: published again, added nowhere twice.
      conn.disconnect(true);
      await waitUntil('published again', async () => (await metrics.resultsRepublished.get()).values[0]?.value === 4, 15_000);
      await waitUntil('the spool empty', () => publisher.spooled === 0, 5_000);
      expect(await waiting(prefix)).toEqual([1_000, 2_000]);
    } finally {
      await publisher.close(1_000);
      conn.disconnect();
    }
  }, 40_000);

  it('counts the window back from when the connection was lost, so a long outage still gets its last results back', async () => {
    const prefix = uniquePrefix('republish-window');
    const conn = connectRedis(redis.url, { name: 'publisher', logger: silentLogger, blocking: true });
    const metrics = createAgentMetrics();
    const windowMs = 3_000;
    const publisher = new ResultPublisher({ redis: conn, prefix, region: 'eu-west', logger: silentLogger, metrics, flushIntervalMs: 200, republishWindowMs: windowMs });
    try {
      await conn.ping();
      expect(await publisher.publish(result(3_000))).toBe('published');
      await redis.kill();
      const lostAt = Date.now();
      await waitUntil('the connection lost', () => conn.status !== 'ready', 5_000);
      // Down for longer than the window: counted from the reconnect, the result would be too old to send again.
      await waitUntil('an outage longer than the window', () => Date.now() - lostAt > windowMs + 1_000, windowMs + 5_000);
      await redis.start();
      await waitUntil('the result back', async () => (await waiting(prefix)).length === 1, 15_000);
      expect(await waiting(prefix)).toEqual([3_000]);
      expect((await metrics.resultsRepublished.get()).values[0]?.value).toBe(1);
    } finally {
      await publisher.close(1_000);
      conn.disconnect();
    }
  }, 40_000);

  it('sends a result out again only within the window from when Redis first took it, however often the connection drops', async () => {
    const prefix = uniquePrefix('republish-once');
    const conn = connectRedis(redis.url, { name: 'publisher', logger: silentLogger, blocking: true });
    const metrics = createAgentMetrics();
    const windowMs = 3_000;
    const publisher = new ResultPublisher({ redis: conn, prefix, region: 'eu-west', logger: silentLogger, metrics, flushIntervalMs: 200, republishWindowMs: windowMs });
    const republished = async () => (await metrics.resultsRepublished.get()).values[0]?.value ?? 0;
    try {
      await conn.ping();
      const firstTaken = Date.now();
      expect(await publisher.publish(result(4_000))).toBe('published');
      // A second into the window the connection drops: the result goes out again.
      await waitUntil('a second of the window gone', () => Date.now() - firstTaken > 1_000, 5_000);
      conn.disconnect(true);
      await waitUntil('published again', async () => (await republished()) === 1, 15_000);
      await waitUntil('the spool empty', () => publisher.spooled === 0, 5_000);
      // Past the window from when Redis first took it (not from its second sending) the connection drops again.
      await waitUntil('the window over', () => Date.now() - firstTaken > windowMs + 100, windowMs + 5_000);
      // The publisher hears of the reconnect first (its listener was added first), and decides then.
      const reconnected = once(conn, 'ready');
      conn.disconnect(true);
      await reconnected;
      await waitUntil('the spool empty', () => publisher.spooled === 0, 5_000);
      expect(await republished()).toBe(1);
      expect(await waiting(prefix)).toEqual([4_000]);
    } finally {
      await publisher.close(1_000);
      conn.disconnect();
    }
  }, 40_000);
});
