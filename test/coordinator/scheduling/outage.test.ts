/**
 * The schedule through a Redis outage, on a real redis-server stopped and started again from its AOF: a
 * run whose tick failed because Redis was away is issued when Redis is back, if still young enough (half
 * its start window); an older one is counted missed and not issued late. Time is a clock the test moves.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { checkQueueName } from '../../../checks/keys.ts';
import { connectRedis } from '../../../lib/redis.ts';
import { silentLogger } from '../../../lib/log.ts';
import { createMetrics } from '../../../coordinator/platform/metrics.ts';
import { TransactionRunner } from '../../../coordinator/platform/transaction.ts';
import { CheckRegistry } from '../../../coordinator/registry/store.ts';
import { CheckScheduler, retryWindowMs } from '../../../coordinator/scheduling/scheduler.ts';
import { nextSlotAfter, phaseOf } from '../../../coordinator/scheduling/slots.ts';
import { restartableRedis } from '../../agent/support.ts';
import { freePort, uniquePrefix } from '../../support/redis.ts';
import { testSigner } from '../../support/signing.ts';
import { waitUntil } from '../../support/wait.ts';
import { httpCheck, memoryLogger } from '../support.ts';

const closers: Array<() => Promise<unknown>> = [];
afterAll(async () => { for (const close of closers.reverse()) await close(); });

describe('the schedule through a Redis outage', () => {
  it('issues a run whose tick failed once Redis is back, while young enough; an older one is missed, not late', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lookout-sched-outage-'));
    closers.push(async () => rmSync(dir, { recursive: true, force: true }));
    const redis = restartableRedis(await freePort(), { dir });
    await redis.start();
    closers.push(() => redis.kill());
    const conn = connectRedis(redis.url, { name: 'scheduler-outage', logger: silentLogger });
    closers.push(async () => conn.disconnect());
    const prefix = uniquePrefix('sched-out');
    const tx = new TransactionRunner(conn, { size: 2 });
    closers.push(() => tx.close());
    const registry = new CheckRegistry({ redis: conn, tx, prefix, logger: silentLogger });
    const start = Date.now() + 60_000;
    const clock = { value: start };
    const { logger, lines } = memoryLogger();
    const metrics = createMetrics(async () => 0);
    const scheduler = new CheckScheduler({ redis: conn, prefix, registry, logger, metrics, signer: testSigner, clock: { now: () => clock.value } });
    closers.push(() => scheduler.close());
    await registry.applyDeployment([httpCheck('s', { regions: ['eu-west'], frequencyMs: 10_000, timeoutMs: 5_000 })], { prune: false });
    await scheduler.reconcile();
    const slot = nextSlotAfter(start, 10_000, phaseOf('s@eu-west', 10_000));
    expect(retryWindowMs(10_000)).toBe(5_000);
    scheduler.start();

    const jobSlots = async (): Promise<number[]> => {
      const queue = new Queue(checkQueueName('eu-west'), { connection: { url: redis.url }, prefix });
      try {
        return (await queue.getJobs(['waiting'])).map((job) => Number(job.id!.split('@')[2])).sort();
      } finally {
        await queue.close();
      }
    };
    const failures = (): number => lines.filter((line) => line.msg === 'scheduler.issue_failed').length;

    // Redis goes away just as the slot falls due: the tick holding it fails.
    await redis.kill();
    clock.value = slot + 100;
    await waitUntil('the tick to fail', () => failures() === 1, 10_000);
    await redis.start();
    clock.value = slot + 3_000;
    await waitUntil('the slot issued once Redis is back', async () => (await jobSlots()).includes(slot), 15_000);

    // The next slot: Redis back only after half its start window. Not issued late; counted missed.
    await redis.kill();
    clock.value = slot + 10_100;
    await waitUntil('the tick to fail again', () => failures() === 2, 10_000);
    await redis.start();
    clock.value = slot + 10_000 + 6_000;
    await waitUntil('the run counted missed', async () => (await metrics.runsNotIssued.get()).values.some((v) => v.labels.reason === 'missed' && v.value >= 1), 15_000);
    clock.value = slot + 20_000;
    await waitUntil('the slot after it issued', async () => (await jobSlots()).includes(slot + 20_000), 15_000);
    expect(await jobSlots()).toEqual([slot, slot + 20_000]);
  }, 60_000);
});
