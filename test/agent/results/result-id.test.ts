import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { resultJobId } from '../../../agent/results/result-id.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../../support/redis.ts';

describe('result job ids', () => {
  let redis: TestRedis;
  beforeAll(async () => { redis = await startRedis(); });
  afterAll(async () => { await redis?.stop(); });

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
