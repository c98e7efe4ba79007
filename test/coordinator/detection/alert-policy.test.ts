/**
 * The alert policy against a real Redis with two coordinators: confirmation jobs (one per region however
 * many coordinators race), the maintenance API and its effect (held incidents, uptime marks, runs left
 * out of uptime), and the SLO API with burn-rate events through the outbox.
 */
import type { CheckJob, RunResult } from '../../../checks/contract.ts';
import { runJobId } from '../../../coordinator/scheduling/slots.ts';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { checkQueueName, dueRunsKey } from '../../../checks/keys.ts';
import { startCoordinator, type RunningCoordinator } from '../../../coordinator/coordinator.ts';
import type { AlertEvent } from '../../../coordinator/events/events.ts';
import { MaintenanceStore } from '../../../coordinator/maintenance/store.ts';
import { CheckRegistry } from '../../../coordinator/registry/store.ts';
import { SloMonitor } from '../../../coordinator/slo/monitor.ts';
import { TransactionRunner } from '../../../coordinator/platform/transaction.ts';
import { redisForFile, uniquePrefix } from '../../support/redis.ts';
import { heartbeat, httpCheck, memoryLogger, resultsProducer, runResult, testConfig } from '../support.ts';
import { waitUntil } from '../../support/wait.ts';

const shared = redisForFile();

/** Two coordinators, live agents in both regions (heartbeats only: results are pushed by the test). */
async function setup(checks = [httpCheck('web')]) {
  const prefix = uniquePrefix('pol');
  const delivered: Array<AlertEvent & Record<string, any>> = [];
  const { logger } = memoryLogger();
  const coordinators: RunningCoordinator[] = [];
  for (let i = 0; i < 2; i++) {
    const c = await startCoordinator(testConfig(shared.url, prefix), { logger, deliver: async (event) => { delivered.push(event as never); } });
    shared.onCleanup(() => c.stop());
    coordinators.push(c);
  }
  await heartbeat(shared.redis, prefix, 'agent-us', 'us-east', 60_000);
  await heartbeat(shared.redis, prefix, 'agent-eu', 'eu-west', 60_000);
  const url = coordinators[0]!.url;
  const deployed = await fetch(`${url}/api/deployments`, { method: 'POST', body: JSON.stringify({ checks }) });
  expect(deployed.status).toBe(200);
  const producer = resultsProducer(shared.redis, prefix);
  shared.onCleanup(() => producer.close());
  let pushed = 0;
  return {
    prefix, url, delivered, logger,
    /** Pushes results and waits until every result pushed so far has been processed. */
    async push(...results: Array<RunResult | Record<string, unknown>>) {
      for (const r of results) await producer.add('result', r);
      pushed += results.length;
      await waitUntil(`${pushed} results processed`, async () => {
        const counts = await producer.getJobCounts('completed', 'failed');
        return (counts.completed ?? 0) + (counts.failed ?? 0) >= pushed;
      });
    },
    async get(path: string) { return (await fetch(`${url}${path}`)).json() as Promise<any>; },
    async send(method: string, path: string, body?: unknown) {
      const response = await fetch(`${url}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: response.status, body: await response.json() as any };
    },
  };
}

/** Confirmation runs of a region: queued (added when due) and still waiting in the coordinators' due set. */
async function confirmationJobs(prefix: string, region: string) {
  const queue = new Queue(checkQueueName(region), { connection: shared.redis, prefix });
  try {
    const jobs = await queue.getJobs(['waiting', 'delayed', 'prioritized', 'active', 'completed'], 0, 100);
    const queued = jobs.filter((job) => job.id?.endsWith('.c')).map((job) => ({ id: job.id!, delay: job.opts.delay ?? 0, data: job.data as CheckJob }));
    const due = (await shared.redis.zrange(dueRunsKey(prefix), '0', '-1', 'WITHSCORES'));
    const waiting: Array<{ dueAt: number; run: { region: string; scheduledAt: number; trigger: string } }> = [];
    for (let i = 0; i < due.length; i += 2) waiting.push({ run: JSON.parse(due[i]!), dueAt: Number(due[i + 1]) });
    return { queued, due: waiting.filter((w) => w.run.region === region) };
  } finally {
    await queue.close();
  }
}

describe('confirmation runs', () => {
  it('starts one confirmation per region however many coordinators race, none while pending or down', async () => {
    const s = await setup();
    const t = Date.now() - 30_000;
    await s.push(runResult({ checkId: 'web', region: 'us-east', scheduledAt: t }), runResult({ checkId: 'web', region: 'eu-west', scheduledAt: t }));
    // The failing run started just now (its slot is older): the retry's back-off counts from its start.
    const failure = runResult({ checkId: 'web', region: 'us-east', scheduledAt: t + 1_000, startedAt: Date.now(), endedAt: Date.now() + 1, outcome: 'fail' });
    await s.push(...Array(8).fill(failure));

    // eu-west runs at once; the retry in us-east waits its back-off in the coordinators' due set, then is
    // added (never with a BullMQ delay, which would let an agent's clock decide when it runs).
    const other = await confirmationJobs(s.prefix, 'eu-west');
    expect(other.queued).toHaveLength(1);
    expect(other.queued[0]).toMatchObject({ delay: 0, data: { trigger: 'confirmation', region: 'eu-west' } });
    const planned = await confirmationJobs(s.prefix, 'us-east');
    expect(planned.queued.length + planned.due.length).toBe(1);
    const retry = await waitUntil('the retry to be added when due', async () => {
      const { queued } = await confirmationJobs(s.prefix, 'us-east');
      return queued.length === 1 ? queued : undefined;
    }, 5_000);
    expect(retry[0]).toMatchObject({ delay: 0, data: { trigger: 'confirmation', region: 'us-east', check: { id: 'web' } } });
    expect(retry[0]!.id).toBe(runJobId('web', 'us-east', retry[0]!.data.scheduledAt, 'confirmation'));
    if (planned.due.length === 1) expect(planned.due[0]!.dueAt).toBe(retry[0]!.data.scheduledAt);
    expect((await confirmationJobs(s.prefix, 'us-east')).due).toEqual([]);

    // The confirmation answers (fails): us-east is down at once, and the incident opens regional.
    await s.push(runResult({ checkId: 'web', region: 'us-east', scheduledAt: retry[0]!.data.scheduledAt, trigger: 'confirmation', outcome: 'fail' }));
    const detail = await s.get('/api/checks/web');
    expect(detail.regions.find((r: any) => r.region === 'us-east').verdict.status).toBe('down');
    expect(detail.incident).toMatchObject({ scope: 'regional', failingRegions: ['us-east'] });
    // Down now: more failures start nothing more.
    await s.push(runResult({ checkId: 'web', region: 'us-east', scheduledAt: t + 5_000, outcome: 'fail' }));
    const after = [await confirmationJobs(s.prefix, 'us-east'), await confirmationJobs(s.prefix, 'eu-west')];
    expect(after.map((c) => c.queued.length + c.due.length)).toEqual([1, 1]);
    const runs = detail.regions.find((r: any) => r.region === 'us-east').recentRuns.map((r: any) => r.trigger);
    expect(runs).toContain('confirmation');
  });
});

describe('maintenance', () => {
  it('validates windows, holds incidents back, leaves the runs out of uptime and marks it, then lets the incident open', async () => {
    const s = await setup([httpCheck('web', { failureThreshold: 1, tags: ['shop'], confirmation: { retries: 0, otherRegions: false } })]);
    const bad = await s.send('POST', '/api/maintenance', { name: '', tags: [], schedule: { type: 'weekly', days: ['funday'], at: '25:00', durationMs: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_BODY');
    expect(bad.body.error.problems.map((p: any) => p.field)).toEqual(expect.arrayContaining(['name', 'schedule.days[0]', 'schedule.at', 'schedule.durationMs']));
    const noTarget = await s.send('POST', '/api/maintenance', { name: 'x', schedule: { type: 'once', start: 1, end: 2 } });
    expect(noTarget.body.error.problems).toEqual([{ field: 'checks', message: 'name at least one check id (checks) or tag (tags)' }]);
    expect((await s.send('POST', '/api/maintenance', '{nope')).status).toBe(400);
    expect((await s.send('GET', '/api/maintenance/nope')).body.error.code).toBe('INVALID_MAINTENANCE_ID');
    expect((await s.send('DELETE', '/api/maintenance/mw-abc-123456')).status).toBe(404);

    const now = Date.now();
    const created = await s.send('POST', '/api/maintenance', {
      name: 'db upgrade', tags: ['shop'], schedule: { type: 'once', start: new Date(now - 60_000).toISOString(), end: now + 3_600_000 },
    });
    expect(created.status).toBe(201);
    const id = created.body.window.id;
    expect(created.body.window).toMatchObject({ name: 'db upgrade', active: true, schedule: { type: 'once', start: now - 60_000 } });
    expect((await s.get('/api/maintenance')).windows.map((w: any) => w.id)).toEqual([id]);

    const t = now - 1_000;
    await s.push(runResult({ checkId: 'web', region: 'eu-west', scheduledAt: t }), runResult({ checkId: 'web', region: 'us-east', scheduledAt: t, outcome: 'fail' }));
    let detail = await s.get('/api/checks/web');
    expect(detail.regions.find((r: any) => r.region === 'us-east').verdict.status).toBe('down');
    expect(detail.incident).toBeNull();
    expect(detail.maintenance.active).toEqual([expect.objectContaining({ windowId: id, name: 'db upgrade' })]);
    expect(detail.maintenance.uptimeWindows['1h']).toHaveLength(1);
    // The runs were recorded, but uptime leaves them out.
    expect(detail.regions.find((r: any) => r.region === 'us-east').uptime['1h']).toBeNull();
    expect(detail.regions.find((r: any) => r.region === 'us-east').recentRuns).toHaveLength(1);
    expect(detail.regions.map((r: any) => r.flappingSince)).toEqual([null, null]);

    expect((await s.send('DELETE', `/api/maintenance/${id}`)).body).toEqual({ removed: id });
    await waitUntil('incident opened after the window', () => s.delivered.find((e) => e.type === 'incident.opened'));
    detail = await s.get('/api/checks/web');
    expect(detail.incident).toMatchObject({ scope: 'regional', failingRegions: ['us-east'] });
    expect(detail.maintenance.active).toEqual([]);
  });
});

describe('SLOs', () => {
  it('reports SLI, budget and burn rates, and fires and resolves burn-rate alerts through the outbox once', async () => {
    const slo = { availability: { objective: 99 }, latency: { objective: 90, thresholdMs: 50 } };
    const s = await setup([httpCheck('web', { slo, confirmation: { retries: 0, otherRegions: false } })]);
    const t = Date.now() - 60_000;
    const results = [];
    for (let i = 0; i < 10; i++) {
      results.push(runResult({ checkId: 'web', region: 'us-east', scheduledAt: t + i, outcome: i < 2 ? 'fail' : 'pass' }));
      results.push(runResult({ checkId: 'web', region: 'eu-west', scheduledAt: t + i }));
    }
    await s.push(...results);

    const report = await s.get('/api/checks/web/slo');
    expect(report).toMatchObject({ checkId: 'web', maintenanceExcluded: true, availability: { objective: 99, thresholdMs: null } });
    expect(report.availability.overall.sli).toBeCloseTo(18 / 20, 10);
    expect(report.availability.overall.errorBudget.total).toBeCloseTo(0.2, 10);
    expect(report.availability.overall.errorBudget.consumed).toBe(2);
    expect(report.availability.regions['us-east'].sli).toBeCloseTo(0.8, 10);
    expect(report.availability.regions['eu-west'].burnRates['5m']).toBe(0);
    expect(report.availability.overall.burnRates['5m']).toBeCloseTo(10, 8);
    // Every run took 42 ms, under the 50 ms threshold: a perfect latency SLI.
    expect(report.latency.overall).toMatchObject({ sli: 1, events: { good: 20, total: 20 } });
    expect((await s.send('GET', '/api/checks/nope/slo')).status).toBe(404);
    expect((await s.get('/api/checks/web/slo')).alerts).toEqual([]);

    // Two coordinators' monitors race over the same rollups: each event is committed once.
    let clock = Date.now();
    const monitors = [0, 1].map(() => {
      const tx = new TransactionRunner(shared.redis, { size: 2 });
      shared.onCleanup(() => tx.close());
      const registry = new CheckRegistry({ redis: shared.redis, tx, prefix: s.prefix, logger: s.logger });
      return new SloMonitor({ redis: shared.redis, tx, prefix: s.prefix, registry, maintenance: new MaintenanceStore({ redis: shared.redis, prefix: s.prefix }), logger: s.logger, now: () => clock });
    });
    await Promise.all(monitors.map((m) => m.evaluateOnce()));
    // (The coordinators' own monitors may evaluate too: whoever commits, each event exists once. The
    // outbox moves at least once, so deliveries are counted by event id, as channels do.)
    const burnIds = () => [...new Set(s.delivered.filter((e) => e.type === ('slo.burn_rate' as never)).map((e) => e.id))].sort();
    await waitUntil('slo.burn_rate delivered', () => burnIds().length === 1);
    const fired = s.delivered.find((e) => e.type === ('slo.burn_rate' as never))!;
    // A burn rate of 10 against 99 %: above the slow rule's 6×, below the fast rule's 14.4×.
    expect(fired).toMatchObject({ state: 'fired', slo: { sli: 'availability', objective: 99 }, rule: { name: 'slow', factor: 6 } });
    expect(fired.burnRate.short).toBeCloseTo(10, 8);
    expect((await s.get('/api/checks/web/slo')).alerts).toEqual([expect.objectContaining({ sli: 'availability', rule: 'slow', factor: 6, firedAt: fired.firedAt })]);

    // 40 minutes later, the slow rule's short window (30 min) holds only passes: the alert resolves.
    clock += 40 * 60_000;
    const later = [];
    for (let i = 0; i < 5; i++) later.push(runResult({ checkId: 'web', region: 'us-east', scheduledAt: clock - 60_000 + i }));
    await s.push(...later);
    const resolved = (await Promise.all(monitors.map((m) => m.evaluateOnce()))).flat();
    expect(resolved.map((e) => `${e.rule.name}:${e.state}:${e.firedAt}`)).toEqual([`slow:resolved:${fired.firedAt}`]);
    await waitUntil('resolution delivered', () => burnIds().length === 2);
    expect(burnIds()).toEqual([`slo.burn_rate:web:availability:slow:${fired.firedAt}:fired`, `slo.burn_rate:web:availability:slow:${fired.firedAt}:resolved`]);
    expect((await s.get('/api/checks/web/slo')).alerts).toEqual([]);
  });
});
