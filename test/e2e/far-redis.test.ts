/**
 * An agent far away from Redis: its connection goes through a user-space proxy that adds 150 ms to every
 * round trip (test/support/latency-proxy.ts; this kernel has no netem). Coordinators and a near agent
 * reach Redis directly, as in a deployment whose Redis sits beside the coordinators.
 *
 * What must hold at that distance: the far region's agent stays online and answers canaries (no
 * probe.offline or probe.stalled, with canaries every 2 s: a stall would show within 6 s), its runs
 * are neither skipped as late nor refused at ingest, and a failure seen only from the far region opens a
 * regional incident naming it, which resolves on recovery. How fast, and the throughput per agent at a
 * given round trip, are measured in bench/ (section `farAgent`), not asserted here.
 */
import { TEST_KEYS_ENV } from '../support/signing.ts';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { parseAgentConfig } from '../../agent/config.ts';
import { parseCoordinatorConfig } from '../../coordinator/config.ts';
import { startCoordinatorService, type CoordinatorService } from '../../coordinator/service.ts';
import { startLatencyProxy, type LatencyProxy } from '../support/latency-proxy.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';
import { waitUntil } from '../support/wait.ts';

/**
 * 150 ms by default. LOOKOUT_FAR_RTT_MS (1–2000) and LOOKOUT_FAR_CANARY_INTERVAL (a duration such as
 * '1s') rerun this test at another distance and canary interval: how README "Deploy" found the round
 * trip an agent tolerates.
 */
const RTT_MS = envInteger('LOOKOUT_FAR_RTT_MS', 150, 1, 2_000);
const FREQUENCY_MS = 5_000;
/** A fifth of the default: a stall (3 intervals without an answer) would show within 6 s. */
const CANARY_INTERVAL = process.env.LOOKOUT_FAR_CANARY_INTERVAL ?? '2s';
const quiet = { info() {}, warn() {}, error() {}, debug() {}, child() { return quiet; } };

function envInteger(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name}: want an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return value;
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe(`an agent ${RTT_MS} ms (round trip) away from Redis, canaries every ${CANARY_INTERVAL}`, () => {
  let redis: TestRedis;
  let proxy: LatencyProxy;
  let target: Server;
  let coordinator: CoordinatorService;
  const agents: RunningAgent[] = [];
  const failing = new Set<string>();
  const prefix = uniquePrefix('e2e-far');

  beforeAll(async () => {
    redis = await startRedis();
    proxy = await startLatencyProxy({ target: { host: '127.0.0.1', port: redis.port }, oneWayDelayMs: RTT_MS / 2 });
    target = createServer((req, res) => {
      req.resume();
      const region = String(req.headers['x-lookout-region'] ?? '');
      res.writeHead(failing.has(region) ? 503 : 200).end(failing.has(region) ? 'down' : 'ok');
    });
    const targetUrl = await listen(target);

    const parsed = parseCoordinatorConfig(['--redis', redis.url, '--prefix', prefix, '--port', '0', '--canary-interval', CANARY_INTERVAL, '--auth', 'off'], TEST_KEYS_ENV);
    if (!('config' in parsed)) throw new Error(`coordinator config: ${JSON.stringify(parsed)}`);
    coordinator = await startCoordinatorService(parsed.config, { logger: quiet as never });
    for (const [region, url] of [['near', redis.url], ['far', `redis://127.0.0.1:${proxy.port}`]] as const) {
      const agentParsed = parseAgentConfig(['--region', region, '--redis', url, '--prefix', prefix, '--agent-id', `${region}-1`, '--shutdown-timeout', '2s'], TEST_KEYS_ENV);
      if (!('config' in agentParsed)) throw new Error(`agent config: ${JSON.stringify(agentParsed)}`);
      const agent = await startAgent(agentParsed.config, { logger: quiet as never });
      agents.push(agent);
      await agent.ready;
    }
    const response = await fetch(`${coordinator.url}/api/deployments`, {
      method: 'POST',
      body: JSON.stringify({
        checks: [{
          type: 'http', id: 'shop', name: 'Shop', url: `${targetUrl}/`, regions: ['near', 'far'],
          frequencyMs: FREQUENCY_MS, timeoutMs: 2_000, failureThreshold: 1, successThreshold: 1,
        }],
      }),
    });
    expect(response.status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await coordinator?.stop();
    await proxy?.close();
    target?.closeAllConnections(); target?.close();
    await redis?.stop();
  });

  const api = async (path: string): Promise<any> => (await fetch(`${coordinator.url}${path}`)).json();
  const status = async (region: string): Promise<string | undefined> => (await api('/api/checks/shop')).regions.find((r: any) => r.region === region)?.verdict?.status;
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const values = (await coordinator.coordinator.metrics.registry.getSingleMetric(name)!.get()).values;
    return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((sum, v) => sum + v.value, 0);
  };

  it('keeps the far region up and online: no offline, no stall, nothing late or refused', async () => {
    await waitUntil('both regions up', async () => (await status('near')) === 'up' && (await status('far')) === 'up', 30_000, 100);
    // Watch two run intervals (five canary intervals) for a flap.
    const checkedFrom = Date.now();
    await waitUntil('five canary intervals watched', async () => {
      const far = (await api('/api/agents')).regions.find((r: any) => r.region === 'far');
      expect(far).toMatchObject({ online: 1, offline: 0 });
      expect(far.canary).toMatchObject({ stalled: false });
      return Date.now() - checkedFrom >= 2 * FREQUENCY_MS;
    }, 30_000, 250);
    expect(await metric('lookout_probe_events_total', { type: 'probe.offline' })).toBe(0);
    expect(await metric('lookout_probe_events_total', { type: 'probe.stalled' })).toBe(0);
    expect(await metric('lookout_results_refused_total')).toBe(0);
    const farAgent = agents[1]!;
    const skipped = (await farAgent.metrics.registry.getSingleMetric('lookout_agent_runs_skipped_total')!.get()).values.reduce((s, v) => s + v.value, 0);
    expect(skipped).toBe(0);
    // The far agent's traffic did go through the proxy.
    expect(proxy.accepted()).toBeGreaterThan(0);
  }, 60_000);

  it('opens a regional incident when only the far region sees the target fail, and resolves it', async () => {
    failing.add('far');
    const incident = await waitUntil('an incident open', async () => (await api('/api/incidents')).open[0], 30_000, 100);
    expect(incident).toMatchObject({ checkId: 'shop', scope: 'regional', failingRegions: ['far'] });
    expect(await status('near')).toBe('up');
    failing.clear();
    await waitUntil('the incident resolved', async () => (await api('/api/incidents')).open.length === 0, 30_000, 100);
    expect(await status('far')).toBe('up');
    expect(await metric('lookout_probe_events_total', { type: 'probe.stalled' })).toBe(0);
  }, 60_000);
});
