/**
 * Browser journeys through the whole fleet: a browser check deployed through the coordinator, run by
 * a browser-enabled agent in real Chromium, its failure recorded with the failing step, and its
 * screenshot downloadable through the coordinator's API.
 */
import { TEST_KEYS_ENV } from '../support/signing.ts';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { parseAgentConfig } from '../../agent/config.ts';
import { parseCoordinatorConfig } from '../../coordinator/config.ts';
import { startCoordinatorService, type CoordinatorService } from '../../coordinator/service.ts';
import { browserCheck, removeProjects } from '../support/browser-checks.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';
import { waitUntil } from '../support/wait.ts';

const quiet = { info() {}, warn() {}, error() {}, debug() {}, child() { return quiet; } };

describe('browser checks through the fleet', () => {
  let redis: TestRedis;
  let site: Server;
  let siteUrl = '';
  let coordinator: CoordinatorService;
  let agent: RunningAgent;

  beforeAll(async () => {
    redis = await startRedis();
    site = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(req.url === '/shop'
        ? '<!doctype html><title>Shop</title><h1>Welcome</h1><button id="buy">Buy</button>'
        : '<!doctype html><title>Home</title><a href="/shop">Shop</a>');
    });
    site.listen(0, '127.0.0.1');
    await once(site, 'listening');
    siteUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}`;
    const prefix = uniquePrefix('e2e-browser');
    const coordinatorConfig = parseCoordinatorConfig(['--redis', redis.url, '--prefix', prefix, '--port', '0', '--sweep-interval', '200ms', '--auth', 'off'], TEST_KEYS_ENV);
    if (!('config' in coordinatorConfig)) throw new Error(JSON.stringify(coordinatorConfig));
    coordinator = await startCoordinatorService(coordinatorConfig.config, { logger: quiet as never });
    const agentConfig = parseAgentConfig(['--region', 'local', '--redis', redis.url, '--prefix', prefix, '--agent-id', 'browser-agent', '--browser-checks', 'on', '--shutdown-timeout', '2s'], TEST_KEYS_ENV);
    if (!('config' in agentConfig)) throw new Error(JSON.stringify(agentConfig));
    agent = await startAgent(agentConfig.config, { logger: quiet as never });
    await agent.ready;
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await coordinator?.stop();
    site?.closeAllConnections(); site?.close();
    await redis?.stop();
    removeProjects();
  });

  it('runs a deployed journey, then records a failure with its step and a downloadable screenshot', async () => {
    const passing = await browserCheck('journey-ok', `
      await step('open home', async () => { await page.goto(${JSON.stringify(siteUrl)}); });
      await step('go to shop', async () => { await page.click('a'); await expect(page.locator('h1')).toHaveText('Welcome'); });`, { timeout: '30s' });
    const failing = await browserCheck('journey-broken', `
      await step('open shop', async () => { await page.goto(${JSON.stringify(`${siteUrl}/shop`)}); });
      await step('see the basket', async () => { await expect(page.locator('#basket')).toBeVisible({ timeout: 500 }); });`, { timeout: '30s' });
    const deployed = await fetch(`${coordinator.url}/api/deployments`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ checks: [{ ...passing, frequencyMs: 60_000 }, { ...failing, frequencyMs: 60_000 }] }),
    });
    expect(deployed.status).toBe(200);

    const runsOf = async (id: string) => {
      const body = await (await fetch(`${coordinator.url}/api/checks/${id}`)).json() as { regions: { recentRuns: any[] }[] };
      return body.regions[0]!.recentRuns;
    };
    // A new scheduler runs at once, so both checks run without waiting a whole interval. The timeouts are
    // generous because the agent's first run includes launching Chromium, slow on a loaded machine.
    const [okRun] = await waitUntil('the passing journey', async () => { const runs = await runsOf('journey-ok'); return runs.length > 0 && runs; }, 40_000);
    expect(okRun).toMatchObject({ outcome: 'pass', error: null, agentId: 'browser-agent' });

    // The scheduled run is the streak's first failure, the one that keeps artifacts; the confirmation runs
    // it starts may be recorded after it (at most one run per check stores artifacts every 5 minutes).
    const badRun = await waitUntil('the failing journey', async () => (await runsOf('journey-broken')).find((run) => run.trigger === 'schedule'), 40_000);
    expect(badRun).toMatchObject({ outcome: 'fail', error: { code: 'ASSERTION_FAILED' }, browser: { failedStep: 'see the basket' } });
    expect(badRun.browser.artifacts, JSON.stringify(badRun.browser)).toContain('screenshot.png');

    const screenshot = await fetch(`${coordinator.url}/api/artifacts/${badRun.browser.runId}/screenshot.png`);
    expect(screenshot.status).toBe(200);
    expect(screenshot.headers.get('content-type')).toBe('image/png');
    const bytes = Buffer.from(await screenshot.arrayBuffer());
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));

    const agents = await (await fetch(`${coordinator.url}/api/agents`)).json() as { regions: { agents: { capabilities: string[] }[] }[] };
    expect(agents.regions[0]!.agents[0]!.capabilities).toEqual(['http', 'browser']);
  }, 90_000);
});
