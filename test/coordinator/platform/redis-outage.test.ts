import { afterAll, describe, expect, it } from 'vitest';
import { startCoordinator, type RunningCoordinator } from '../../../coordinator/coordinator.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../../support/redis.ts';
import { httpCheck, memoryLogger, testConfig } from '../support.ts';
import { waitUntil } from '../../support/wait.ts';

let server: TestRedis | undefined;
let coordinator: RunningCoordinator | undefined;
afterAll(async () => {
  await coordinator?.stop();
  await server?.stop();
});

describe('Redis outage', () => {
  it('answers 503 while Redis is away, stays up, and stops within bounds', async () => {
    server = await startRedis();
    coordinator = await startCoordinator(testConfig(server.url, uniquePrefix('out')), { logger: memoryLogger().logger, deliver: async () => {} });
    const deployed = await fetch(`${coordinator.url}/api/deployments`, { method: 'POST', body: JSON.stringify({ checks: [httpCheck('web')] }) });
    expect(deployed.status).toBe(200);

    await server.stop();
    const list = await waitUntil('503 from /api/checks', async () => {
      const response = await fetch(`${coordinator!.url}/api/checks`);
      return response.status === 503 ? response.json() : null;
    }, 15_000);
    expect(list.error.code).toBe('REDIS_UNAVAILABLE');
    expect((await fetch(`${coordinator.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${coordinator.url}/healthz`)).status).toBe(200);

    const started = Date.now();
    await coordinator.stop();
    coordinator = undefined;
    expect(Date.now() - started).toBeLessThan(8_000);
  }, 20_000);
});
