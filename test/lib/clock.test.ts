import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { redisClock } from '../../lib/clock.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';

let server: TestRedis;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

/** Redis' own clock, read directly. */
async function redisNow(): Promise<{ at: number; roundTripMs: number }> {
  const before = Date.now();
  const [seconds, micros] = await redis.time();
  return { at: Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000), roundTripMs: Date.now() - before };
}

describe('redisClock', () => {
  it.each([
    { name: 'a right local clock', skewMs: 0 },
    { name: 'a local clock 5 minutes ahead', skewMs: 5 * 60_000 },
    { name: 'a local clock 5 minutes behind', skewMs: -5 * 60_000 },
  ])('reads Redis time whatever the machine says: $name', async ({ skewMs }) => {
    const clock = redisClock(redis, { local: () => Date.now() + skewMs });
    try {
      expect(clock.uncertaintyMs()).toBe(Number.POSITIVE_INFINITY);
      expect(await clock.sync()).toBe(true);
      expect(clock.uncertaintyMs()).toBeLessThan(1_000);
      const before = await redisNow();
      const now = clock.now();
      const after = await redisNow();
      // `now` was read between two Redis readings; it may be off by the clock's stated uncertainty.
      expect(now).toBeGreaterThanOrEqual(before.at - clock.uncertaintyMs());
      expect(now).toBeLessThanOrEqual(after.at + clock.uncertaintyMs() + 1);
      expect(Math.abs(clock.offsetMs() + skewMs)).toBeLessThanOrEqual(clock.uncertaintyMs() + 1);
    } finally {
      clock.stop();
    }
  });

  it('keeps its last offset when Redis does not answer', async () => {
    const lonely = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    lonely.on('error', () => {});
    const clock = redisClock(lonely, { local: () => 1_000 });
    try {
      expect(await clock.sync()).toBe(false);
      expect(clock.now()).toBe(1_000);
      expect(clock.offsetMs()).toBe(0);
    } finally {
      clock.stop();
      lonely.disconnect();
    }
  });
});
