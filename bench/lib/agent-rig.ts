/**
 * One agent process (`agent/main.ts`) fed through its region's queue by the benchmark: jobs go into the
 * paused queue, the queue is released, and the drain is sampled (results on the results queue, the
 * agent's CPU from /proc) until every job has a result. The agent stays up between drains, so that
 * rounds can alternate with other measurements.
 */
import { checkQueueName, resultsQueueName } from '../../checks/keys.ts';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { checkJob, httpCheck } from './payloads.ts';
import { procSample } from './proc.ts';
import { uniquePrefix, type SectionContext } from './section.ts';
import { startAgentProcess } from './services.ts';
import { quantile } from './stats.ts';
import { delay } from './wait.ts';

const REGION = 'bench';

export interface DrainSample { at: number; results: number; cpuMs: number }

export interface AgentDrain {
  jobs: number;
  results: number;
  /** Results per second over the steady part of the drain (10 % → 90 % of its results). */
  perSecond: number | null;
  /** Agent CPU ms per check over the same part. */
  cpuMsPerCheck: number | null;
  /** Over the whole drain, warm-up included. */
  overall: { perSecond: number; cpuMsPerCheck: number; elapsedMs: number };
  runLatencyMs: { p50: number | null; p99: number | null };
  outcomes: Record<string, number>;
  timedOut: boolean;
}

export interface DrainOptions {
  jobs: number;
  timeLimitMs: number;
  /** Keep at most about this many jobs queued ahead, refilled as the agent drains; all at once when absent. */
  refillWindow?: number;
  /** Called at every sample (every 100 ms), e.g. to read the agent's memory. */
  onSample?: (sample: DrainSample) => void;
}

export interface AgentRig {
  pid: number;
  drain(options: DrainOptions): Promise<AgentDrain>;
  /** Prometheus text of the agent's `/metrics`. */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export async function startAgentRig(ctx: SectionContext, options: {
  targetUrl: string; concurrency: number; label: string;
  /** The agent's extra environment (e.g. `NODE_EXTRA_CA_CERTS` for an HTTPS target with a bench CA). */
  env?: NodeJS.ProcessEnv;
  /** The Redis URL the agent uses, when not the section's own (e.g. through a latency proxy). */
  agentRedisUrl?: string;
}): Promise<AgentRig> {
  const prefix = uniquePrefix(options.label);
  const redis = new Redis(ctx.redis.url, { maxRetriesPerRequest: null });
  ctx.defer(() => { redis.disconnect(); });
  const queue = new Queue(checkQueueName(REGION), { connection: redis, prefix });
  ctx.defer(() => queue.close());
  await queue.pause();
  const check = httpCheck({ id: 'throughput', url: `${options.targetUrl}/`, regions: [REGION], timeoutMs: 5_000, assertions: [{ type: 'status', op: 'equals', value: 200 }] });
  const base = Date.now();
  let enqueued = 0;
  const enqueue = async (count: number): Promise<void> => {
    for (let left = count; left > 0;) {
      const batch = Math.min(1_000, left);
      // A distinct slot per job: results are keyed by (check, region, slot, trigger).
      const jobs = Array.from({ length: batch }, (_, i) => ({
        name: check.id, data: checkJob(REGION, check, base + enqueued + i), opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 500 }, attempts: 1 },
      }));
      await queue.addBulk(jobs);
      enqueued += batch;
      left -= batch;
    }
  };
  if (ctx.profile) mkdirSync(join(ctx.resultsDir, 'profiles'), { recursive: true });
  const agent = await startAgentProcess({
    redisUrl: options.agentRedisUrl ?? ctx.redis.url, prefix, region: REGION, logDir: ctx.logDir, concurrency: options.concurrency, agentId: `${options.label}-agent`,
    nodeArgs: ctx.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(ctx.resultsDir, 'profiles')}`] : [],
    ...(options.env ? { env: options.env } : {}),
  });
  ctx.defer(() => agent.stop(5_000));
  await delay(300); // start-up work (first heartbeat, JIT of idle paths) settles before any window
  const resultsKey = `${prefix}:${resultsQueueName(REGION)}:wait`;

  const drain = async (drainOptions: DrainOptions): Promise<AgentDrain> => {
    const { jobs } = drainOptions;
    const before = await redis.llen(resultsKey);
    const startEnqueued = enqueued;
    const target = startEnqueued + jobs;
    await enqueue(drainOptions.refillWindow ? Math.min(drainOptions.refillWindow * 2, jobs) : jobs);
    const samples: DrainSample[] = [];
    const sample = async (): Promise<DrainSample> => {
      const s = { at: performance.now(), results: (await redis.llen(resultsKey)) - before, cpuMs: procSample(agent.pid)?.cpuMs ?? Number.NaN };
      samples.push(s);
      drainOptions.onSample?.(s);
      return s;
    };
    const first = await sample();
    await queue.resume();
    const deadline = performance.now() + drainOptions.timeLimitMs;
    let last = first;
    while (last.results < jobs && performance.now() < deadline) {
      await delay(100);
      if (drainOptions.refillWindow && enqueued < target && enqueued - startEnqueued - last.results < drainOptions.refillWindow) {
        await enqueue(Math.min(drainOptions.refillWindow, target - enqueued));
      }
      last = await sample();
    }
    await queue.pause();
    const timedOut = last.results < jobs;
    if (timedOut) await queue.drain(); // jobs not taken in time are dropped, so the next drain starts clean

    const at = (fraction: number): DrainSample => samples.find((s) => s.results >= last.results * fraction) ?? last;
    const from = at(0.1);
    const to = at(0.9);
    const steadyResults = to.results - from.results;
    const steadyMs = to.at - from.at;
    const overallMs = last.at - first.at;

    // Run latency and outcomes from (at most 20,000 of) this drain's results, the newest on the list.
    const ids = await redis.lrange(resultsKey, 0, Math.min(last.results, 20_000) - 1);
    const outcomes: Record<string, number> = {};
    const latencies: number[] = [];
    for (let i = 0; i < ids.length; i += 1_000) {
      const pipeline = redis.pipeline();
      for (const id of ids.slice(i, i + 1_000)) pipeline.hget(`${prefix}:${resultsQueueName(REGION)}:${id}`, 'data');
      for (const [, raw] of (await pipeline.exec()) ?? []) {
        if (typeof raw !== 'string') continue;
        const result = JSON.parse(raw) as { outcome: string; error: { code: string } | null; timings: { totalMs: number } | null };
        const key = result.outcome === 'pass' ? 'pass' : `${result.outcome}:${result.error?.code}`;
        outcomes[key] = (outcomes[key] ?? 0) + 1;
        if (result.timings) latencies.push(result.timings.totalMs);
      }
    }
    return {
      jobs,
      results: last.results,
      perSecond: steadyMs > 0 && steadyResults > 0 ? (steadyResults * 1000) / steadyMs : null,
      cpuMsPerCheck: steadyResults > 0 ? (to.cpuMs - from.cpuMs) / steadyResults : null,
      overall: { perSecond: (last.results * 1000) / overallMs, cpuMsPerCheck: (last.cpuMs - first.cpuMs) / Math.max(1, last.results), elapsedMs: overallMs },
      runLatencyMs: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) },
      outcomes,
      timedOut,
    };
  };

  return { pid: agent.pid, drain, metrics: agent.metrics, stop: () => agent.stop(5_000) };
}
