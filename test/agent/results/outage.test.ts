/**
 * A Redis outage in the middle of a run: the agent stays up, spools the result it could not publish,
 * flushes it when Redis is back (on the same port, empty, as after a failover to a fresh replica), and
 * resumes fetching jobs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { checkQueueName, resultsQueueName } from '../../../checks/keys.ts';
import { startAgent } from '../../../agent/agent.ts';
import { freePort } from '../../support/redis.ts';
import { waitUntil } from '../../support/wait.ts';
import {
  agentConfig, httpJob, memoryLog, resultFor, restartableRedis, startTarget, testRunners, type RestartableRedis, type Target,
} from '../support.ts';

let redis: RestartableRedis;
let target: Target;

beforeAll(async () => {
  redis = restartableRedis(await freePort());
  await redis.start();
  target = await startTarget();
});
afterAll(async () => {
  await target?.close();
  await redis?.kill();
});

describe('agent through a Redis outage', () => {
  it('spools the result of a run that ends while Redis is down, flushes it after, and keeps consuming', async () => {
    const config = agentConfig(redis.url);
    const { lines, logger } = memoryLog();
    const agent = await startAgent(config, { runners: testRunners(), logger });
    const connection = { url: redis.url };
    let checks = new Queue(checkQueueName('r1'), { connection, prefix: config.prefix });
    let results = new Queue(resultsQueueName('r1'), { connection, prefix: config.prefix });
    try {
      await agent.ready;
      await checks.add('run', httpJob('r1', `${target.url}slow/400`, { id: 'during-outage' }));
      await waitUntil('the run to start', () => agent.inFlight() > 0, 2_000);
      await checks.close();
      await results.close();
      await redis.kill();

      await waitUntil('the result to be spooled', async () => (await agent.metrics.resultsSpooled.get()).values[0]?.value === 1, 3_000);
      const readyz = await fetch(`${agent.healthUrl}/readyz`);
      expect(readyz.status).toBe(503);
      expect(((await readyz.json()) as { reason: string }).reason).toMatch(/^redis not connected/);

      await redis.start();
      checks = new Queue(checkQueueName('r1'), { connection, prefix: config.prefix });
      results = new Queue(resultsQueueName('r1'), { connection, prefix: config.prefix });
      const { result: spooled } = await resultFor(results, 'during-outage', 6_000);
      expect(spooled.outcome).toBe('pass');
      expect((await agent.metrics.resultsSpooled.get()).values[0]?.value).toBe(0);

      await checks.add('run', httpJob('r1', target.url, { id: 'after-outage' }));
      const { result: after } = await resultFor(results, 'after-outage', 8_000);
      expect(after.outcome).toBe('pass');
      await waitUntil('/readyz to recover', async () => (await fetch(`${agent.healthUrl}/readyz`)).status === 200, 3_000);
      expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['spool.started', 'spool.flushed']));
    } finally {
      await agent.stop();
      await checks.close();
      await results.close();
    }
  });
});
