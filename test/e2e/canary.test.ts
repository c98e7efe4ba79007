/**
 * Region canaries end to end, with real parts: a redis-server, two coordinators (canaries every 200 ms)
 * delivering to a real webhook receiver, a healthy agent in us-east (`startAgent`), and in eu-west an
 * agent assembled from the same modules whose BullMQ worker we pause while its heartbeat goes on: the
 * failure DESIGN.md §4 describes (a worker that stopped fetching while reporting healthy).
 *
 * paused worker → eu-west stalled: probe.stalled once, its verdict no-data (long before the missed results
 * alone would say so), no incident, us-east untouched → worker resumed → probe.recovered once, eu-west up.
 */
import { TEST_KEYS_ENV } from '../support/signing.ts';
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { createCanaryResponder } from '../../agent/jobs/canary.ts';
import { parseAgentConfig } from '../../agent/config.ts';
import { startHeartbeat } from '../../agent/liveness/heartbeat.ts';
import { createLogger } from '../../lib/log.ts';
import { localClock } from '../../lib/clock.ts';
import { JobVerifier } from '../../checks/signing.ts';
import { TEST_JOB_PUBLIC_KEY } from '../support/signing.ts';
import { createAgentMetrics } from '../../agent/liveness/metrics.ts';
import { ResultPublisher } from '../../agent/results/publisher.ts';
import { startRunners } from '../../agent/runners/index.ts';
import { createCheckWorker } from '../../agent/jobs/worker.ts';
import { parseCoordinatorConfig } from '../../coordinator/config.ts';
import { startCoordinatorService, type CoordinatorService } from '../../coordinator/service.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';
import { waitUntil } from '../support/wait.ts';

const FREQUENCY_MS = 5_000;
const TIMEOUT_MS = 2_000;
const STALLED_AGENT = 'stall-eu-west';
const quiet = { info() {}, warn() {}, error() {}, debug() {}, child() { return quiet; } };

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** An agent made of the production modules (agent.ts wires the same ones), with its worker within reach. */
async function startPausableAgent(redisUrl: string, prefix: string, region: string, agentId: string) {
  const logger = createLogger(() => {});
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const metrics = createAgentMetrics();
  const publisher = new ResultPublisher({ redis, prefix, region, logger, metrics });
  const { runners } = await startRunners(['http']);
  const verifier = new JobVerifier(TEST_JOB_PUBLIC_KEY);
  const checkWorker = createCheckWorker({
    config: { region, prefix, concurrency: 2, agentId }, runners, publisher, metrics, logger,
    connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), verifier, clock: localClock,
    canary: createCanaryResponder({ redis, prefix, region, agentId, verifier }),
  });
  checkWorker.start();
  await checkWorker.worker.waitUntilReady();
  const heartbeat = startHeartbeat({
    redis, prefix, logger, inFlight: checkWorker.inFlight,
    identity: { agentId, region, version: 'test', hostname: hostname(), pid: process.pid, concurrency: 2, capabilities: ['http'], startedAt: Date.now() },
  });
  await heartbeat.beat();
  return {
    /** Stops fetching jobs; the heartbeat goes on. */
    pause: () => checkWorker.worker.pause(),
    resume: () => checkWorker.worker.resume(),
    async stop() {
      await heartbeat.stop();
      await checkWorker.close(1_000);
      await publisher.close(1_000);
      await redis.quit();
    },
  };
}

describe('region canaries end to end', () => {
  let redis: TestRedis;
  let target: Server;
  let receiver: Server;
  const coordinators: CoordinatorService[] = [];
  let healthy: RunningAgent | undefined;
  let pausable: Awaited<ReturnType<typeof startPausableAgent>> | undefined;
  const delivered: any[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const prefix = uniquePrefix('e2e-canary');
    target = createServer((req, res) => { req.resume(); res.writeHead(200).end('ok'); });
    const targetUrl = await listen(target);
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        delivered.push(JSON.parse(Buffer.concat(chunks).toString()));
        res.writeHead(204).end();
      });
    });
    const receiverUrl = await listen(receiver);

    const parsed = parseCoordinatorConfig([
      '--redis', redis.url, '--prefix', prefix, '--port', '0', '--sweep-interval', '100ms', '--canary-interval', '200ms',
      '--auth', 'off', '--webhook-url', `${receiverUrl}/hook`,
    ], TEST_KEYS_ENV);
    if (!('config' in parsed)) throw new Error(`coordinator config: ${JSON.stringify(parsed)}`);
    for (let i = 0; i < 2; i++) coordinators.push(await startCoordinatorService(parsed.config, { logger: quiet as never }));

    const agentParsed = parseAgentConfig(['--region', 'us-east', '--redis', redis.url, '--prefix', prefix, '--agent-id', 'healthy-us-east', '--shutdown-timeout', '2s'], TEST_KEYS_ENV);
    if (!('config' in agentParsed)) throw new Error(`agent config: ${JSON.stringify(agentParsed)}`);
    healthy = await startAgent(agentParsed.config, { logger: quiet as never });
    await healthy.ready;
    pausable = await startPausableAgent(redis.url, prefix, 'eu-west', STALLED_AGENT);

    const response = await fetch(`${coordinators[0]!.url}/api/deployments`, {
      method: 'POST',
      body: JSON.stringify({
        checks: [{
          type: 'http', id: 'shop', name: 'Shop', url: `${targetUrl}/health`, regions: ['us-east', 'eu-west'],
          frequencyMs: FREQUENCY_MS, timeoutMs: TIMEOUT_MS, failureThreshold: 1, successThreshold: 1,
        }],
      }),
    });
    expect(response.status).toBe(200);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([healthy?.stop(), pausable?.stop()]);
    for (const coordinator of coordinators) await coordinator.stop();
    target?.closeAllConnections(); target?.close();
    receiver?.closeAllConnections(); receiver?.close();
    await redis?.stop();
  });

  const api = async (path: string): Promise<any> => (await fetch(`${coordinators[0]!.url}${path}`)).json();
  const verdict = async (region: string) => (await api('/api/checks/shop')).regions.find((r: any) => r.region === region)?.verdict;
  const canaryOf = async (region: string) => (await api('/api/agents')).regions.find((r: any) => r.region === region)?.canary;
  const eventsOf = (type: string) => delivered.filter((d) => d.event === type);
  const committed = async (type: string): Promise<number> => {
    let sum = 0;
    for (const { coordinator } of coordinators) {
      const metric = await coordinator.metrics.registry.getSingleMetric('lookout_probe_events_total')!.get();
      sum += metric.values.filter((v) => v.labels.type === type).reduce((a, v) => a + v.value, 0);
    }
    return sum;
  };
  /** Lets both coordinators sweep a few more times, so a duplicate emission would have happened by now. */
  const moreSweeps = async () => {
    const count = async () => (await coordinators[0]!.coordinator.metrics.registry.getSingleMetric('lookout_sweep_duration_seconds')!.get())
      .values.find((v) => (v as { metricName?: string }).metricName?.endsWith('_count'))!.value;
    const before = await count();
    await waitUntil('five more sweeps', async () => (await count()) >= before + 5, 5_000);
  };

  it('shows both regions up, each answering canaries', async () => {
    await waitUntil('both regions up', async () => (await verdict('us-east'))?.status === 'up' && (await verdict('eu-west'))?.status === 'up', 15_000);
    for (const region of ['us-east', 'eu-west']) {
      const canary = await waitUntil(`a canary answer from ${region}`, async () => {
        const c = await canaryOf(region);
        return c?.lastAnswerAt !== null && c?.lastAnswerAt !== undefined && c;
      }, 5_000);
      expect(canary).toMatchObject({ intervalMs: 200, stalled: false, stalledSince: null, lastAnswerAgentId: region === 'eu-west' ? STALLED_AGENT : 'healthy-us-east' });
    }
  });

  it('turns a region whose worker stopped fetching into no data, with probe.stalled once and no incident', async () => {
    await pausable!.pause();
    const stalled = await waitUntil('probe.stalled delivered', () => eventsOf('probe.stalled')[0], 10_000);
    expect(stalled).toMatchObject({
      summary: expect.stringMatching(/^Region eu-west is stalled: agent stall-eu-west heartbeats but answered no canary since /),
      data: { region: 'eu-west', agents: [STALLED_AGENT], lastAnswerAgentId: STALLED_AGENT, canaryIntervalMs: 200 },
    });

    const noData = await waitUntil('eu-west no-data', async () => {
      const v = await verdict('eu-west');
      return v?.status === 'no-data' && v;
    }, 3_000);
    // Missed results alone would need two intervals plus the timeout after the last one: the canary said it first.
    expect(Date.now() - noData.lastResultAt).toBeLessThan(2 * FREQUENCY_MS + TIMEOUT_MS);
    expect(await canaryOf('eu-west')).toMatchObject({ stalled: true, stalledSince: stalled.data.stalledSince });
    // Its agent still heartbeats: it is online, and it is not an agent going offline.
    expect((await api('/api/agents')).regions.find((r: any) => r.region === 'eu-west')).toMatchObject({ online: 1, offline: 0 });

    await moreSweeps();
    expect(eventsOf('probe.stalled')).toHaveLength(1);
    expect(await committed('probe.stalled')).toBe(1);
    expect(eventsOf('probe.offline')).toEqual([]);
    expect(delivered.filter((d) => d.event.startsWith('incident.'))).toEqual([]);
    expect((await api('/api/incidents')).open).toEqual([]);
    expect((await verdict('us-east')).status).toBe('up');
    expect(await canaryOf('us-east')).toMatchObject({ stalled: false });
  });

  it('reports probe.recovered once when the worker fetches again, and the region comes back', async () => {
    await pausable!.resume();
    const recovered = await waitUntil('probe.recovered delivered', () => eventsOf('probe.recovered')[0], 10_000);
    expect(recovered).toMatchObject({
      summary: expect.stringMatching(/^Region eu-west answers canaries again after /),
      data: { region: 'eu-west', reason: 'answered', stalledSince: eventsOf('probe.stalled')[0].data.stalledSince },
    });
    await waitUntil('eu-west up again', async () => (await verdict('eu-west'))?.status === 'up', 10_000);
    expect(await canaryOf('eu-west')).toMatchObject({ stalled: false, stalledSince: null, lastAnswerAgentId: STALLED_AGENT });

    await moreSweeps();
    expect(eventsOf('probe.recovered')).toHaveLength(1);
    expect(await committed('probe.recovered')).toBe(1);
    expect(eventsOf('probe.stalled')).toHaveLength(1);
    expect(delivered.filter((d) => d.event.startsWith('incident.'))).toEqual([]);
  });
});
