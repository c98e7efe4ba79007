/**
 * The whole spine, end to end, with real parts: a redis-server, a coordinator, three agents in three
 * regions running the real HTTP runner, a target that fails only for the regions we choose (by the
 * `x-lookout-region` header every probe sends), and a webhook receiver checking signatures.
 *
 * regional outage → incident.opened (regional) → everyone fails → incident.updated (global)
 * → recovery → incident.resolved; then an agent stops → probe.offline, and no incident.
 */
import { TEST_KEYS_ENV } from '../support/signing.ts';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { parseAgentConfig } from '../../agent/config.ts';
import { parseCoordinatorConfig } from '../../coordinator/config.ts';
import { startCoordinatorService, type CoordinatorService } from '../../coordinator/service.ts';
import { TokenStore } from '../../coordinator/http/tokens.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';
import { waitUntil } from '../support/wait.ts';

const REGIONS = ['us-east', 'eu-west', 'ap-south'];
const SECRET = 'e2e-webhook-secret';
const quiet = { info() {}, warn() {}, error() {}, debug() {}, child() { return quiet; } };

interface Delivered { body: any; signatureOk: boolean }

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}

describe('fleet end to end', () => {
  let redis: TestRedis;
  let target: Server;
  let receiver: Server;
  let coordinator: CoordinatorService;
  const agents = new Map<string, RunningAgent>();
  const failingFor = new Set<string>();
  const delivered: Delivered[] = [];
  const targetSawRegions = new Set<string>();
  let targetUrl = '';

  beforeAll(async () => {
    redis = await startRedis();
    const prefix = uniquePrefix('e2e');
    target = createServer((req, res) => {
      const region = String(req.headers['x-lookout-region'] ?? '');
      targetSawRegions.add(region);
      req.resume();
      const failing = failingFor.has('*') || failingFor.has(region);
      res.writeHead(failing ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: failing ? 'down' : 'ok' }));
    });
    targetUrl = await listen(target);
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString();
        const timestamp = String(req.headers['x-lookout-timestamp'] ?? '');
        const expected = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${raw}`).digest('hex')}`;
        delivered.push({ body: JSON.parse(raw), signatureOk: req.headers['x-lookout-signature'] === expected });
        res.writeHead(204).end();
      });
    });
    const receiverUrl = await listen(receiver);

    const parsed = parseCoordinatorConfig(
      // As in production: reads are public here, writes need a token with the deploy scope.
      ['--redis', redis.url, '--prefix', prefix, '--port', '0', '--sweep-interval', '100ms', '--webhook-url', `${receiverUrl}/hook`, '--webhook-secret', SECRET, '--public-read'],
      TEST_KEYS_ENV,
    );
    if (!('config' in parsed)) throw new Error(`coordinator config: ${JSON.stringify(parsed)}`);
    coordinator = await startCoordinatorService(parsed.config, { logger: quiet as never });

    for (const region of REGIONS) {
      const agentParsed = parseAgentConfig(['--region', region, '--redis', redis.url, '--prefix', prefix, '--agent-id', `e2e-${region}`, '--shutdown-timeout', '2s'], TEST_KEYS_ENV);
      if (!('config' in agentParsed)) throw new Error(`agent config: ${JSON.stringify(agentParsed)}`);
      const agent = await startAgent(agentParsed.config, { logger: quiet as never });
      await agent.ready;
      agents.set(region, agent);
    }

    const admin = new Redis(redis.url);
    const { token } = await new TokenStore({ redis: admin, prefix }).create({ name: 'e2e-ci', scopes: ['deploy'] });
    await admin.quit();
    const response = await fetch(`${coordinator.url}/api/deployments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        checks: [{
          type: 'http', id: 'shop', name: 'Shop', url: `${targetUrl}/health`, regions: REGIONS,
          frequencyMs: 1_000, timeoutMs: 800, failureThreshold: 2, successThreshold: 2,
          assertions: [{ type: 'status', op: 'equals', value: 200 }],
        }],
      }),
    });
    expect(response.status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...agents.values()].map((agent) => agent.stop()));
    await coordinator?.stop();
    target?.closeAllConnections(); target?.close();
    receiver?.closeAllConnections(); receiver?.close();
    await redis?.stop();
  });

  const regionStatuses = async (): Promise<Record<string, string>> => {
    const body = await (await fetch(`${coordinator.url}/api/checks`)).json() as any;
    const check = body.checks.find((c: { id: string }) => c.id === 'shop');
    return Object.fromEntries((check?.regions ?? []).map((r: { region: string; status: string }) => [r.region, r.status]));
  };
  const eventsOf = (type: string) => delivered.filter((d) => d.body.event === type);

  it('reports every region up, probing with the region header', async () => {
    await waitUntil('all regions up', async () => {
      const statuses = await regionStatuses();
      return REGIONS.every((r) => statuses[r] === 'up') && statuses;
    }, 20_000);
    expect([...targetSawRegions].sort()).toEqual([...REGIONS].sort());
  });

  it('opens a regional incident naming the failing region when one region fails', async () => {
    failingFor.add('eu-west');
    const opened = await waitUntil('incident.opened', () => eventsOf('incident.opened')[0], 20_000);
    expect(opened.signatureOk).toBe(true);
    expect(opened.body.incident.scope).toBe('regional');
    expect(opened.body.incident.failingRegions).toEqual(['eu-west']);
    expect(opened.body.incident.passingRegions).toEqual(['ap-south', 'us-east']);
    expect(opened.body.check).toMatchObject({ id: 'shop', name: 'Shop' });
    expect(opened.body.errors).toEqual([expect.objectContaining({ region: 'eu-west', code: 'ASSERTION_FAILED' })]);
  });

  it('escalates the incident to global when every region fails', async () => {
    failingFor.add('*');
    const updated = await waitUntil('incident.updated to global', () => eventsOf('incident.updated').find((d) => d.body.incident.scope === 'global'), 20_000);
    expect(updated.body.incident.failingRegions).toEqual(['ap-south', 'eu-west', 'us-east']);
    expect(updated.body.incident.passingRegions).toEqual([]);
    expect(updated.body.incident.id).toBe(eventsOf('incident.opened')[0]!.body.incident.id);
  });

  it('resolves the incident when every region is up again, with each event delivered once', async () => {
    failingFor.clear();
    const resolved = await waitUntil('incident.resolved', () => eventsOf('incident.resolved')[0], 20_000);
    expect(resolved.body.incident.id).toBe(eventsOf('incident.opened')[0]!.body.incident.id);
    const incidents = await (await fetch(`${coordinator.url}/api/incidents?state=all`)).json() as { open: unknown[]; resolved: { id: string }[] };
    expect(incidents.open).toEqual([]);
    expect(incidents.resolved.map((i) => i.id)).toContain(resolved.body.incident.id);
    const ids = delivered.map((d) => d.body.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(delivered.every((d) => d.signatureOk)).toBe(true);
  });

  it('reports probe.offline and no-data, never an incident, when a region loses its agent', async () => {
    const incidentsBefore = delivered.filter((d) => d.body.event.startsWith('incident.')).length;
    await agents.get('ap-south')!.stop();
    agents.delete('ap-south');
    const offline = await waitUntil('probe.offline', () => eventsOf('probe.offline')[0], 15_000);
    expect(offline.body.agent).toMatchObject({ id: 'e2e-ap-south', region: 'ap-south' });
    await waitUntil('ap-south no-data', async () => (await regionStatuses())['ap-south'] === 'no-data', 15_000);
    const statuses = await regionStatuses();
    expect(statuses).toMatchObject({ 'us-east': 'up', 'eu-west': 'up' });
    expect(delivered.filter((d) => d.body.event.startsWith('incident.')).length).toBe(incidentsBefore);
    const agentsBody = await (await fetch(`${coordinator.url}/api/agents`)).json() as { regions: { region: string; online: number; offline: number; agents: { agentId: string; status: string }[] }[] };
    const apSouth = agentsBody.regions.find((r) => r.region === 'ap-south');
    expect(apSouth).toMatchObject({ online: 0, offline: 1, agents: [expect.objectContaining({ agentId: 'e2e-ap-south', status: 'offline' })] });
  });
});
