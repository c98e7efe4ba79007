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

  it('shows why a region fails: the differences, the per-region comparison and the failing region\'s path trace', async () => {
    await fetch(`${coordinator.url}/api/deployments`, { method: 'POST', body: JSON.stringify({ checks: [httpCheck('shop', { name: 'Shop', failureThreshold: 1 }), httpCheck('geo', { failureThreshold: 1 })] }) });
    await heartbeat(redis, prefix, 'agent-us', 'us-east', 60_000);
    await heartbeat(redis, prefix, 'agent-eu', 'eu-west', 60_000);
    const producer = resultsProducer(redis, prefix);
    const network = (addresses: string[], httpVersion: string | null) => ({
      url: 'http://shop.example.test/', host: 'shop.example.test', resolver: 'system (nameservers 10.0.0.2)', addresses, connectedAddress: httpVersion ? addresses[0] : null,
      port: 80, tls: null, httpVersion, edge: [],
    });
    const t = Date.now() - 10_000;
    await producer.add('r', runResult({ checkId: 'geo', region: 'us-east', scheduledAt: t, network: network(['198.51.100.7'], '1.1') }));
    await producer.add('r', runResult({
      checkId: 'geo', region: 'eu-west', scheduledAt: t, outcome: 'fail', network: network(['203.0.113.9'], null),
      evidence: {
        capturedAt: t, reused: false, diagnosticDns: null,
        trace: { status: 'done', tool: 'mtr', target: '203.0.113.9', port: 80, reachedTarget: false, durationMs: 700, hops: [{ ttl: 1, address: '10.2.0.1', rttMs: 0.1, lossPct: 0 }, { ttl: 2, address: null, rttMs: null, lossPct: 100 }] },
      },
    }));
    const page = await browser.newPage();
    try {
      await page.goto(coordinator.url);
      const why = page.locator('section.why[data-incident^="geo-"]');
      await why.waitFor();
      expect(await why.locator('h2').innerText()).toBe('Why eu-west fails: geo');
      expect(await why.locator('ol li').first().innerText()).toBe('eu-west resolves shop.example.test to 203.0.113.9, us-east to 198.51.100.7');
      const resolves = why.locator('table.comparison tr', { hasText: 'Resolves to' });
      expect(await resolves.locator('td.differs').innerText()).toBe('203.0.113.9');
      expect(await resolves.locator('td').nth(1).innerText()).toBe('198.51.100.7');
      const trace = why.locator('[data-trace="eu-west"]');
      expect(await trace.locator('h3').innerText()).toBe('Path trace from eu-west to 203.0.113.9:80 (mtr): the target did not answer');
      expect(await trace.locator('tbody').innerText()).toContain('10.2.0.1');
    } finally {
      await page.close();
      await producer.close();
    }
  });
});
