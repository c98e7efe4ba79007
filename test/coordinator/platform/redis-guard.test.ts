import { afterAll, describe, expect, it } from 'vitest';
import { startCoordinator } from '../../../coordinator/coordinator.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../../support/redis.ts';
import { memoryLogger, testConfig } from '../support.ts';

const servers: TestRedis[] = [];
afterAll(async () => { for (const s of servers) await s.stop(); });

async function redisWith(args: string[]): Promise<TestRedis> {
  const server = await startRedis(args);
  servers.push(server);
  return server;
}

describe('start-up guard on the Redis eviction policy', () => {
  it('refuses a Redis that may evict keys, with a clear message and a stable code', async () => {
    const server = await redisWith(['--maxmemory-policy', 'allkeys-lru']);
    const started = startCoordinator(testConfig(server.url, uniquePrefix('guard')), { logger: memoryLogger().logger });
    await expect(started).rejects.toMatchObject({
      code: 'REDIS_EVICTION_POLICY',
      message: expect.stringMatching(/maxmemory-policy is "allkeys-lru", but Lookout requires "noeviction".*CONFIG SET maxmemory-policy noeviction/),
    });
  });

  it('refuses when CONFIG is disabled, unless told to skip the check', async () => {
    const server = await redisWith(['--rename-command', 'CONFIG', '']);
    const prefix = uniquePrefix('guard');
    await expect(startCoordinator(testConfig(server.url, prefix), { logger: memoryLogger().logger })).rejects.toMatchObject({
      code: 'REDIS_POLICY_UNREADABLE',
      message: expect.stringContaining('--skip-redis-policy-check'),
    });
    const { logger, lines } = memoryLogger();
    const coordinator = await startCoordinator(testConfig(server.url, prefix, { skipRedisPolicyCheck: true }), { logger });
    try {
      expect(lines.some((l) => l.msg === 'redis.policy_check_skipped')).toBe(true);
      expect((await fetch(`${coordinator.url}/healthz`)).status).toBe(200);
    } finally {
      await coordinator.stop();
    }
  });

  it('fails with REDIS_UNREACHABLE when nothing answers', async () => {
    const server = await redisWith([]);
    const url = server.url;
    await server.stop();
    await expect(startCoordinator(testConfig(url, uniquePrefix('guard')), { logger: memoryLogger().logger, redisTimeoutMs: 300 }))
      .rejects.toMatchObject({ code: 'REDIS_UNREACHABLE' });
  });
});
