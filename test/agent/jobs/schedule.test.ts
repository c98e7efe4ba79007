import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { resultJobId, scheduledAtOf, schedulerSlotOf, type JobTiming } from '../../../agent/jobs/schedule.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../../support/redis.ts';

describe('scheduledAtOf', () => {
  const cases: Array<{ name: string; job: JobTiming; fromData?: number; expected: number }> = [
    { name: 'the slot in a scheduler job id', job: { id: 'repeat:homepage.us-east:1700000060000', repeatJobKey: 'homepage.us-east', timestamp: 1_700_000_000_123, delay: 59_877 }, expected: 1_700_000_060_000 },
    { name: 'the slot even when the job was created late (delay clamped to 0)', job: { id: 'repeat:k:1700000060000', repeatJobKey: 'k', timestamp: 1_700_000_065_000, delay: 0 }, expected: 1_700_000_060_000 },
    { name: 'a scheduler key that itself contains ":"', job: { id: 'repeat:a:b:c:1700000000000', repeatJobKey: 'a:b:c', timestamp: 5, delay: 0 }, expected: 1_700_000_000_000 },
    { name: 'data.scheduledAt over everything', job: { id: 'repeat:k:1700000060000', repeatJobKey: 'k', timestamp: 1, delay: 0 }, fromData: 42, expected: 42 },
    { name: 'timestamp + delay for a plain delayed job', job: { id: '17', timestamp: 1_000, delay: 500 }, expected: 1_500 },
    { name: 'timestamp + opts.delay when the job has no delay field', job: { id: '17', timestamp: 1_000, opts: { delay: 250 } }, expected: 1_250 },
    { name: 'timestamp alone for an immediate job', job: { id: '17', timestamp: 1_000 }, expected: 1_000 },
    { name: 'timestamp + delay when the id does not match the repeat key', job: { id: 'repeat:other:123', repeatJobKey: 'k', timestamp: 1_000, delay: 7 }, expected: 1_007 },
    { name: 'timestamp + delay when the slot is not a number', job: { id: 'repeat:k:soon', repeatJobKey: 'k', timestamp: 1_000, delay: 7 }, expected: 1_007 },
  ];
  it.each(cases)('uses $name', ({ job, fromData, expected }) => {
    expect(scheduledAtOf(job, fromData)).toBe(expected);
  });
});

describe('against BullMQ 6 job schedulers', () => {
  let redis: TestRedis;
  beforeAll(async () => { redis = await startRedis(); });
  afterAll(async () => { await redis?.stop(); });

  async function delayedJobOf(queue: Queue, schedulerId: string) {
    const jobs = await queue.getJobs(['delayed', 'waiting']);
    const job = jobs.find((j) => j.repeatJobKey === schedulerId);
    if (!job) throw new Error(`no job for scheduler ${schedulerId}`);
    return job;
  }

  it('finds the due time of `every` and cron scheduler jobs in their ids', async () => {
    const queue = new Queue('checks.r1', { connection: { url: redis.url }, prefix: uniquePrefix('sched') });
    try {
      const startDate = Date.now() + 3_600_000;
      await queue.upsertJobScheduler('homepage.r1', { every: 60_000, startDate }, { name: 'run', data: { x: 1 } });
      await queue.upsertJobScheduler('cron.r1', { pattern: '0 0 * * * *' }, { name: 'run', data: {} });

      const every = await delayedJobOf(queue, 'homepage.r1');
      expect(every.id).toBe(`repeat:homepage.r1:${startDate}`);
      expect(scheduledAtOf(every)).toBe(startDate);
      expect(schedulerSlotOf(every)).toBe((await queue.getJobScheduler('homepage.r1'))!.next);

      const cron = await delayedJobOf(queue, 'cron.r1');
      const topOfNextHour = Math.ceil((Date.now() + 1) / 3_600_000) * 3_600_000;
      expect(scheduledAtOf(cron)).toBe(topOfNextHour);
      // For a job made ahead of its slot, both sources agree.
      expect(cron.timestamp + cron.delay).toBe(topOfNextHour);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('accepts result job ids while refusing the ":"-joined form the brief first suggested', async () => {
    const queue = new Queue('results', { connection: { url: redis.url }, prefix: uniquePrefix('ids') });
    try {
      const id = resultJobId({ checkId: 'home_page-1', region: 'us-east', scheduledAt: 1_700_000_000_000, trigger: 'schedule' });
      expect(id).toBe('home_page-1.us-east.1700000000000.schedule');
      const first = await queue.add('result', { n: 1 }, { jobId: id });
      const again = await queue.add('result', { n: 2 }, { jobId: id });
      expect(again.id).toBe(first.id);
      expect(await queue.count()).toBe(1);
      await expect(queue.add('result', {}, { jobId: 'home:us-east:1700000000000:schedule' })).rejects.toThrow('Custom Id cannot contain :');
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
