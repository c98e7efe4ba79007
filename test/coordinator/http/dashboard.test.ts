import { Redis } from 'ioredis';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCoordinator, type RunningCoordinator } from '../../../coordinator/coordinator.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../../support/redis.ts';
import { heartbeat, httpCheck, memoryLogger, resultsProducer, runResult, testConfig } from '../support.ts';
import { waitUntil } from '../../support/wait.ts';

let server: TestRedis;
let redis: Redis;
let coordinator: RunningCoordinator;
let browser: Browser;
let prefix: string;
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
  prefix = uniquePrefix('dash');
  coordinator = await startCoordinator(testConfig(server.url, prefix), { logger: memoryLogger().logger, deliver: async () => {} });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])],
  });
});
afterAll(async () => {
  await browser?.close();
  await coordinator?.stop();
  await redis?.quit();
  await server?.stop();
});

describe('dashboard', () => {
  it('shows verdicts per check and region, the open incident, and follows changes', async () => {
    await fetch(`${coordinator.url}/api/deployments`, { method: 'POST', body: JSON.stringify({ checks: [httpCheck('shop', { name: 'Shop', failureThreshold: 1 })] }) });
    await heartbeat(redis, prefix, 'agent-us', 'us-east', 60_000);
    await heartbeat(redis, prefix, 'agent-eu', 'eu-west', 60_000);
    const producer = resultsProducer(redis, prefix);
    const t = Date.now() - 10_000;
    await producer.add('r', runResult({ checkId: 'shop', region: 'us-east', scheduledAt: t }));
    await producer.add('r', runResult({ checkId: 'shop', region: 'eu-west', scheduledAt: t, outcome: 'fail' }));

    const page = await browser.newPage();
    try {
      await page.goto(coordinator.url);
      const usEast = page.locator('tr[data-check="shop"] td[data-region="us-east"]');
      const euWest = page.locator('tr[data-check="shop"] td[data-region="eu-west"]');
      await usEast.locator('.pill', { hasText: 'up' }).waitFor();
      await euWest.locator('.pill', { hasText: 'down' }).waitFor();
      expect(await usEast.getAttribute('class')).toContain('up');
      expect(await euWest.getAttribute('title')).toContain('CONNECT_REFUSED');
      expect(await usEast.innerText()).toContain('1h 100%');
      expect(await page.locator('tr[data-check="shop"]').innerText()).toContain('regional: eu-west');
      await page.locator('#incidents tbody tr', { hasText: 'shop' }).waitFor();
      expect(await page.locator('#incidents tbody').innerText()).toContain('CONNECT_REFUSED');

      // eu-west recovers (two passes): the page updates by itself.
      // One at a time: results of one region ingested out of order keep only the newest.
      await producer.add('r', runResult({ checkId: 'shop', region: 'eu-west', scheduledAt: t + 1_000 }));
      await waitUntil('first recovery pass applied', async () => {
        const detail = await (await fetch(`${coordinator.url}/api/checks/shop`)).json() as { regions: Array<{ region: string; verdict: { consecutiveSuccesses: number } }> };
        return detail.regions.find((r) => r.region === 'eu-west')!.verdict.consecutiveSuccesses === 1;
      });
      await producer.add('r', runResult({ checkId: 'shop', region: 'eu-west', scheduledAt: t + 2_000 }));
      await euWest.locator('.pill', { hasText: 'up' }).waitFor({ timeout: 8_000 });
      await page.locator('#incidents tbody', { hasText: 'No open incidents.' }).waitFor({ timeout: 8_000 });
    } finally {
      await page.close();
      await producer.close();
    }
  });
});
