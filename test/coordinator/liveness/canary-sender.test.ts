/**
 * The canary sender on a real redis-server and real BullMQ queues: one canary per region and slot however
 * many coordinators send, at most one unfinished per region (a region nobody consumes holds one, not one
 * per slot), ahead of the region's backlog, and the "being sent" record the sweepers read.
 */
import { testSigner } from '../../support/signing.ts';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CANARY_JOB_NAME, CanaryJob } from '../../../checks/contract.ts';
import { checkQueueName } from '../../../checks/keys.ts';
import { parseCanarySent } from '../../../coordinator/liveness/canary.ts';
import { CanarySender, canaryJobId } from '../../../coordinator/liveness/canary-sender.ts';
import { canarySentKey } from '../../../checks/keys.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../../support/redis.ts';
import { waitUntil } from '../../support/wait.ts';
import { memoryLogger } from '../support.ts';

const I = 10_000;
const SLOT = 1_700_000_000_000;

let server: TestRedis;
let redis: Redis;
const cleanups: Array<() => Promise<unknown>> = [];
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await redis?.quit();
  await server?.stop();
});

function setup(regions: string[]) {
  const prefix = uniquePrefix('canary');
  const queues = new Map<string, Queue>();
  const queueFor = (region: string): Queue => {
    let queue = queues.get(region);
    if (!queue) {
      queue = new Queue(checkQueueName(region), { connection: redis, prefix });
      queues.set(region, queue);
      cleanups.push(() => queue!.close());
    }
    return queue;
  };
  let now = SLOT + 1_234;
  const { logger, lines } = memoryLogger();
  const sender = () => new CanarySender({ redis, prefix, intervalMs: I, queueFor, regions: async () => regions, logger, now: () => now, signer: testSigner });
  return { prefix, queueFor, sender, lines, setNow: (ms: number) => { now = ms; } };
}

const unfinished = (queue: Queue) => queue.getJobs(['waiting', 'active', 'prioritized', 'delayed']);

describe('canary sender', () => {
  it('adds one canary per region and slot however many coordinators send, and records that canaries are sent', async () => {
    const s = setup(['us-east', 'eu-west']);
    const [a, b] = [s.sender(), s.sender()];
    await Promise.all([a.sendOnce(), b.sendOnce(), a.sendOnce()]);
    for (const region of ['us-east', 'eu-west']) {
      const jobs = await unfinished(s.queueFor(region));
      expect(jobs.map((j) => [j.id, j.name])).toEqual([[canaryJobId(region, SLOT), CANARY_JOB_NAME]]);
      expect(CanaryJob.parse(jobs[0]!.data)).toEqual({ schemaVersion: 2, kind: 'canary', region, slot: SLOT, intervalMs: I, sentAt: SLOT + 1_234, signature: testSigner.signCanary({ region, slot: SLOT, intervalMs: I }) });
      expect(parseCanarySent(await redis.get(canarySentKey(s.prefix, region)))).toEqual({ intervalMs: I, slot: SLOT, sentAt: SLOT + 1_234 });
      const ttl = await redis.pttl(canarySentKey(s.prefix, region));
      expect(ttl).toBeGreaterThan(2 * I);
      expect(ttl).toBeLessThanOrEqual(3 * I);
    }
  });

  it('keeps at most one unfinished canary per region, and sends the next once it was answered', async () => {
    const s = setup(['us-east']);
    const sender = s.sender();
    await sender.sendOnce();
    for (let k = 1; k <= 5; k++) {
      s.setNow(SLOT + k * I);
      await sender.sendOnce();
    }
    const queue = s.queueFor('us-east');
    expect((await unfinished(queue)).map((j) => j.id)).toEqual([canaryJobId('us-east', SLOT)]);

    const answered: string[] = [];
    const worker = new Worker(checkQueueName('us-east'), async (job) => { answered.push(job.id!); }, { connection: { url: server.url }, prefix: s.prefix });
    cleanups.push(() => worker.close());
    await waitUntil('the waiting canary answered', () => answered.length === 1, 3_000);
    s.setNow(SLOT + 6 * I);
    await sender.sendOnce();
    await waitUntil('the next slot\'s canary answered', () => answered.length === 2, 3_000);
    expect(answered).toEqual([canaryJobId('us-east', SLOT), canaryJobId('us-east', SLOT + 6 * I)]);
  });

  it('puts the canary ahead of the region\'s backlog, so it measures fetching, not queue length', async () => {
    const s = setup(['us-east']);
    const queue = s.queueFor('us-east');
    for (let i = 0; i < 5; i++) await queue.add('homepage', { backlog: i });
    await s.sender().sendOnce();
    const order: string[] = [];
    const worker = new Worker(checkQueueName('us-east'), async (job) => { order.push(job.name); },
      { connection: { url: server.url }, prefix: s.prefix, concurrency: 1 });
    cleanups.push(() => worker.close());
    await waitUntil('every job taken', () => order.length === 6, 3_000);
    expect(order[0]).toBe(CANARY_JOB_NAME);
  });

  it('skips a region name off the contract, logging it, and still sends to the others', async () => {
    const s = setup(['Not A Region', 'us-east']);
    expect(await s.sender().sendOnce()).toEqual(['us-east']);
    expect(s.lines.find((l) => l.msg === 'canary.invalid_job')).toMatchObject({ region: 'Not A Region' });
  });

  it('refuses an interval that is not positive (0 means: do not start a sender)', () => {
    const s = setup([]);
    expect(() => new CanarySender({ redis, prefix: s.prefix, intervalMs: 0, queueFor: s.queueFor, regions: async () => [], logger: memoryLogger().logger, signer: testSigner })).toThrow(RangeError);
  });
});
