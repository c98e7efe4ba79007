import type { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { heartbeatKey } from '../../checks/keys.ts';
import type { AlertEvent } from '../../coordinator/events/events.ts';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import { parseStoredAgent } from '../../coordinator/liveness/agents.ts';
import { agentStateKey } from '../../checks/keys.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';
import { heartbeat, httpCheck, memoryLogger, resultsProducer, runResult, testConfig, type ResultsProducer } from './support.ts';
import { waitUntil } from '../support/wait.ts';

const shared = redisForFile();

async function twoCoordinators(checks: unknown[]) {
  const prefix = uniquePrefix('swp');
  const delivered: AlertEvent[] = [];
  const { logger } = memoryLogger();
  const coordinators: RunningCoordinator[] = [];
  for (let i = 0; i < 2; i++) {
    const c = await startCoordinator(testConfig(shared.url, prefix), { logger, deliver: async (e) => { delivered.push(e); } });
    shared.onCleanup(() => c.stop());
    coordinators.push(c);
  }
  const producer: ResultsProducer = resultsProducer(shared.redis, prefix);
  shared.onCleanup(() => producer.close());
  const deployed = await fetch(`${coordinators[0]!.url}/api/deployments`, { method: 'POST', body: JSON.stringify({ checks }) });
  expect(deployed.status).toBe(200);
  const get = async (path: string): Promise<any> => (await fetch(`${coordinators[0]!.url}${path}`)).json();
  const regionStatus = async (checkId: string, region: string): Promise<string> =>
    (await get(`/api/checks/${checkId}`)).regions.find((r: any) => r.region === region).verdict.status;
  const committed = async (type: string): Promise<number> => {
    let sum = 0;
    for (const c of coordinators) {
      const metric = await c.metrics.registry.getSingleMetric(type.startsWith('probe') ? 'lookout_probe_events_total' : 'lookout_incident_events_total')!.get();
      sum += metric.values.filter((v) => v.labels.type === type).reduce((a, v) => a + v.value, 0);
    }
    return sum;
  };
  return { prefix, coordinators, delivered, producer, get, regionStatus, committed };
}

describe('sweeper', () => {
  it('emits probe.offline once when a heartbeat expires, makes its region no-data without an incident, and probe.online on return', async () => {
    const s = await twoCoordinators([httpCheck('web')]);
    await heartbeat(shared.redis, s.prefix, 'agent-eu', 'eu-west', 60_000);
    await heartbeat(shared.redis, s.prefix, 'agent-us', 'us-east', 60_000);
    const t = Date.now() - 5_000;
    await s.producer.add('r', runResult({ checkId: 'web', region: 'us-east', scheduledAt: t }));
    await s.producer.add('r', runResult({ checkId: 'web', region: 'eu-west', scheduledAt: t }));
    await waitUntil('both regions up', async () => (await s.regionStatus('web', 'us-east')) === 'up' && (await s.regionStatus('web', 'eu-west')) === 'up');
    // A sweeper must have recorded the agent as online (not just its heartbeat existing): only an agent
    // known to be online can go offline.
    await waitUntil('agents recorded online by a sweeper', async () =>
      parseStoredAgent(await shared.redis.get(agentStateKey(s.prefix, 'us-east', 'agent-us')))?.status === 'online'
      && parseStoredAgent(await shared.redis.get(agentStateKey(s.prefix, 'eu-west', 'agent-eu')))?.status === 'online');

    // The us-east agent dies: its heartbeat key goes away.
    await shared.redis.del(heartbeatKey(s.prefix, 'us-east', 'agent-us'));
    // Besides their own loops, make both coordinators sweep at the same moment, twice each.
    await Promise.all(s.coordinators.flatMap((c) => [c.sweeper.sweepOnce(), c.sweeper.sweepOnce()]));
    await waitUntil('us-east no-data', async () => (await s.regionStatus('web', 'us-east')) === 'no-data');
    await waitUntil('probe.offline delivered', () => s.delivered.some((e) => e.type === 'probe.offline'));
    // Let both sweepers run a few more times: still exactly one offline transition committed.
    const sweeps = async () => (await s.coordinators[0]!.metrics.registry.getSingleMetric('lookout_sweep_duration_seconds')!.get()).values.find((v) => (v as { metricName?: string }).metricName?.endsWith('_count'))!.value;
    const before = await sweeps();
    await waitUntil('three more sweeps', async () => (await sweeps()) >= before + 3);
    expect(await s.committed('probe.offline')).toBe(1);
    const offline = s.delivered.find((e) => e.type === 'probe.offline')!;
    expect(offline).toMatchObject({ agent: { agentId: 'agent-us', region: 'us-east' } });
    expect(await s.regionStatus('web', 'eu-west')).toBe('up');
    expect((await s.get('/api/incidents')).open).toEqual([]);
    expect(await s.committed('incident.opened')).toBe(0);

    const agents = await s.get('/api/agents');
    expect(agents.regions.find((r: any) => r.region === 'us-east')).toMatchObject({ online: 0, offline: 1, agents: [{ agentId: 'agent-us', status: 'offline', version: '0.1.0-test' }] });

    // It comes back.
    await heartbeat(shared.redis, s.prefix, 'agent-us', 'us-east', 60_000);
    await waitUntil('probe.online delivered', () => s.delivered.some((e) => e.type === 'probe.online'));
    expect(await s.committed('probe.online')).toBe(1);
  });

  it('keeps an incident open (and regional) when its failing region goes silent', async () => {
    const s = await twoCoordinators([httpCheck('api', { failureThreshold: 1 })]);
    await heartbeat(shared.redis, s.prefix, 'agent-eu', 'eu-west', 60_000);
    await heartbeat(shared.redis, s.prefix, 'agent-us', 'us-east', 60_000);
    const t = Date.now() - 5_000;
    await s.producer.add('r', runResult({ checkId: 'api', region: 'eu-west', scheduledAt: t }));
    await waitUntil('eu-west up', async () => (await s.regionStatus('api', 'eu-west')) === 'up');
    await s.producer.add('r', runResult({ checkId: 'api', region: 'us-east', scheduledAt: t, outcome: 'fail' }));
    await waitUntil('incident open', async () => (await s.get('/api/incidents')).open.length === 1);

    await shared.redis.del(heartbeatKey(s.prefix, 'us-east', 'agent-us'));
    await waitUntil('us-east no-data', async () => (await s.regionStatus('api', 'us-east')) === 'no-data');
    const [incident] = (await s.get('/api/incidents')).open;
    expect(incident).toMatchObject({ scope: 'regional', failingRegions: ['us-east'], noDataRegions: ['us-east'], seq: 1 });
    expect(await s.committed('incident.resolved')).toBe(0);
  });

  it('marks a region no-data when results stop for two intervals plus the timeout', async () => {
    const s = await twoCoordinators([httpCheck('fast', { frequencyMs: 1_000, timeoutMs: 200, regions: ['us-east'] })]);
    await heartbeat(shared.redis, s.prefix, 'agent-us', 'us-east', 60_000);
    const t = Date.now();
    await s.producer.add('r', runResult({ checkId: 'fast', region: 'us-east', scheduledAt: t }));
    await waitUntil('up', async () => (await s.regionStatus('fast', 'us-east')) === 'up');
    await waitUntil('no-data after silence', async () => (await s.regionStatus('fast', 'us-east')) === 'no-data', 6_000);
    // Two intervals plus the timeout: not before 2.2 s after the run's slot.
    expect(Date.now() - t).toBeGreaterThanOrEqual(2_200);
  });
});
