/**
 * The agent's lifecycle around the worker: heartbeats, the health server, bounded shutdown with runs in
 * flight, and refusing to run on a Redis that may evict jobs. Real redis-server, real HTTP target.
 */
import { signedJob } from '../support/signing.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BrowserCheckDefinition, Heartbeat } from '../../checks/contract.ts';
import { agentIndexKey, checkQueueName, heartbeatKey, resultsQueueName } from '../../checks/keys.ts';
import { startAgent } from '../../agent/agent.ts';
import { freePort, startRedis, type TestRedis } from '../support/redis.ts';
import { agentConfig, httpJob, memoryLog, resultFor, startTarget, testRunners, type Target } from './support.ts';
import { waitUntil } from '../support/wait.ts';

let redis: TestRedis;
let client: Redis;
let target: Target;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  target = await startTarget();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  client?.disconnect();
  await target?.close();
  await redis?.stop();
});

function queues(prefix: string) {
  const connection = { url: redis.url };
  const checks = new Queue(checkQueueName('r1'), { connection, prefix });
  const results = new Queue(resultsQueueName('r1'), { connection, prefix });
  cleanups.push(() => checks.close(), () => results.close());
  return { checks, results };
}

describe('agent lifecycle', () => {
  it('writes a heartbeat with a TTL while running and deletes it on stop', async () => {
    const config = agentConfig(redis.url, { agentId: 'hb-agent' });
    const agent = await startAgent(config, { runners: testRunners(), capabilities: ['http'], logger: memoryLog().logger });
    cleanups.push(() => agent.stop());
    await agent.ready;

    const key = heartbeatKey(config.prefix, 'r1', 'hb-agent');
    const ttl = await client.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(7_000);
    const beat = Heartbeat.parse(JSON.parse((await client.get(key))!));
    expect(beat).toMatchObject({ agentId: 'hb-agent', region: 'r1', concurrency: config.concurrency, inFlight: 0, pid: process.pid });
    expect(beat.capabilities).toEqual(['http']);
    expect(await client.sismember(agentIndexKey(config.prefix, 'r1'), 'hb-agent')).toBe(1);

    await agent.stop();
    expect(await client.exists(key)).toBe(0);
    // The index keeps the id: it is how coordinators find agents whose heartbeat expired.
    expect(await client.sismember(agentIndexKey(config.prefix, 'r1'), 'hb-agent')).toBe(1);
  });

  it('with its own runners, announces the types its configuration serves and refuses the others', async () => {
    const config = agentConfig(redis.url, { agentId: 'no-browser-agent', browserChecks: false });
    const agent = await startAgent(config, { logger: memoryLog().logger });
    cleanups.push(() => agent.stop());
    await agent.ready;
    const beat = Heartbeat.parse(JSON.parse((await client.get(heartbeatKey(config.prefix, 'r1', 'no-browser-agent')))!));
    expect(beat.capabilities).toContain('http');
    expect(beat.capabilities).not.toContain('browser');

    const { checks, results } = queues(config.prefix);
    await checks.add('run', signedJob(BrowserCheckDefinition.parse({
      type: 'browser', id: 'journey', name: 'Journey', regions: ['r1'], frequencyMs: 60_000, timeoutMs: 5_000,
      script: { bundle: 'export {}', file: 'journey.check.ts' },
    }), 'r1'));
    const { result } = await resultFor(results, 'journey');
    expect(result).toMatchObject({ outcome: 'error', error: { code: 'UNSUPPORTED_CHECK_TYPE', message: 'browser checks are not enabled on this agent' } });
  });

  it('serves /healthz, /readyz and /metrics, with the run counter after a run', async () => {
    const config = agentConfig(redis.url);
    const agent = await startAgent(config, { runners: testRunners(), logger: memoryLog().logger });
    cleanups.push(() => agent.stop());
    await agent.ready;
    expect(agent.healthUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const healthz = await fetch(`${agent.healthUrl}/healthz`);
    expect([healthz.status, await healthz.json()]).toEqual([200, { status: 'ok' }]);
    const readyz = await fetch(`${agent.healthUrl}/readyz`);
    expect([readyz.status, await readyz.json()]).toEqual([200, {
      ready: true,
      dependencies: {
        redis: { up: true, detail: expect.stringMatching(/^connected \(redis:\/\/127\.0\.0\.1:\d+\)$/) },
        worker: { up: true, detail: 'consuming checks.r1' },
        spool: { up: true, detail: '0 result(s) waiting in memory' },
      },
    }]);
    const missing = await fetch(`${agent.healthUrl}/nope`);
    expect(missing.status).toBe(404);
    await missing.body?.cancel();

    const { checks, results } = queues(config.prefix);
    await checks.add('run', httpJob('r1', target.url, { scheduledAt: Date.now() - 250 }));
    await resultFor(results, 'homepage');
    const metrics = await fetch(`${agent.healthUrl}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = await metrics.text();
    expect(text).toContain('lookout_agent_runs_total{check_type="http",outcome="pass"} 1');
    expect(text).toContain('lookout_agent_runs_in_flight 0');
    expect(text).toContain('lookout_agent_run_duration_seconds_count{check_type="http"} 1');
    expect(text).toContain('lookout_agent_schedule_lateness_seconds_count 1');
    expect(text).toMatch(/lookout_agent_schedule_lateness_seconds_bucket\{le="0.1"\} 0/);
    expect(text).toContain('lookout_agent_results_spooled_dropped_total{reason="bytes"} 0');
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('lookout_agent_dependency_up{dependency="redis"} 1');

    await agent.stop();
    await expect(fetch(`${agent.healthUrl}/healthz`)).rejects.toThrow();
  });

  it('stays up without Redis: /readyz says why, and stop() still returns', async () => {
    const deadPort = await freePort();
    const agent = await startAgent(agentConfig(`redis://127.0.0.1:${deadPort}`), { runners: testRunners(), logger: memoryLog().logger });
    cleanups.push(() => agent.stop());
    const readyz = await fetch(`${agent.healthUrl}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toMatchObject({
      ready: false, reason: expect.stringMatching(/^redis not connected/),
      dependencies: { redis: { up: false, detail: expect.stringMatching(/^not connected: connection \w+/) }, worker: { up: false, detail: 'not started yet' } },
    });
    expect(await (await fetch(`${agent.healthUrl}/metrics`)).text()).toContain('lookout_agent_dependency_up{dependency="redis"} 0');
    expect((await fetch(`${agent.healthUrl}/healthz`)).status).toBe(200);

    const began = Date.now();
    await agent.stop();
    expect(Date.now() - began).toBeLessThan(5_000);
    await expect(agent.ready).rejects.toMatchObject({ code: 'AGENT_STOPPED' });
  });

  it('refuses to run on a Redis whose maxmemory-policy may evict jobs', async () => {
    const evicting = await startRedis(['--maxmemory-policy', 'allkeys-lru']);
    cleanups.push(() => evicting.stop());
    const { lines, logger } = memoryLog();
    const agent = await startAgent(agentConfig(evicting.url), { runners: testRunners(), logger });
    cleanups.push(() => agent.stop());
    await expect(agent.ready).rejects.toMatchObject({ code: 'REDIS_EVICTION_POLICY' });
    const readyz = await fetch(`${agent.healthUrl}/readyz`);
    expect(readyz.status).toBe(503);
    expect(((await readyz.json()) as { reason: string }).reason).toContain('maxmemory-policy is "allkeys-lru"');
    expect(lines.some((line) => line.msg === 'agent.refused_to_start')).toBe(true);
  });

  it('on stop, lets an in-flight run finish within the shutdown timeout', async () => {
    const config = agentConfig(redis.url, { shutdownTimeoutMs: 3_000 });
    const inFlightAtResourceClose: number[] = [];
    const agent = await startAgent(config, {
      runners: testRunners(), logger: memoryLog().logger,
      resources: [{ name: 'browser', close: async () => { inFlightAtResourceClose.push(agent.inFlight()); } }],
    });
    cleanups.push(() => agent.stop());
    await agent.ready;
    const { checks, results } = queues(config.prefix);
    const job = await checks.add('run', httpJob('r1', `${target.url}slow/300`, { id: 'draining' }));
    await waitUntil('the run to start', () => agent.inFlight() > 0, 2_000);

    await agent.stop();
    const { result } = await resultFor(results, 'draining', 1_000);
    expect(result.outcome).toBe('pass');
    expect(await checks.getJobState(job.id!)).toBe('completed');
    // Runner resources close once, after the worker let go of its runs.
    expect(inFlightAtResourceClose).toEqual([0]);
  });

  it('on stop, cancels runs still going after the shutdown timeout and reports them RUN_CANCELLED (bounded)', async () => {
    const config = agentConfig(redis.url, { shutdownTimeoutMs: 300 });
    const { lines, logger } = memoryLog();
    const agent = await startAgent(config, { runners: testRunners(), logger });
    cleanups.push(() => agent.stop());
    await agent.ready;
    const { checks, results } = queues(config.prefix);
    const job = await checks.add('run', httpJob('r1', `${target.url}hang`, { id: 'cancelled', timeoutMs: 30_000 }));
    await waitUntil('the run to start', () => agent.inFlight() > 0, 2_000);

    const began = Date.now();
    await agent.stop();
    const took = Date.now() - began;
    expect(took).toBeGreaterThanOrEqual(300);
    expect(took).toBeLessThan(2_500);
    const { result } = await resultFor(results, 'cancelled', 1_000);
    expect(result).toMatchObject({ outcome: 'error', error: { code: 'RUN_CANCELLED' } });
    expect(await checks.getJobState(job.id!)).toBe('completed');
    expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['agent.stopping', 'shutdown.cancelling_runs', 'agent.stopped']));
  });
});
