/**
 * The schedule on a real redis-server: pairs from the registry, runs issued when due (signed, at their
 * slot, once however many coordinators issue them), new checks run at once, removed ones stop, unused
 * regions are pruned, confirmations wait in the due set. Time is a clock the test moves.
 */
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckJob } from '../../../checks/contract.ts';
import { dueRunsKey, issuedSlotsKey, knownRegionsKey, regionRecordsKey } from '../../../checks/keys.ts';
import { JobVerifier, definitionDigest } from '../../../checks/signing.ts';
import { silentLogger } from '../../../lib/log.ts';
import { CheckRegistry } from '../../../coordinator/registry/store.ts';
import { CheckScheduler } from '../../../coordinator/scheduling/scheduler.ts';
import type { IssuedRun } from '../../../coordinator/scheduling/dispatcher.ts';
import { MAX_START_DELAY_MS, expiresAtFor, nextSlotAfter, phaseOf, runJobId } from '../../../coordinator/scheduling/slots.ts';
import { TransactionRunner } from '../../../coordinator/platform/transaction.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../../support/redis.ts';
import { TEST_JOB_PUBLIC_KEY, testSigner } from '../../support/signing.ts';
import { waitUntil } from '../../support/wait.ts';
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

const verifier = new JobVerifier(TEST_JOB_PUBLIC_KEY);

function setup(options: { now?: number; prefix?: string } = {}) {
  const prefix = options.prefix ?? uniquePrefix('sch');
  const registry = new CheckRegistry({ redis, tx, prefix, logger: silentLogger });
  const clock = { value: options.now ?? Date.now(), now() { return this.value; } };
  /** Every run any scheduler of this setup said it issued. */
  const issued: IssuedRun[] = [];
  const make = () => {
    const scheduler = new CheckScheduler({
      redis, prefix, registry, logger: silentLogger, signer: testSigner, clock: { now: () => clock.now() },
      onIssued: async (runs) => { issued.push(...runs); },
    });
    closers.push(() => scheduler.close());
    return scheduler;
  };
  return { prefix, registry, clock, issued, scheduler: make(), another: make };
}

const jobsOf = async (scheduler: CheckScheduler, region: string): Promise<Job[]> =>
  (await scheduler.queue(region).getJobs(['waiting', 'delayed', 'prioritized'])).sort((a, b) => (a.id ?? '').localeCompare(b.id ?? ''));

describe('scheduler', () => {
  it('schedules one pair per (check, region), then is idempotent for the same registry revision', async () => {
    const { registry, scheduler } = setup();
    await registry.applyDeployment([httpCheck('a', { frequencyMs: 30_000 }), httpCheck('b', { regions: ['us-east'] })], { prune: false });
    const first = await scheduler.reconcile();
    expect(first).toMatchObject({ upserted: ['a@eu-west', 'a@us-east', 'b@us-east'], removed: [], regions: ['eu-west', 'us-east'] });
    expect(await scheduler.reconcile()).toMatchObject({ upserted: [], removed: [], unchanged: 3 });
    expect(scheduler.pairs().map((p) => [p.id, p.version])).toEqual([['a@eu-west', 1], ['a@us-east', 1], ['b@us-east', 1]]);
  });

  it('answers a reconcile asked while a pass runs with the next pass, which sees what changed since', async () => {
    const { registry, scheduler } = setup();
    await registry.applyDeployment([httpCheck('p', { regions: ['us-east'] })], { prune: false });
    // Hold the first pass after it has read the registry, so the change below comes after that read.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const listChecks = registry.listChecks.bind(registry);
    let reads = 0;
    registry.listChecks = async () => { const checks = await listChecks(); if (reads++ === 0) await gate; return checks; };
    const first = scheduler.reconcile({ force: true });
    await waitUntil('the first pass has read the registry', () => reads === 1);
    await registry.applyDeployment([httpCheck('q', { regions: ['ap-south'] })], { prune: false });
    const asked = [scheduler.reconcile({ force: true }), scheduler.reconcile()];
    release();
    expect((await first).regions).toEqual(['us-east']);
    // Both later calls share one more pass, made after the first: it knows ap-south.
    const [second, third] = await Promise.all(asked);
    expect(second.regions).toEqual(['ap-south', 'us-east']);
    expect(third).toBe(second);
    expect(reads).toBe(2);
  });

  it('runs a new check once at once, with a signed job of its deploy time, and never again on a second coordinator', async () => {
    const { registry, scheduler, another, issued } = setup();
    await registry.applyDeployment([httpCheck('c', { regions: ['us-east'] })], { prune: false });
    const deployedAt = (await registry.getCheck('c'))!.updatedAt;
    await Promise.all([scheduler.reconcile(), another().reconcile(), scheduler.reconcile({ force: true })]);
    const jobs = await jobsOf(scheduler, 'us-east');
    expect(jobs.map((j) => j.id)).toEqual([runJobId('c', 'us-east', deployedAt, 'schedule')]);
    const job = CheckJob.parse(jobs[0]!.data);
    expect(job).toMatchObject({ region: 'us-east', checkVersion: 1, trigger: 'schedule', scheduledAt: deployedAt, expiresAt: expiresAtFor(deployedAt, 60_000) });
    expect(job.definitionDigest).toBe(definitionDigest(job.check));
    expect(verifier.verifyRun({ region: 'us-east', checkId: 'c', checkVersion: 1, trigger: 'schedule', scheduledAt: deployedAt, expiresAt: job.expiresAt, definitionDigest: job.definitionDigest }, job.signature)).toBe(true);
    // No BullMQ delay: the job is due now, so no agent's clock decides when it runs.
    expect(jobs[0]!.opts.delay ?? 0).toBe(0);
    // Detection hears of the run once (it watches it until answered), from the coordinator that added it.
    expect(issued).toEqual([{ checkId: 'c', region: 'us-east', scheduledAt: deployedAt, trigger: 'schedule' }]);
  });

  it('issues each slot at its time, exactly once across coordinators, and skips slots a stalled scheduler missed', async () => {
    // The scheduler's clock is a minute past the deployment: no first run, only slots.
    const start = Date.now() + 60_000;
    const { prefix, registry, scheduler, another, clock } = setup({ now: start });
    const other = another();
    await registry.applyDeployment([httpCheck('s', { regions: ['eu-west'], frequencyMs: 10_000, timeoutMs: 5_000 })], { prune: false });
    await Promise.all([scheduler.reconcile(), other.reconcile()]);
    const phase = phaseOf('s@eu-west', 10_000);
    const slot = nextSlotAfter(start, 10_000, phase);
    expect(scheduler.pairs()[0]!.next).toBe(slot);
    scheduler.start();
    other.start();
    clock.value = slot;
    await waitUntil('the slot to be issued', async () => (await jobsOf(scheduler, 'eu-west')).length === 1, 5_000);
    clock.value = slot + 10_000;
    await waitUntil('the next slot', async () => (await jobsOf(scheduler, 'eu-west')).length === 2, 5_000);
    // A jump of a minute (the scheduler was stalled): the missed slots are not issued late, the next one is.
    clock.value = slot + 70_000;
    await waitUntil('the slot after the jump', async () => (await jobsOf(scheduler, 'eu-west')).length === 3, 5_000);
    const ids = (await jobsOf(scheduler, 'eu-west')).map((j) => Number(j.id!.split('@')[2]));
    expect(ids).toEqual([slot, slot + 10_000, slot + 70_000]);
    expect(await redis.hget(issuedSlotsKey(prefix), 's@eu-west')).toBe(String(slot + 70_000));
  });

  it('keeps watching a registered region without checks on a pass that finds the registry unchanged', async () => {
    const { prefix, registry, scheduler } = setup();
    await registry.applyDeployment([httpCheck('a', { regions: ['us-east'] })], { prune: false });
    // A region added with `lookout region add`, no check there yet: its agents' queues are watched anyway.
    await redis.hset(regionRecordsKey(prefix), 'ap-south', '{}');
    expect((await scheduler.reconcile({ force: true })).regions).toEqual(['ap-south', 'us-east']);
    expect(await scheduler.reconcile()).toMatchObject({ unchanged: 1, regions: ['ap-south', 'us-east'] });
  });

  it('stops issuing a removed check, forgets its claims, and prunes a region nothing uses', async () => {
    const { prefix, registry, scheduler } = setup();
    await registry.applyDeployment([httpCheck('a'), httpCheck('b', { regions: ['ap-south'] })], { prune: false });
    await scheduler.reconcile();
    expect(await redis.smembers(knownRegionsKey(prefix))).toEqual(expect.arrayContaining(['ap-south', 'eu-west', 'us-east']));
    expect(await jobsOf(scheduler, 'ap-south')).toHaveLength(1);

    await registry.applyDeployment([httpCheck('a', { regions: ['us-east'] })], { prune: true });
    const summary = await scheduler.reconcile();
    expect(summary.removed).toEqual(['a@eu-west', 'b@ap-south']);
    expect(summary.regions).toEqual(['us-east']);
    expect((await redis.smembers(knownRegionsKey(prefix))).sort()).toEqual(['us-east']);
    expect(await redis.hkeys(issuedSlotsKey(prefix))).not.toContain('b@ap-south');
    // The pruned region's queue went with it.
    expect(await scheduler.queue('ap-south').getJobCountByTypes('waiting', 'delayed', 'completed')).toBe(0);
    expect(scheduler.pairs().map((p) => p.id)).toEqual(['a@us-east']);
  });

  it('rebuilds from the registry only when its revision moved (a long pass cannot repeat itself)', async () => {
    const { registry, scheduler } = setup();
    await registry.applyDeployment([httpCheck('a')], { prune: false });
    await scheduler.reconcile();
    await registry.applyDeployment([httpCheck('a', { url: 'http://127.0.0.1:9/v2', frequencyMs: 120_000 })], { prune: false });
    const changed = await scheduler.reconcile();
    expect(changed.upserted).toEqual(['a@eu-west', 'a@us-east']);
    expect(scheduler.pairs().map((p) => p.version)).toEqual([2, 2]);
    expect(await scheduler.reconcile()).toMatchObject({ upserted: [], unchanged: 2 });
  });

  it('adds a confirmation due now at once, and one due later when it is due', async () => {
    const now = Date.now();
    const { prefix, registry, scheduler, clock } = setup({ now });
    await registry.applyDeployment([httpCheck('w', { regions: ['us-east', 'eu-west'] })], { prune: false });
    const check = (await registry.getCheck('w'))!;
    await scheduler.addConfirmationRuns(check, [
      { region: 'eu-west', scheduledAt: now, delayMs: 0, expiresAt: now + 10_000, reason: 'other-region', after: 'failure' },
      { region: 'us-east', scheduledAt: now + 1_000, delayMs: 1_000, expiresAt: now + 10_000, reason: 'retry', after: 'failure' },
    ]);
    expect((await jobsOf(scheduler, 'eu-west')).map((j) => j.id)).toEqual([runJobId('w', 'eu-west', now, 'confirmation')]);
    expect(await jobsOf(scheduler, 'us-east')).toEqual([]);
    expect(await redis.zcard(dueRunsKey(prefix))).toBe(1);
    scheduler.start();
    clock.value = now + 1_000;
    await waitUntil('the retry to be added', async () => (await jobsOf(scheduler, 'us-east')).length === 1, 5_000);
    expect(CheckJob.parse((await jobsOf(scheduler, 'us-east'))[0]!.data)).toMatchObject({ trigger: 'confirmation', scheduledAt: now + 1_000 });
    expect(await redis.zcard(dueRunsKey(prefix))).toBe(0);
  });

  it('does not issue runs into a region without a live agent', async () => {
    const prefix = uniquePrefix('sch');
    const registry = new CheckRegistry({ redis, tx, prefix, logger: silentLogger });
    const scheduler = new CheckScheduler({ redis, prefix, registry, logger: silentLogger, signer: testSigner, clock: { now: Date.now }, regionAccepts: (r) => r === 'us-east' });
    closers.push(() => scheduler.close());
    await registry.applyDeployment([httpCheck('a')], { prune: false });
    await scheduler.reconcile();
    expect(await jobsOf(scheduler, 'us-east')).toHaveLength(1);
    expect(await jobsOf(scheduler, 'eu-west')).toEqual([]);
  });
});

describe('slots', () => {
  it('phaseOf is stable, within [1, every), and spreads ids over the interval', () => {
    expect(phaseOf('web@us-east', 60_000)).toBe(phaseOf('web@us-east', 60_000));
    const phases = Array.from({ length: 1_000 }, (_, i) => phaseOf(`check-${i}@eu-west`, 60_000));
    expect(Math.min(...phases)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...phases)).toBeLessThan(60_000);
    // Ten buckets of six seconds each hold roughly a tenth of the ids.
    const buckets = new Array(10).fill(0);
    for (const phase of phases) buckets[Math.floor(phase / 6_000)]++;
    for (const count of buckets) expect(count).toBeGreaterThan(50);
  });

  it.each([
    [0, 60_000, 7, 7], [7, 60_000, 7, 60_007], [60_006, 60_000, 7, 60_007], [60_007, 60_000, 7, 120_007],
  ])('nextSlotAfter(%i, every %i, phase %i) = %i', (after, every, phase, expected) => {
    expect(nextSlotAfter(after, every, phase)).toBe(expected);
  });

  it('lets a run start within one interval of its slot, never more than 30 s', () => {
    expect(expiresAtFor(1_000, 5_000)).toBe(6_000);
    expect(expiresAtFor(1_000, 3_600_000)).toBe(1_000 + MAX_START_DELAY_MS);
  });

  it('names jobs by pair, slot and trigger', () => {
    expect(runJobId('shop', 'eu-west', 1_700_000_000_000, 'schedule')).toBe('shop@eu-west@1700000000000');
    expect(runJobId('shop', 'eu-west', 1_700_000_000_000, 'confirmation')).toBe('shop@eu-west@1700000000000.c');
  });
});
