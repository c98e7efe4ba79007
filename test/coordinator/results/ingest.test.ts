import { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../../coordinator/events/events.ts';
import { startCoordinator, type RunningCoordinator } from '../../../coordinator/coordinator.ts';
import { minuteRollupKey, recentRunsKey } from '../../../checks/keys.ts';
import { rollupSlot } from '../../../coordinator/results/rollups.ts';
import type { RunResult } from '../../../checks/contract.ts';
import { MaintenanceStore } from '../../../coordinator/maintenance/store.ts';
import { CheckRegistry } from '../../../coordinator/registry/store.ts';
import { TransactionRunner } from '../../../coordinator/platform/transaction.ts';
import { RegionStore } from '../../../coordinator/regions/store.ts';
import { redisForFile, uniquePrefix } from '../../support/redis.ts';
import { heartbeat, httpCheck, memoryLogger, resultsProducer, runResult, testConfig, type ResultsProducer } from '../support.ts';
import { waitUntil } from '../../support/wait.ts';

const shared = redisForFile();

interface Setup {
  prefix: string;
  coordinators: RunningCoordinator[];
  delivered: AlertEvent[];
  producer: ResultsProducer;
  lines: Array<Record<string, unknown>>;
  push(...results: Array<RunResult | Record<string, unknown>>): Promise<void>;
  /** Waits until `n` result jobs in all have finished (completed or failed). */
  settled(n: number): Promise<void>;
  get(path: string): Promise<any>;
}

/** Coordinators on one Redis and prefix, with live agents in both regions, and one deployed check. */
async function setup(count: number, checks = [httpCheck('web')]): Promise<Setup> {
  const prefix = uniquePrefix('ing');
  const delivered: AlertEvent[] = [];
  const { logger, lines } = memoryLogger();
  const coordinators: RunningCoordinator[] = [];
  for (let i = 0; i < count; i++) {
    const c = await startCoordinator(testConfig(shared.url, prefix), { logger, deliver: async (event) => { delivered.push(event); } });
    shared.onCleanup(() => c.stop());
    coordinators.push(c);
  }
  await heartbeat(shared.redis, prefix, 'agent-us', 'us-east', 60_000);
  await heartbeat(shared.redis, prefix, 'agent-eu', 'eu-west', 60_000);
  const response = await fetch(`${coordinators[0]!.url}/api/deployments`, { method: 'POST', body: JSON.stringify({ checks }) });
  expect(response.status).toBe(200);
  const producer = resultsProducer(shared.redis, prefix);
  shared.onCleanup(() => producer.close());
  return {
    prefix, coordinators, delivered, producer, lines,
    async push(...results) { for (const r of results) await producer.add('result', r); },
    async settled(n) {
      await waitUntil(`${n} result jobs to finish`, async () => {
        const counts = await producer.getJobCounts('completed', 'failed');
        return (counts.completed ?? 0) + (counts.failed ?? 0) >= n;
      });
    },
    async get(path) { return (await fetch(`${coordinators[0]!.url}${path}`)).json(); },
  };
}

async function counterSum(coordinators: RunningCoordinator[], name: string, labels: Record<string, string>): Promise<number> {
  let sum = 0;
  for (const c of coordinators) {
    const metric = await c.metrics.registry.getSingleMetric(name)!.get();
    for (const value of metric.values) {
      if (Object.entries(labels).every(([k, v]) => value.labels[k] === v)) sum += value.value;
    }
  }
  return sum;
}

describe('ingest', () => {
  it('records a result delivered twice only once', async () => {
    const s = await setup(1);
    const t = Date.now() - 5_000;
    const result = runResult({ checkId: 'web', region: 'us-east', scheduledAt: t });
    await s.push(result, result);
    await s.settled(2);
    expect(await shared.redis.llen(recentRunsKey(s.prefix, 'web', 'us-east'))).toBe(1);
    const slot = rollupSlot(t);
    expect(await shared.redis.hget(minuteRollupKey(s.prefix, 'web', 'us-east', slot.hourStart), `${slot.minuteOfHour}:p`)).toBe('1');
    expect(await counterSum(s.coordinators, 'lookout_results_duplicate_total', {})).toBe(1);
    expect(await counterSum(s.coordinators, 'lookout_results_ingested_total', { outcome: 'pass' })).toBe(1);
  });

  it('rolls results up into uptime and latency, counting agent errors apart', async () => {
    const s = await setup(1);
    const t = Date.now() - 60_000;
    await s.push(
      runResult({ checkId: 'web', region: 'us-east', scheduledAt: t }),
      runResult({ checkId: 'web', region: 'us-east', scheduledAt: t + 1_000 }),
      runResult({ checkId: 'web', region: 'us-east', scheduledAt: t + 2_000 }),
      runResult({ checkId: 'web', region: 'us-east', scheduledAt: t + 3_000, outcome: 'fail' }),
      runResult({ checkId: 'web', region: 'us-east', scheduledAt: t + 4_000, outcome: 'error' }),
    );
    await s.settled(5);
    const list = await s.get('/api/checks');
    const usEast = list.checks[0].regions.find((r: any) => r.region === 'us-east');
    expect(usEast.uptime).toEqual({ '1h': 0.75, '24h': 0.75, '7d': 0.75, '30d': 0.75 });
    expect(list.checks[0].regions.find((r: any) => r.region === 'eu-west').uptime).toEqual({ '1h': null, '24h': null, '7d': null, '30d': null });

    const detail = await s.get('/api/checks/web');
    const region = detail.regions.find((r: any) => r.region === 'us-east');
    expect(region.counts24h).toEqual({ pass: 3, fail: 1, error: 1 });
    // Four target results of 42 ms: every percentile lies in the (30, 50] ms bucket.
    expect(region.latency).toMatchObject({ window: '24h', samples: 4 });
    for (const p of ['p50', 'p95', 'p99']) {
      expect(region.latency[p]).toBeGreaterThan(30);
      expect(region.latency[p]).toBeLessThanOrEqual(50);
    }
    expect(region.recentRuns).toHaveLength(5);
    expect(region.recentRuns[0]).toMatchObject({ outcome: 'error', error: { code: 'AGENT_INTERNAL' } });
  });

  it('opens an incident once through failureThreshold, with two coordinators racing, and resolves it once', async () => {
    const s = await setup(2);
    const t = Date.now() - 30_000;
    await s.push(runResult({ checkId: 'web', region: 'eu-west', scheduledAt: t }));
    await s.push(runResult({ checkId: 'web', region: 'us-east', scheduledAt: t, outcome: 'fail' }));
    await s.settled(2);
    let detail = await s.get('/api/checks/web');
    expect(detail.regions.map((r: any) => [r.region, r.verdict.status, r.verdict.consecutiveFailures])).toEqual([['us-east', 'no-data', 1], ['eu-west', 'up', 0]]);
    expect(detail.incident).toBeNull();

    // The second failure crosses the threshold; many copies make both coordinators race to apply it.
    const second = runResult({ checkId: 'web', region: 'us-east', scheduledAt: t + 1_000, outcome: 'fail' });
    await s.push(...Array(8).fill(second));
    await s.settled(10);
    detail = await s.get('/api/checks/web');
    expect(detail.regions[0].verdict).toMatchObject({ status: 'down', lastFailure: { code: 'CONNECT_REFUSED' } });
    expect(detail.incident).toMatchObject({ scope: 'regional', failingRegions: ['us-east'], passingRegions: ['eu-west'] });

    await waitUntil('incident.opened delivered', () => s.delivered.some((e) => e.type === 'incident.opened'));
    expect(await counterSum(s.coordinators, 'lookout_incident_events_total', { type: 'incident.opened' })).toBe(1);
    const opened = new Set(s.delivered.filter((e) => e.type === 'incident.opened').map((e) => e.id));
    expect(opened.size).toBe(1);
    expect([...opened][0]).toBe(`${detail.incident.id}:1`);

    // Recovery needs successThreshold (2) passes.
    await s.push(runResult({ checkId: 'web', region: 'us-east', scheduledAt: t + 2_000 }));
    await s.settled(11);
    expect((await s.get('/api/incidents')).open).toHaveLength(1);
    const recovery = runResult({ checkId: 'web', region: 'us-east', scheduledAt: t + 3_000 });
    await s.push(...Array(6).fill(recovery));
    await s.settled(17);
    await waitUntil('incident.resolved delivered', () => s.delivered.some((e) => e.type === 'incident.resolved'));
    expect(await counterSum(s.coordinators, 'lookout_incident_events_total', { type: 'incident.resolved' })).toBe(1);
    const incidents = await s.get('/api/incidents?state=all');
    expect(incidents.open).toEqual([]);
    expect(incidents.resolved).toHaveLength(1);
    expect(incidents.resolved[0]).toMatchObject({ id: detail.incident.id, resolvedAt: expect.any(Number) });
  });

  it('fails invalid results without retry, ignores unknown checks and regions, and keeps working', async () => {
    const s = await setup(1);
    const t = Date.now() - 10_000;
    // ap-south is a watched region (registered), but `web` does not run there.
    await new RegionStore({ redis: shared.redis, prefix: s.prefix }).add('ap-south');
    await s.coordinators[0]!.reconcile(true);
    // A later pass that finds the registry unchanged (the deploy's own, late on a loaded machine) keeps it watched.
    await s.coordinators[0]!.reconcile();
    await s.producer.add('result', { schemaVersion: 2, checkId: 'web', outcome: 'maybe' }, { attempts: 3 });
    await s.push(runResult({ checkId: 'nope', region: 'us-east', scheduledAt: t }));
    await s.push(runResult({ checkId: 'web', region: 'ap-south', scheduledAt: t }));
    await s.push(runResult({ checkId: 'web', region: 'us-east', scheduledAt: t }));
    await s.settled(4);

    const [failed] = await s.producer.getFailed();
    expect(failed!.attemptsMade).toBe(1);
    expect(failed!.failedReason).toMatch(/^INVALID_RESULT: .*result\.outcome/);
    const logged = s.lines.find((l) => l.msg === 'ingest.invalid_result');
    expect(logged?.problems).toEqual(expect.arrayContaining([expect.stringMatching(/^result\.region: /)]));
    expect(await counterSum(s.coordinators, 'lookout_results_invalid_total', {})).toBe(1);
    expect(await counterSum(s.coordinators, 'lookout_results_ignored_total', { reason: 'unknown_check' })).toBe(1);
    expect(await counterSum(s.coordinators, 'lookout_results_ignored_total', { reason: 'unknown_region' })).toBe(1);
    const detail = await s.get('/api/checks/web');
    expect(detail.regions[0].verdict.status).toBe('up');
  });

  it('judges each result against the registry and maintenance windows as Redis holds them, though it caches both', async () => {
    const s = await setup(1);
    const t = Date.now() - 60_000;
    // A first result fills the coordinator's registry and maintenance caches.
    await s.push(runResult({ checkId: 'web', region: 'eu-west', scheduledAt: t }));
    await s.settled(1);
    // Another coordinator (its own registry and store) drops eu-west from `web`, adds `fresh`, and puts
    // `fresh` in maintenance: this coordinator's caches now hold the old registry and no window.
    const tx = new TransactionRunner(shared.redis, { size: 1 });
    shared.onCleanup(() => tx.close());
    const registry = new CheckRegistry({ redis: shared.redis, tx, prefix: s.prefix, logger: memoryLogger().logger });
    const deployed = await registry.deploy([httpCheck('web', { regions: ['us-east'] }), httpCheck('fresh')], { prune: true });
    expect(deployed).toHaveProperty('summary.added', ['fresh']);
    await new MaintenanceStore({ redis: shared.redis, prefix: s.prefix }).create({ name: 'upgrade', checks: ['fresh'], tags: [], schedule: { type: 'once', start: t - 60_000, end: t + 60_000 } });

    await s.push(
      runResult({ checkId: 'web', region: 'eu-west', scheduledAt: t + 1_000 }),
      runResult({ checkId: 'fresh', region: 'us-east', scheduledAt: t + 1_000 }),
    );
    await s.settled(3);
    expect(await counterSum(s.coordinators, 'lookout_results_ignored_total', { reason: 'unknown_region' })).toBe(1);
    expect(await shared.redis.llen(recentRunsKey(s.prefix, 'web', 'eu-west'))).toBe(1);
    const slot = rollupSlot(t + 1_000);
    expect(await shared.redis.hgetall(minuteRollupKey(s.prefix, 'fresh', 'us-east', slot.hourStart))).toEqual({ [`${slot.minuteOfHour}:mp`]: '1' });
  });

  it('refuses results for slots never issued (forged 50 s ahead, unsigned) and from the future, so none can freeze the verdict', async () => {
    const s = await setup(1);
    const now = Date.now() - 1_000;
    const issued = runResult({ checkId: 'web', region: 'us-east', scheduledAt: now });
    const fail = { outcome: 'fail' as const, error: { code: 'TIMEOUT' as const, message: 'x' } };
    // Two forged failures 50 s ahead, carrying the proof of a real slot: the slot they claim was never issued.
    const ahead = now + 50_000;
    await s.push(
      runResult({ checkId: 'web', region: 'us-east', scheduledAt: ahead, startedAt: ahead, endedAt: ahead + 5, ...fail, slot: issued.slot }),
      runResult({ checkId: 'web', region: 'us-east', scheduledAt: ahead + 1, startedAt: ahead, endedAt: ahead + 5, ...fail, slot: null }),
    );
    const future = Date.now() + 10 * 60_000;
    await s.push(runResult({ checkId: 'web', region: 'us-east', scheduledAt: now - 500, startedAt: future, endedAt: future + 5, ...fail }));
    await s.push(issued);
    await s.settled(4);
    const reasons = (await s.producer.getFailed()).map((job) => job.failedReason).sort();
    expect(reasons).toEqual([
      expect.stringMatching(/^INVALID_SLOT: result\.slot\.signature: not a slot a coordinator of this installation issued/),
      expect.stringMatching(/^INVALID_SLOT: result\.slot: missing/),
      expect.stringMatching(/^INVALID_SLOT: result\.startedAt: .* ahead of Redis time/),
    ]);
    expect(await counterSum(s.coordinators, 'lookout_results_refused_total', { reason: 'bad_signature' })).toBe(1);
    expect(await counterSum(s.coordinators, 'lookout_results_refused_total', { reason: 'unsigned' })).toBe(1);
    expect(await counterSum(s.coordinators, 'lookout_results_refused_total', { reason: 'future' })).toBe(1);
    const detail = await s.get('/api/checks/web');
    expect(detail.regions[0].verdict).toMatchObject({ status: 'up', lastResultAt: now });
  });
});
