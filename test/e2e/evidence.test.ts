/**
 * Why a region fails, end to end, with real regions: three regions in network namespaces (an agent
 * process in each), a target namespace behind two routers, Redis and a coordinator on the host with a
 * webhook. Four outages of eu-west, one per check, at the same time:
 * - GeoDNS: eu-west's own resolver (its /etc/hosts) answers a dead address for the shop's name; the others
 *   the live one. The incident's first difference names both addresses.
 * - Edge: every region reaches the same (anycast) edge address; eu-west lands on the FRA point of presence,
 *   which answers 502; the others on AMS. The incident names the POP.
 * - Path: the path to the API's address is cut at the second router for eu-west only (packets dropped);
 *   eu-west's trace ends at that router, and the incident says so. The silent run's retry starts before
 *   its timeout (detection/confirmation.ts `planForUnanswered`).
 * - Blocked: the target answers eu-west with 403 and `cf-mitigated: challenge`: BLOCKED_BY_TARGET, and the
 *   alert says eu-west's probes are being blocked.
 *
 * With LOOKOUT_EVIDENCE_CAPTURE=<dir>, the webhook payloads (alerts.json) and a Chromium screenshot of the
 * dashboard (dashboard.png) are written there: the README's examples come from this test.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { parseCoordinatorConfig } from '../../coordinator/config.ts';
import { startCoordinatorService, type CoordinatorService } from '../../coordinator/service.ts';
import { TEST_KEYS_ENV } from '../support/signing.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { createNetwork, netnsTestPlan, spawnAgent, startNetnsTarget, type Network, type NetnsAgent, type NetnsTarget } from '../support/netns.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';
import { waitUntil } from '../support/wait.ts';

const REGIONS = ['us-east', 'eu-west', 'ap-south'];
const FAILING = 'eu-west';
const plan = netnsTestPlan();
const quiet = { info() {}, warn() {}, error() {}, debug() {}, child() { return quiet; } };

interface Delivered { at: number; body: any }

describe.skipIf(!plan.run && plan.skip)('why a region fails, with regions in network namespaces', () => {
  beforeAll(() => { if (!plan.run) throw new Error(plan.reason); });
  let network: Network;
  let redis: TestRedis;
  let target: NetnsTarget;
  let dns: TestDnsServer;
  let receiver: Server;
  let coordinator: CoordinatorService;
  const agents: NetnsAgent[] = [];
  const delivered: Delivered[] = [];
  const addresses: Record<'origin' | 'dead' | 'edge' | 'api' | 'waf', string> = { origin: '', dead: '', edge: '', api: '', waf: '' };

  beforeAll(async () => {
    network = await createNetwork({ regions: REGIONS, routers: 2 });
    const from = network.regions[FAILING]!.address;
    addresses.origin = network.target.address;
    for (const name of ['dead', 'edge', 'api', 'waf'] as const) addresses[name] = await network.addTargetAddress();
    target = await startNetnsTarget(network, [
      { name: 'origin', address: addresses.origin, port: 80 },
      { name: 'edge', address: addresses.edge, port: 80, edgePop: 'AMS', edgePops: { [from]: 'FRA' } },
      { name: 'api', address: addresses.api, port: 80 },
      { name: 'waf', address: addresses.waf, port: 80, edgePop: 'FRA' },
    ]);
    target.setBehaviour({
      rules: [
        { listener: 'edge', from, action: { status: 502, body: 'bad gateway' } },
        { listener: 'waf', from, action: { status: 403, headers: { 'cf-mitigated': 'challenge' }, body: '<title>Just a moment...</title>' } },
      ],
    });
    // Each region's own resolver (/etc/hosts): eu-west resolves the shop to a dead address.
    for (const region of REGIONS) {
      network.writeEtc(region, { hosts: { 'shop.example.test': region === FAILING ? addresses.dead : addresses.origin, 'cdn.example.test': addresses.edge, 'waf.example.test': addresses.waf } });
    }

    redis = await startRedis(['--bind', ['127.0.0.1', ...network.hostAddresses].join(' '), '--protected-mode', 'no']);
    // A second resolver for eu-west's agent, on the host: it answers the shop's live address.
    dns = await startDnsServer({ address: addresses.origin, name: 'shop.example.test' }, network.regions[FAILING]!.hostAddress);
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        delivered.push({ at: Date.now(), body: JSON.parse(Buffer.concat(chunks).toString()) });
        res.writeHead(204).end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const prefix = uniquePrefix('e2e-evidence');
    const parsed = parseCoordinatorConfig(['--redis', redis.url, '--prefix', prefix, '--port', '0', '--sweep-interval', '200ms', '--auth', 'off',
      '--webhook-url', `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`], { ...TEST_KEYS_ENV });
    if (!('config' in parsed)) throw new Error(`coordinator config: ${JSON.stringify(parsed)}`);
    coordinator = await startCoordinatorService(parsed.config, { logger: quiet as never });
    for (const region of REGIONS) {
      // A generous evidence budget: this test is about what the evidence says, not how fast it comes.
      const args = ['--evidence-budget', '4s', ...(region === FAILING ? ['--diagnostic-resolver', dns.server] : [])];
      agents.push(spawnAgent(network, region, { redisPort: redis.port, prefix, args }));
    }
    await Promise.all(agents.map((agent) => agent.ready()));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.stop()));
    await coordinator?.stop();
    receiver?.closeAllConnections(); receiver?.close();
    await dns?.close();
    await target?.stop();
    await redis?.stop();
    await network?.destroy();
  }, 30_000);

  const check = (id: string, url: string) => ({
    type: 'http', id, name: id, url, regions: REGIONS, frequencyMs: 3_000, timeoutMs: 1_500,
    failureThreshold: 2, successThreshold: 2, assertions: [{ type: 'status', op: 'equals', value: 200 }],
  });
  const opened = (checkId: string) => delivered.find((d) => d.body.check?.id === checkId && d.body.event === 'incident.opened');
  const incidentOf = async (checkId: string): Promise<any> =>
    ((await (await fetch(`${coordinator.url}/api/incidents`)).json()) as { open: any[] }).open.find((i) => i.checkId === checkId);

  it('opens each outage as regional, with the difference that explains it in the alert', async () => {
    const response = await fetch(`${coordinator.url}/api/deployments`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        checks: [
          check('geo', 'http://shop.example.test/'), check('edge', 'http://cdn.example.test/'),
          check('path', `http://${addresses.api}/health`), check('blocked', 'http://waf.example.test/'),
        ],
      }),
    });
    expect(response.status).toBe(200);
    // The path is cut once eu-west has seen the API up: the outage starts with a silent scheduled run.
    await waitUntil('path: up in eu-west', async () => {
      const detail = await (await fetch(`${coordinator.url}/api/checks/path`)).json() as { regions: Array<{ region: string; verdict: { status: string } }> };
      return detail.regions.find((r) => r.region === FAILING)?.verdict.status === 'up';
    }, 30_000, 100);
    await network.cutAt(1, FAILING, { to: addresses.api });
    for (const id of ['geo', 'edge', 'path', 'blocked']) await waitUntil(`${id}: incident.opened`, () => opened(id), 30_000, 100);
    for (const id of ['geo', 'edge', 'path', 'blocked']) {
      expect(opened(id)!.body.incident, id).toMatchObject({ scope: 'regional', failingRegions: [FAILING], passingRegions: ['ap-south', 'us-east'] });
      expect(opened(id)!.body.evidence.perRegion[FAILING].outcome).toBe('fail');
    }

    // GeoDNS: the first difference names both addresses; the second resolver disagrees with eu-west's own.
    const geo = opened('geo')!.body;
    expect(geo.why).toBe(`eu-west resolves shop.example.test to ${addresses.dead}, the passing regions to ${addresses.origin}`);
    expect(geo.evidence.differences[0]).toMatchObject({ kind: 'addresses', failing: { 'eu-west': addresses.dead }, passing: { 'us-east': addresses.origin, 'ap-south': addresses.origin } });
    await waitUntil('geo: the second resolver\'s answer', async () => (await incidentOf('geo'))?.evidence.differences.some((d: any) => d.text.includes(`its diagnostic resolver (DNS ${dns.server}) answers ${addresses.origin}`)), 20_000, 200);

    // Edge: same address everywhere, another point of presence.
    const edge = opened('edge')!.body;
    expect(edge.why).toBe('eu-west reaches the edge cloudflare FRA, the passing regions cloudflare AMS');
    expect(edge.errors[0]).toMatchObject({ region: FAILING, code: 'ASSERTION_FAILED' });

    // Path: eu-west's trace ends at the second router, as eu-west sees it.
    const cutAt = network.regions[FAILING]!.hops[1]!;
    const path = await waitUntil('path: the trace in the incident', async () => {
      const incident = await incidentOf('path');
      return incident?.evidence.differences.find((d: any) => d.kind === 'path');
    }, 20_000, 200);
    expect(path.text).toBe(`eu-west's path to ${addresses.api}:80 ends at hop 2 (${cutAt}): nothing answers beyond it`);
    // Every region connects to the same address: nothing else is claimed before the path; the second resolver
    // (which knows only the shop's name) claims nothing about the other checks.
    for (const id of ['edge', 'blocked']) expect((await incidentOf(id)).evidence.differences.map((d: any) => d.kind)).not.toContain('resolver');
    expect((await incidentOf('path')).evidence.differences.map((d: any) => d.kind)).toEqual(['path', 'status']);
    // The dropped packets' retry was started while the silent run still waited for its timeout, not after it.
    const runs = ((await (await fetch(`${coordinator.url}/api/checks/path`)).json()) as any).regions.find((r: any) => r.region === FAILING).recentRuns;
    const silent = runs.filter((r: any) => r.trigger === 'schedule' && r.outcome === 'fail').at(-1);
    const retry = runs.filter((r: any) => r.trigger === 'confirmation' && r.scheduledAt > silent.scheduledAt).at(-1);
    expect(retry.scheduledAt).toBeLessThan(silent.endedAt);
    expect(retry.outcome).toBe('fail');
    const trace = (await incidentOf('path')).evidence.perRegion[FAILING].evidence.trace;
    expect(trace).toMatchObject({ status: 'done', tool: 'mtr', reachedTarget: false });
    expect(trace.hops.map((h: any) => h.address)).toEqual([network.regions[FAILING]!.hops[0], cutAt, null]);

    // Blocked, not down.
    const blocked = opened('blocked')!.body;
    expect(blocked.summary).toBe('blocked: the target is blocking the probes of eu-west (regional; passing: ap-south, us-east) — BLOCKED_BY_TARGET');
    expect(blocked.errors[0].code).toBe('BLOCKED_BY_TARGET');
    expect(blocked.why).toBe('the target blocks the probes of eu-west (Cloudflare challenge (cf-mitigated: challenge)); the passing regions get status 200');

    const dir = process.env.LOOKOUT_EVIDENCE_CAPTURE;
    if (dir) await capture(dir);
  }, 120_000);

  /** The alerts as sent, and the dashboard as a person sees it (for the README). */
  async function capture(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    const latest = await Promise.all(['geo', 'edge', 'path', 'blocked'].map(async (id) => ({ id, opened: opened(id)!.body, now: await incidentOf(id) })));
    writeFileSync(join(dir, 'alerts.json'), JSON.stringify(latest, null, 2));
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(coordinator.url);
      await page.locator('section.why[data-incident^="path-"] [data-trace="eu-west"]').waitFor();
      await page.locator('section.why[data-incident^="geo-"]').screenshot({ path: join(dir, 'dashboard-geo.png') });
      await page.locator('section.why[data-incident^="path-"]').screenshot({ path: join(dir, 'dashboard-path.png') });
      await page.screenshot({ path: join(dir, 'dashboard.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  }
});
