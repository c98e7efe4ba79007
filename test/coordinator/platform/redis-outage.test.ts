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
    const readyz = await fetch(`${coordinator.url}/readyz`);
    expect(readyz.status).toBe(503);
    // It says which dependency is down, and what it saw.
    expect(await readyz.json()).toMatchObject({ ready: false, down: expect.arrayContaining(['redis']), dependencies: { redis: { up: false, detail: expect.stringContaining('redis://127.0.0.1') } } });
    expect((await fetch(`${coordinator.url}/healthz`)).status).toBe(200);

    const started = Date.now();
    await coordinator.stop();
    coordinator = undefined;
    expect(Date.now() - started).toBeLessThan(8_000);
  }, 20_000);
});
