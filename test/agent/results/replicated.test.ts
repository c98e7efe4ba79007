/**
 * A result counts as published only once a replica has it (Redis' WAIT), on a real primary with a real
 * replica: replication is asynchronous, and what a primary took but had not passed on when it failed over
 * is gone from the promoted replica (the chaos suite lost 10 results that way before). With the replica
 * frozen (SIGSTOP), the result stays spooled; once the replica answers, it is published, once.
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resultsQueueName } from '../../../checks/keys.ts';
import { connectRedis } from '../../../lib/redis.ts';
import { silentLogger } from '../../../lib/log.ts';
import { createAgentMetrics } from '../../../agent/liveness/metrics.ts';
import { ResultPublisher } from '../../../agent/results/publisher.ts';
import { runResult } from '../../coordinator/support.ts';
import { slotProofFor } from '../../support/signing.ts';
import { startSentinelGroup, type SentinelGroup } from '../../support/sentinel.ts';
import { uniquePrefix } from '../../support/redis.ts';
import { waitUntil } from '../../support/wait.ts';

let group: SentinelGroup;
beforeAll(async () => { group = await startSentinelGroup({ replicas: 1, sentinels: 0 }); }, 60_000);
afterAll(async () => {
  group?.nodes[1]?.process()?.kill('SIGCONT');
  await group?.stop();
});

const result = (scheduledAt: number) => {
  const base = runResult({ checkId: 'shop', region: 'eu-west', scheduledAt });
  return { ...base, slot: slotProofFor(base) };
};

describe('publishing to a primary with a replica', () => {
  it('waits for the replica: a result the replica has not confirmed stays spooled until it does', async () => {
    const prefix = uniquePrefix('wait');
    const primary = connectRedis(`redis://127.0.0.1:${group.nodes[0]!.port}`, { name: 'publisher', logger: silentLogger, blocking: true });
    const replica = connectRedis(`redis://127.0.0.1:${group.nodes[1]!.port}`, { name: 'replica-reader', logger: silentLogger });
    const metrics = createAgentMetrics();
    const publisher = new ResultPublisher({ redis: primary, prefix, region: 'eu-west', logger: silentLogger, metrics, flushIntervalMs: 200 });
    const onReplica = new Queue(resultsQueueName('eu-west'), { connection: replica, prefix });
    try {
      await primary.ping();
      expect(await publisher.publish(result(1_000))).toBe('published');
      expect(await onReplica.getWaitingCount()).toBe(1);

      const frozen = group.nodes[1]!.process()!;
      frozen.kill('SIGSTOP');
      try {
        expect(await publisher.publish(result(2_000))).toBe('spooled');
        expect(publisher.spooled).toBe(1);
      } finally {
        frozen.kill('SIGCONT');
      }
      await waitUntil('the spooled result published', () => publisher.spooled === 0, 15_000);
      await waitUntil('both results on the replica', async () => (await onReplica.getWaitingCount()) === 2, 5_000);
      const ids = (await onReplica.getJobs(['waiting'])).map((job) => (job.data as { scheduledAt: number }).scheduledAt).sort();
      expect(ids).toEqual([1_000, 2_000]);
    } finally {
      await publisher.close(1_000);
      await onReplica.close();
      primary.disconnect();
      replica.disconnect();
    }
  }, 40_000);
});
