import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckJob } from '../../../checks/contract.ts';
import { checkQueueName } from '../../../checks/keys.ts';
import { silentLogger } from '../../../lib/log.ts';
import { CheckRegistry } from '../../../coordinator/registry/store.ts';
import { CheckScheduler, phaseOf } from '../../../coordinator/scheduling/scheduler.ts';
import { TransactionRunner } from '../../../coordinator/platform/transaction.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../../support/redis.ts';
import { httpCheck } from '../support.ts';

let server: TestRedis;
let redis: Redis;
let tx: TransactionRunner;
const closers: Array<() => Promise<unknown>> = [];
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
  tx = new TransactionRunner(redis, { size: 4 });
});
afterAll(async () => {
  for (const close of closers) await close();
  await tx?.close();
  await redis?.quit();
  await server?.stop();
});

function setup() {
  const prefix = uniquePrefix('sch');
  const registry = new CheckRegistry({ redis, tx, prefix, logger: silentLogger });
  const scheduler = new CheckScheduler({ redis, prefix, registry, logger: silentLogger });
  closers.push(() => scheduler.close());
  return { prefix, registry, scheduler };
}

async function schedulers(scheduler: CheckScheduler, region: string) {
  const list = await scheduler.queue(region).getJobSchedulers(0, -1, true);
  return list.sort((a, b) => a.key.localeCompare(b.key));
}

describe('scheduler reconcile', () => {
  it('creates one scheduler per (check, region) with a valid CheckJob template, then is idempotent', async () => {
    const { registry, scheduler } = setup();
    await registry.applyDeployment([httpCheck('a', { frequencyMs: 30_000 }), httpCheck('b', { regions: ['us-east'] })], { prune: false });

    const first = await scheduler.reconcile();
    expect(first.upserted).toEqual(['a@eu-west', 'a@us-east', 'b@us-east']);
    expect(first.removed).toEqual([]);

    const usEast = await schedulers(scheduler, 'us-east');
    expect(usEast.map((s) => [s.key, s.every])).toEqual([['a@us-east', 30_000], ['b@us-east', 60_000]]);
    const job = CheckJob.parse(usEast[0]!.template!.data);
    expect(job).toMatchObject({ region: 'us-east', checkVersion: 1, trigger: 'schedule', check: { id: 'a' } });
    expect(usEast[0]!.template!.opts).toMatchObject({ removeOnComplete: { count: 100 }, removeOnFail: { count: 500 } });

    const second = await scheduler.reconcile();
    expect(second).toMatchObject({ upserted: [], removed: [], unchanged: 3 });
  });

  it('updates the template when the version changes, and the next job carries it', async () => {
    const { registry, scheduler } = setup();
    await registry.applyDeployment([httpCheck('a')], { prune: false });
    await scheduler.reconcile();
    await registry.applyDeployment([httpCheck('a', { url: 'http://127.0.0.1:9/v2', frequencyMs: 120_000 })], { prune: false });

    const summary = await scheduler.reconcile();
    expect(summary.upserted).toEqual(['a@eu-west', 'a@us-east']);
    const [s] = await schedulers(scheduler, 'eu-west');
    expect(s!.every).toBe(120_000);
    expect(s!.template!.data).toMatchObject({ checkVersion: 2, check: { url: 'http://127.0.0.1:9/v2' } });
    // The job waiting for the next slot is the new version's, not a leftover of the old one.
    const pending = (await scheduler.queue('eu-west').getJobs(['waiting', 'delayed'])).filter(isScheduledRun);
    expect(pending.map((j) => (j.data as CheckJob).checkVersion)).toEqual([2]);
  });

  it('removes schedulers of removed checks and regions, and stray ones created by hand', async () => {
    const { prefix, registry, scheduler } = setup();
    await registry.applyDeployment([httpCheck('a'), httpCheck('b')], { prune: false });
    await scheduler.reconcile();

    // A stray scheduler in a region queue Lookout uses, as an old coordinator or a race could leave.
    const stray = new Queue(checkQueueName('us-east'), { connection: redis, prefix });
    closers.push(() => stray.close());
    await stray.upsertJobScheduler('ghost@us-east', { every: 5_000 }, { name: 'ghost', data: {} });

    await registry.applyDeployment([httpCheck('a', { regions: ['us-east'] })], { prune: true });
    const summary = await scheduler.reconcile();
    expect(summary.removed).toEqual(['a@eu-west', 'b@eu-west', 'b@us-east', 'ghost@us-east']);
    expect((await schedulers(scheduler, 'us-east')).map((s) => s.key)).toEqual(['a@us-east']);
    // eu-west has no check any more, but its queue is still swept (it is a known region).
    expect(summary.regions).toContain('eu-west');
    expect(await schedulers(scheduler, 'eu-west')).toEqual([]);
    // Their queued runs went with them: agents will not run a removed check again.
    expect(await scheduler.queue('eu-west').getJobCountByTypes('waiting', 'delayed')).toBe(0);
    const usEastPending = await scheduler.queue('us-east').getJobs(['waiting', 'delayed']);
    expect(usEastPending.map(schedulerKeyOf).sort()).toEqual(['a@us-east', 'a@us-east']); // its first run and its next slot
  });

  it('reconciles two schedulers on one registry without duplicates', async () => {
    const { prefix, registry, scheduler } = setup();
    const other = new CheckScheduler({ redis, prefix, registry, logger: silentLogger });
    closers.push(() => other.close());
    await registry.applyDeployment([httpCheck('a'), httpCheck('b')], { prune: false });
    await Promise.all([scheduler.reconcile(), other.reconcile(), scheduler.reconcile()]);
    expect((await schedulers(scheduler, 'us-east')).map((s) => s.key)).toEqual(['a@us-east', 'b@us-east']);
    // Per scheduler one immediate first run and one next slot: no duplicate runs.
    const pending = await scheduler.queue('us-east').getJobs(['waiting', 'delayed']);
    expect(pending.filter(isScheduledRun).map(schedulerKeyOf).sort()).toEqual(['a@us-east', 'b@us-east']);
    expect(pending.filter((j) => !isScheduledRun(j)).map((j) => j.id).sort()).toEqual(['first.a@us-east.1', 'first.b@us-east.1']);
  });

  it('runs a new check at once, then on slots spread over the interval by a stable phase', async () => {
    const { registry, scheduler } = setup();
    const before = Date.now();
    await registry.applyDeployment([httpCheck('c', { regions: ['us-east'], frequencyMs: 60_000 })], { prune: false });
    await scheduler.reconcile();
    const jobs = await scheduler.queue('us-east').getJobs(['waiting', 'delayed']);
    const first = jobs.find((j) => !isScheduledRun(j))!;
    expect((first.data as CheckJob).scheduledAt).toBeGreaterThanOrEqual(before);
    const next = jobs.find(isScheduledRun)!;
    // The scheduled slot sits at the check's phase within the minute.
    expect(Number(next.id!.split(':')[2]) % 60_000).toBe(phaseOf('c@us-east', 60_000));
  });
});

describe('phaseOf', () => {
  it('is stable, within [1, every), and spreads ids over the interval', () => {
    expect(phaseOf('web@us-east', 60_000)).toBe(phaseOf('web@us-east', 60_000));
    const phases = Array.from({ length: 1_000 }, (_, i) => phaseOf(`check-${i}@eu-west`, 60_000));
    expect(Math.min(...phases)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...phases)).toBeLessThan(60_000);
    // Ten buckets of six seconds each hold roughly a tenth of the ids.
    const buckets = new Array(10).fill(0);
    for (const phase of phases) buckets[Math.floor(phase / 6_000)]++;
    for (const count of buckets) expect(count).toBeGreaterThan(50);
  });
});

/** Jobs made by a job scheduler (ids `repeat:<key>:<due>`), as opposed to a new check's first run. */
function isScheduledRun(job: { id?: string }): boolean {
  return job.id?.startsWith('repeat:') === true;
}
function schedulerKeyOf(job: { id?: string }): string | undefined {
  return isScheduledRun(job) ? job.id!.split(':')[1] : job.id?.split('.')[1];
}
