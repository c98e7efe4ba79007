/**
 * The agent's job processing end to end: a real redis-server, real BullMQ queues, a real HTTP target on
 * loopback, and the real agent (`startAgent`) with a small real runner table.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { checkQueueName, resultsQueueName } from '../../../checks/keys.ts';
import { startAgent, type RunningAgent } from '../../../agent/agent.ts';
import type { AgentConfig } from '../../../agent/config.ts';
import { resultJobId } from '../../../agent/results/result-id.ts';
import type { RunReport, RunnerTable } from '../../../agent/runners/types.ts';
import { startRedis, type TestRedis } from '../../support/redis.ts';
import { waitUntil } from '../../support/wait.ts';
import {
  agentConfig, httpJob, memoryLog, publishedResults, resultFor, startTarget, testRunners, type Target,
} from '../support.ts';

let redis: TestRedis;
let target: Target;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  redis = await startRedis();
  target = await startTarget();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await target?.close();
  await redis?.stop();
});

interface Harness {
  agent: RunningAgent;
  config: AgentConfig;
  checks: Queue;
  results: Queue;
  lines: Array<Record<string, unknown>>;
}

async function harness(options: { runners?: RunnerTable; config?: Partial<AgentConfig>; graceMs?: number } = {}): Promise<Harness> {
  const config = agentConfig(redis.url, options.config);
  const { lines, logger } = memoryLog();
  const agent = await startAgent(config, { runners: options.runners ?? testRunners(), logger, graceMs: options.graceMs });
  cleanups.push(() => agent.stop());
  const connection = { url: redis.url };
  const checks = new Queue(checkQueueName(config.region), { connection, prefix: config.prefix });
  const results = new Queue(resultsQueueName('r1'), { connection, prefix: config.prefix });
  cleanups.push(() => checks.close(), () => results.close());
  await agent.ready;
  return { agent, config, checks, results, lines };
}

describe('agent worker', () => {
  it('turns a job on checks.<region> into a valid result with the right fields', async () => {
    const { agent, checks, results, config } = await harness();
    const scheduledAt = Date.now() - 1_500;
    const hitsBefore = target.hits;
    const data = httpJob('r1', target.url, { scheduledAt, trigger: 'confirmation' });
    const job = await checks.add('run', data);

    const { id, result } = await resultFor(results, 'homepage');
    // The result carries the slot its job was signed for, so ingest can tell it answers an issued run.
    expect(result.slot).toEqual({ expiresAt: data.expiresAt, definitionDigest: data.definitionDigest, signature: data.signature });
    expect(result).toMatchObject({
      schemaVersion: 2, checkId: 'homepage', checkVersion: 3, region: 'r1', agentId: config.agentId,
      trigger: 'confirmation', scheduledAt, outcome: 'pass', error: null, statusCode: 200,
      responseBytes: Buffer.byteLength('hello from r1'),
    });
    // Results are in Redis time, which the agent knows to within its clock's uncertainty (lib/clock.ts).
    expect(result.startedAt).toBeGreaterThanOrEqual(scheduledAt + 1_500 - agent.clock.uncertaintyMs());
    expect(result.endedAt).toBeGreaterThanOrEqual(result.startedAt);
    expect(id).toBe(resultJobId({ checkId: 'homepage', region: 'r1', scheduledAt, trigger: 'confirmation' }));
    expect(target.hits).toBe(hitsBefore + 1);
    await waitUntil('the check job to complete', async () => (await checks.getJobState(job.id!)) === 'completed', 2_000);
  });

  it('runs HTTP checks with the built-in runner table (the real HTTP runner) by default', async () => {
    const config = agentConfig(redis.url);
    const agent = await startAgent(config, { logger: memoryLog().logger });
    cleanups.push(() => agent.stop());
    const checks = new Queue(checkQueueName('r1'), { connection: { url: redis.url }, prefix: config.prefix });
    const results = new Queue(resultsQueueName('r1'), { connection: { url: redis.url }, prefix: config.prefix });
    cleanups.push(() => checks.close(), () => results.close());
    await agent.ready;
    await checks.add('run', httpJob('r1', target.url, { id: 'real-runner' }));
    const { result } = await resultFor(results, 'real-runner');
    expect(result).toMatchObject({ outcome: 'pass', statusCode: 200, responseBytes: Buffer.byteLength('hello from r1') });
    expect(result.timings?.connectMs).toEqual(expect.any(Number));
  });

  it('skips a job taken after its slot expired: no probe, no result, counted', async () => {
    const { checks, results, agent, lines } = await harness();
    const hitsBefore = target.hits;
    const scheduledAt = Date.now() - 60_000;
    const late = await checks.add('run', httpJob('r1', target.url, { id: 'too-late', scheduledAt, expiresAt: scheduledAt + 30_000 }));
    await checks.add('run', httpJob('r1', target.url, { id: 'in-time' }));
    await resultFor(results, 'in-time');
    await waitUntil('the late job to complete', async () => (await checks.getJobState(late.id!)) === 'completed', 2_000);
    expect((await publishedResults(results)).map((r) => r.result.checkId)).toEqual(['in-time']);
    expect(target.hits).toBe(hitsBefore + 1);
    expect(await agent.metrics.runsSkipped.get()).toMatchObject({ values: [{ labels: { reason: 'late' }, value: 1 }] });
    expect(lines.find((line) => line.msg === 'run.skipped_late')).toMatchObject({ checkId: 'too-late' });
  });

  it('never consumes another region\'s queue', async () => {
    const { config, results } = await harness();
    const other = new Queue(checkQueueName('r2'), { connection: { url: redis.url }, prefix: config.prefix });
    cleanups.push(() => other.close());
    const foreign = await other.add('run', httpJob('r2', target.url, { id: 'foreign' }));
    const checks = new Queue(checkQueueName('r1'), { connection: { url: redis.url }, prefix: config.prefix });
    cleanups.push(() => checks.close());
    await checks.add('run', httpJob('r1', target.url, { id: 'local' }));

    await resultFor(results, 'local');
    expect(await other.getJobState(foreign.id!)).toBe('waiting');
    expect((await publishedResults(results)).map((r) => r.result.checkId)).toEqual(['local']);
  });

  it('refuses malformed, unsigned, forged and other regions\' jobs without retry, runs none of them, and keeps processing', async () => {
    const { checks, results, lines, agent } = await harness();
    const hitsBefore = target.hits;
    const good = httpJob('r1', target.url, { id: 'after-bad' });
    const { signature: _unsigned, ...unsigned } = httpJob('r1', target.url, { id: 'unsigned' });
    const forged = { ...httpJob('r1', target.url, { id: 'forged' }), check: { ...good.check, id: 'forged', url: `${target.url}steal` } };
    const jobs = {
      malformed: await checks.add('run', { ...good, check: { ...good.check, id: 'broken', url: 'not a url' } }, { attempts: 3 }),
      garbage: await checks.add('run', 'not even an object', { attempts: 3 }),
      unsigned: await checks.add('run', unsigned, { attempts: 3 }),
      forged: await checks.add('run', forged, { attempts: 3 }),
      otherRegion: await checks.add('run', httpJob('r9', target.url, { id: 'misrouted' }), { attempts: 3 }),
    };
    await checks.add('run', good);

    const { result: next } = await resultFor(results, 'after-bad');
    expect(next.outcome).toBe('pass');
    const reasons: Record<string, string> = {};
    for (const [name, job] of Object.entries(jobs)) {
      const failed = await waitUntil(`job ${name} to fail`, async () => {
        const fresh = await checks.getJob(job.id!);
        return fresh && (await fresh.getState()) === 'failed' ? fresh : undefined;
      }, 2_000);
      expect(failed.attemptsMade).toBe(1);
      reasons[name] = failed.failedReason;
    }
    expect(reasons.malformed).toMatch(/^INVALID_JOB: .*check\.url: Invalid URL/);
    expect(reasons.garbage).toMatch(/^INVALID_JOB: job data must be an object/);
    expect(reasons.unsigned).toMatch(/^INVALID_JOB: signature: /);
    expect(reasons.forged).toMatch(/^INVALID_JOB_SIGNATURE: the job's definition is not the one its signature covers/);
    expect(reasons.otherRegion).toMatch(/^INVALID_JOB_SIGNATURE: region: job is for region "r9" but this agent serves "r1"/);
    // Nothing but the good job ran or reported: a result needs a slot a coordinator signed.
    expect((await publishedResults(results)).map((r) => r.result.checkId)).toEqual(['after-bad']);
    expect(target.hits).toBe(hitsBefore + 1);
    expect(lines.filter((line) => line.msg === 'job.invalid')).toHaveLength(3);
    expect(lines.filter((line) => line.msg === 'job.invalid_signature')).toHaveLength(2);
    expect(await agent.metrics.invalidJobs.get()).toMatchObject({ values: [{ value: 3 }] });
    expect(await agent.metrics.invalidSignatures.get()).toMatchObject({ values: [{ value: 2 }] });
    const metrics = await (await fetch(`${agent.healthUrl}/metrics`)).text();
    expect(metrics).toMatch(/^lookout_agent_invalid_job_signatures_total 2$/m);
  });

  it('reports a runner that throws as AGENT_INTERNAL, never as a target failure', async () => {
    const { checks, results } = await harness({ runners: testRunners(async () => { throw new Error('runner bug: undefined is not a function'); }) });
    await checks.add('run', httpJob('r1', target.url, { id: 'buggy' }));
    const { result } = await resultFor(results, 'buggy');
    expect(result).toMatchObject({ outcome: 'error', error: { code: 'AGENT_INTERNAL', message: 'runner failed: runner bug: undefined is not a function' } });
  });

  it('replaces an invalid runner report with AGENT_INTERNAL naming the problem', async () => {
    const lying = async (): Promise<RunReport> => ({
      startedAt: Date.now(), endedAt: Date.now(), outcome: 'fail', error: { code: 'RUN_CANCELLED', message: 'x' },
      timings: null, assertions: [], statusCode: null, responseBytes: null,
    });
    const { checks, results } = await harness({ runners: testRunners(lying) });
    await checks.add('run', httpJob('r1', target.url, { id: 'lying' }));
    const { result } = await resultFor(results, 'lying');
    expect(result.error?.code).toBe('AGENT_INTERNAL');
    expect(result.error?.message).toContain('outcome "fail" needs a target error code');
  });

  it('cuts runs at their deadline: a real request to a hanging target times out, a runner ignoring its signal is abandoned', async () => {
    const ignoring = (async () => new Promise<RunReport>(() => {})) as RunnerTable['http'];
    const { checks, results } = await harness({ graceMs: 200 });
    await checks.add('run', httpJob('r1', `${target.url}hang`, { id: 'hanging-target', timeoutMs: 300 }));
    const { result: timedOut } = await resultFor(results, 'hanging-target');
    expect(timedOut).toMatchObject({ outcome: 'fail', error: { code: 'TIMEOUT' } });
    expect(timedOut.endedAt - timedOut.startedAt).toBeGreaterThanOrEqual(290);
    expect(timedOut.endedAt - timedOut.startedAt).toBeLessThan(1_500);

    const stuck = await harness({ runners: testRunners(ignoring), graceMs: 200 });
    const began = Date.now();
    await stuck.checks.add('run', httpJob('r1', target.url, { id: 'stuck-runner', timeoutMs: 300 }));
    const { result: abandoned } = await resultFor(stuck.results, 'stuck-runner');
    expect(abandoned).toMatchObject({ outcome: 'error', error: { code: 'AGENT_INTERNAL' } });
    expect(abandoned.error?.message).toContain('ignored its abort signal');
    expect(Date.now() - began).toBeLessThan(2_500);
    expect(stuck.agent.inFlight()).toBe(0);
  });
});
