import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckJob, checkQueueName } from '../../checks/contract.ts';
import { silentLogger } from '../../coordinator/log.ts';
import { Registry } from '../../coordinator/registry.ts';
import { CheckScheduler } from '../../coordinator/scheduler.ts';
import { TransactionRunner } from '../../coordinator/transaction.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';
import { httpCheck } from './support.ts';

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
  const registry = new Registry({ redis, tx, prefix, logger: silentLogger });
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
    const pending = await scheduler.queue('eu-west').getJobs(['waiting', 'delayed']);
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
    expect(usEastPending.map((j) => j.id!.split(':')[1])).toEqual(['a@us-east']);
  });

  it('reconciles two schedulers on one registry without duplicates', async () => {
    const { prefix, registry, scheduler } = setup();
    const other = new CheckScheduler({ redis, prefix, registry, logger: silentLogger });
    closers.push(() => other.close());
    await registry.applyDeployment([httpCheck('a'), httpCheck('b')], { prune: false });
    await Promise.all([scheduler.reconcile(), other.reconcile(), scheduler.reconcile()]);
    expect((await schedulers(scheduler, 'us-east')).map((s) => s.key)).toEqual(['a@us-east', 'b@us-east']);
    // One pending job per scheduler: no duplicate runs.
    const pending = await scheduler.queue('us-east').getJobs(['waiting', 'delayed']);
    expect(pending.map((j) => j.id!.split(':')[1]).sort()).toEqual(['a@us-east', 'b@us-east']);
  });
});
