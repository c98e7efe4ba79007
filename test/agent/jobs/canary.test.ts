/**
 * Canary jobs on a real agent (`startAgent`, real redis-server, real BullMQ queue): answered at once into
 * the region's answer key, with the expiry that makes the key's presence mean "answered recently", no
 * runner called and no result published; a canary that is not this agent's, or not a canary, fails
 * without retry.
 */
import { signedCanary } from '../../support/signing.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CANARY_JOB_NAME, CANARY_STALL_FACTOR, CanaryAnswer, SCHEMA_VERSION } from '../../../checks/contract.ts';
import { canaryAnswerKey, checkQueueName, resultsQueueName } from '../../../checks/keys.ts';
import { startAgent } from '../../../agent/agent.ts';
import { startRedis, type TestRedis } from '../../support/redis.ts';
import { waitUntil } from '../../support/wait.ts';
import { agentConfig, memoryLog, testRunners } from '../support.ts';

let server: TestRedis;
let redis: Redis;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await redis?.quit();
  await server?.stop();
});

async function harness() {
  const config = agentConfig(server.url, { agentId: 'canary-agent' });
  let runnerCalls = 0;
  const counting = testRunners(async () => { runnerCalls++; throw new Error('canaries must never reach a runner'); });
  const { lines, logger } = memoryLog();
  const agent = await startAgent(config, { runners: counting, logger });
  cleanups.push(() => agent.stop());
  const connection = { url: server.url };
  const checks = new Queue(checkQueueName(config.region), { connection, prefix: config.prefix });
  const results = new Queue(resultsQueueName('r1'), { connection, prefix: config.prefix });
  cleanups.push(() => checks.close(), () => results.close());
  await agent.ready;
  return { agent, config, checks, results, lines, runnerCalls: () => runnerCalls };
}

const canary = (region: string, slot: number, intervalMs = 10_000) => signedCanary(region, slot, intervalMs);

describe('agent canaries', () => {
  it('answers a canary at once into the region key, expiring after the stall window, without running anything', async () => {
    const { checks, results, config, runnerCalls } = await harness();
    const slot = Date.now() - (Date.now() % 10_000);
    const before = Date.now();
    const job = await checks.add(CANARY_JOB_NAME, canary('r1', slot));
    await waitUntil('the canary to complete', async () => (await checks.getJobState(job.id!)) === 'completed', 3_000);

    const raw = await redis.get(canaryAnswerKey(config.prefix, 'r1'));
    const answer = CanaryAnswer.parse(JSON.parse(raw!));
    expect(answer).toMatchObject({ region: 'r1', agentId: 'canary-agent', slot });
    expect(answer.at).toBeGreaterThanOrEqual(before);
    const ttl = await redis.pttl(canaryAnswerKey(config.prefix, 'r1'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(CANARY_STALL_FACTOR * 10_000);
    expect((await checks.getJob(job.id!))!.returnvalue).toEqual({ canary: 'answered', slot });
    expect(runnerCalls()).toBe(0);
    expect(await results.getJobCountByTypes('waiting', 'delayed', 'completed')).toBe(0);
  });

  it.each([
    ['a canary for another region', canary('r2', 1_000), /^INVALID_JOB: region: canary is for region "r2"/],
    ['a canary off the contract', { ...canary('r1', 1_000), intervalMs: 'often' }, /^INVALID_JOB: invalid canary: intervalMs: /],
    ['not an object at all', 'ping', /^INVALID_JOB: invalid canary: /],
  ])('fails %s without retry, writes no answer, and stays up', async (_name, data, reason) => {
    const { checks, config, agent, lines } = await harness();
    const job = await checks.add(CANARY_JOB_NAME, data, { attempts: 3 });
    await waitUntil('the canary to fail', async () => (await checks.getJobState(job.id!)) === 'failed', 3_000);
    const failed = (await checks.getJob(job.id!))!;
    expect(failed.failedReason).toMatch(reason);
    expect(failed.attemptsMade).toBe(1);
    expect(await redis.exists(canaryAnswerKey(config.prefix, 'r1'), canaryAnswerKey(config.prefix, 'r2'))).toBe(0);
    expect((await agent.metrics.invalidJobs.get()).values[0]!.value).toBe(1);
    expect(lines.some((l) => l.msg === 'canary.invalid')).toBe(true);

    // Still consuming: a good canary right after is answered.
    const good = await checks.add(CANARY_JOB_NAME, canary('r1', 2_000));
    await waitUntil('the next canary to complete', async () => (await checks.getJobState(good.id!)) === 'completed', 3_000);
  });
});
