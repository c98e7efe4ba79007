/**
 * Confirmation fan-out end to end, with real parts: a redis-server, a coordinator, three agents in three
 * regions running the real HTTP runner, and a target that fails for the regions we choose. Checks run
 * every 30 s, so anything classified within a few seconds of the first failure was classified from
 * confirmation runs, not from the next scheduled runs.
 *
 * - regional: eu-west joins a check that passes elsewhere and fails at once; the coordinator retries it
 *   in eu-west and asks the other regions, and the incident opens regional within ~3 s. eu-west joins at
 *   a moment when its own scheduled slot is far away (a new check runs once at once, and then at a
 *   stable phase of its interval that can fall anywhere, even a second later), so that the runs which
 *   classify the outage can only be the first run and the confirmation runs;
 * - global: a check failing everywhere opens as global at once (no regional incident first), because
 *   opening waits for the regions whose failure is being confirmed.
 */
import { TEST_KEYS_ENV } from '../support/signing.ts';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { parseAgentConfig } from '../../agent/config.ts';
import { parseCoordinatorConfig } from '../../coordinator/config.ts';
import { pairId, phaseOf } from '../../coordinator/scheduling/slots.ts';
import { startCoordinatorService, type CoordinatorService } from '../../coordinator/service.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';
import { waitUntil } from '../support/wait.ts';

const REGIONS = ['us-east', 'eu-west', 'ap-south'];
const FREQUENCY_MS = 30_000;
/** How far away a joining region's first scheduled slot must be: far longer than classifying takes. */
const SLOT_CLEARANCE_MS = 15_000;
const quiet = { info() {}, warn() {}, error() {}, debug() {}, child() { return quiet; } };

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('confirmation fan-out end to end', () => {
  let redis: TestRedis;
  let target: Server;
  let receiver: Server;
  let coordinator: CoordinatorService;
  const agents: RunningAgent[] = [];
  /** path → regions it fails for ('*': all). */
  const failing = new Map<string, Set<string>>([['/shop', new Set(['eu-west'])], ['/cart', new Set(['*'])]]);
  /** First failing answer per path, epoch ms. */
  const firstFailureAt = new Map<string, number>();
  const delivered: Array<{ at: number; body: any }> = [];
  let targetUrl = '';

  beforeAll(async () => {
    redis = await startRedis();
    const prefix = uniquePrefix('e2e-confirm');
    target = createServer((req, res) => {
      req.resume();
      const region = String(req.headers['x-lookout-region'] ?? '');
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const regions = failing.get(path);
      const fails = regions !== undefined && (regions.has('*') || regions.has(region));
      if (fails && !firstFailureAt.has(path)) firstFailureAt.set(path, Date.now());
      res.writeHead(fails ? 503 : 200).end();
    });
    targetUrl = await listen(target);
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        delivered.push({ at: Date.now(), body: JSON.parse(Buffer.concat(chunks).toString()) });
        res.writeHead(204).end();
      });
    });
    const receiverUrl = await listen(receiver);

    const parsed = parseCoordinatorConfig(['--redis', redis.url, '--prefix', prefix, '--port', '0', '--sweep-interval', '100ms', '--auth', 'off', '--webhook-url', `${receiverUrl}/hook`], TEST_KEYS_ENV);
    if (!('config' in parsed)) throw new Error(`coordinator config: ${JSON.stringify(parsed)}`);
    coordinator = await startCoordinatorService(parsed.config, { logger: quiet as never });
    for (const region of REGIONS) {
      const agentParsed = parseAgentConfig(['--region', region, '--redis', redis.url, '--prefix', prefix, '--agent-id', `confirm-${region}`, '--shutdown-timeout', '2s'], TEST_KEYS_ENV);
      if (!('config' in agentParsed)) throw new Error(`agent config: ${JSON.stringify(agentParsed)}`);
      const agent = await startAgent(agentParsed.config, { logger: quiet as never });
      await agent.ready;
      agents.push(agent);
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.stop()));
    await coordinator?.stop();
    target?.closeAllConnections(); target?.close();
    receiver?.closeAllConnections(); receiver?.close();
    await redis?.stop();
  });

  const check = (id: string, regions: string[]) => ({
    type: 'http', id, name: id, url: `${targetUrl}/${id}`, regions, frequencyMs: FREQUENCY_MS, timeoutMs: 2_000,
    failureThreshold: 2, successThreshold: 2, assertions: [{ type: 'status', op: 'equals', value: 200 }],
  });
  const deploy = async (checks: unknown[]): Promise<void> => {
    const response = await fetch(`${coordinator.url}/api/deployments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ checks }) });
    expect(response.status).toBe(200);
  };
  const detail = async (id: string): Promise<any> => (await fetch(`${coordinator.url}/api/checks/${id}`)).json();
  const incidentEvents = (checkId: string) => delivered.filter((d) => d.body.check?.id === checkId && String(d.body.event).startsWith('incident.'));

  it('classifies a regional outage from confirmation runs within seconds of the first failure', async () => {
    // us-east and ap-south first, so that they are up when eu-west joins and fails.
    await deploy([check('shop', ['us-east', 'ap-south'])]);
    await waitUntil('us-east and ap-south up', async () => {
      const body = await detail('shop');
      return body.regions.every((r: any) => r.verdict.status === 'up');
    }, 15_000);

    // A pair runs at k × interval + its phase (coordinator/scheduling/slots.ts): wait until eu-west's next
    // slot is far enough away that no second scheduled run can take part.
    const phase = phaseOf(pairId('shop', 'eu-west'), FREQUENCY_MS);
    const untilSlot = (): number => (phase - (Date.now() % FREQUENCY_MS) + FREQUENCY_MS) % FREQUENCY_MS || FREQUENCY_MS;
    await waitUntil(`eu-west's first scheduled slot to be ${SLOT_CLEARANCE_MS} ms away`, () => untilSlot() >= SLOT_CLEARANCE_MS, FREQUENCY_MS);
    const nextSlotAt = Date.now() + untilSlot();

    await deploy([check('shop', REGIONS)]);
    const opened = await waitUntil('incident.opened', () => incidentEvents('shop').find((d) => d.body.event === 'incident.opened'), 10_000);
    const firstFailure = firstFailureAt.get('/shop')!;
    expect(opened.at - firstFailure).toBeLessThan(3_000);
    expect(opened.body.incident).toMatchObject({ scope: 'regional', failingRegions: ['eu-west'], passingRegions: ['ap-south', 'us-east'] });

    // How: one scheduled run failed in eu-west, its confirmation failed too (threshold 2: down), and the
    // other regions' confirmation runs passed. No second scheduled run happened in eu-west.
    expect(opened.at).toBeLessThan(nextSlotAt);
    const body = await detail('shop');
    const runs = (region: string) => body.regions.find((r: any) => r.region === region).recentRuns
      .filter((run: any) => run.scheduledAt <= opened.at);
    expect(runs('eu-west').map((r: any) => `${r.trigger}:${r.outcome}`).sort()).toEqual(['confirmation:fail', 'schedule:fail']);
    for (const region of ['us-east', 'ap-south']) {
      expect(runs(region).filter((r: any) => r.trigger === 'confirmation' && r.scheduledAt >= firstFailure).map((r: any) => r.outcome)).toEqual(['pass']);
    }
  }, 60_000);

  it('opens an outage that fails everywhere as global at once', async () => {
    await deploy([check('shop', REGIONS), check('cart', REGIONS)]);
    const opened = await waitUntil('cart incident.opened', () => incidentEvents('cart').find((d) => d.body.event === 'incident.opened'), 10_000);
    expect(opened.at - firstFailureAt.get('/cart')!).toBeLessThan(3_000);
    expect(opened.body.incident).toMatchObject({ scope: 'global', failingRegions: ['ap-south', 'eu-west', 'us-east'] });
    expect(incidentEvents('cart').map((d) => d.body.event)).toEqual(['incident.opened']);
  });
});
