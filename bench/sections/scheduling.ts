/**
 * Scheduling accuracy: 5,000 HTTP checks at one run a minute, each in three regions (15,000 scheduled
 * pairs), deployed through the coordinator's API; one agent process per region; a window of one interval
 * plus a margin after the deployment returns, so that every pair runs at least twice (once at deployment,
 * as a new check does, then on its slot, the steady state).
 *
 * Lateness = run start − slot, from the coordinator's recent runs (what it ingested). Missed runs: a pair's
 * slots lie on its grid (`next − k × every`); every grid slot after the deployment began and at least
 * `settleMs` before the window's end must have an ingested run (see {@link auditSlots}).
 */
import { Redis } from 'ioredis';
import { nextSlotAfter, pairId, phaseOf } from '../../coordinator/scheduling/slots.ts';
import { recentRunsKey } from '../../checks/keys.ts';
import { httpCheck } from '../lib/payloads.ts';
import { firstJsonLine, spawnNode } from '../lib/proc.ts';
import { startRedis } from '../lib/redis.ts';
import { figure, target } from '../lib/report.ts';
import { uniquePrefix, type Section, type SectionContext, type SectionOutput } from '../lib/section.ts';
import { deploy, startAgentProcess, startCoordinatorProcess } from '../lib/services.ts';
import { quantile, round } from '../lib/stats.ts';
import { delay } from '../lib/wait.ts';
import { startTarget } from './http-throughput.ts';

const REGIONS = ['us-east', 'eu-west', 'ap-south'];

interface RecentRun { scheduledAt: number; startedAt: number; trigger: string }

export interface SlotAudit {
  expected: number;
  observed: number;
  missed: number;
  /** Runs whose slot is not on their scheduler's grid (should be none). */
  offGrid: number;
}

/**
 * Which expected slots have a run. Pure. `next` is the scheduler's pending slot; its slots are
 * `next − k × every` (k ≥ 0). A slot in `[certainFrom, until]` is expected: every scheduler existed by
 * `certainFrom` (the end of the deployment). A slot in `[from, certainFrom)` is counted only when a run
 * shows it was real: a scheduler created late in the deployment has no slot before its creation.
 */
export function auditSlots(next: number, every: number, from: number, certainFrom: number, until: number, runSlots: ReadonlySet<number>): SlotAudit {
  let expected = 0;
  let observed = 0;
  for (let slot = next; slot >= from; slot -= every) {
    if (slot > until) continue;
    const ran = runSlots.has(slot);
    if (slot < certainFrom && !ran) continue;
    expected++;
    if (ran) observed++;
  }
  let offGrid = 0;
  for (const slot of runSlots) if ((((next - slot) % every) + every) % every !== 0) offGrid++;
  return { expected, observed, missed: expected - observed, offGrid };
}

export const scheduling: Section = {
  id: 'scheduling',
  title: 'Scheduling accuracy',
  async run(ctx: SectionContext): Promise<SectionOutput> {
    const checkCount = ctx.smoke ? 30 : 5_000;
    const frequencyMs = ctx.smoke ? 1_000 : 60_000;
    const windowMs = ctx.smoke ? 3_000 : 72_000;
    const settleMs = ctx.smoke ? 1_000 : 5_000;
    const prefix = uniquePrefix('sched');
    const redis = new Redis(ctx.redis.url, { maxRetriesPerRequest: null });
    ctx.defer(() => { redis.disconnect(); });
    const { url: targetUrl } = await startTarget(ctx, 'scheduling-target');

    const coordinator = await startCoordinatorProcess({ redisUrl: ctx.redis.url, prefix, logDir: ctx.logDir, name: 'coordinator-scheduling' });
    ctx.defer(() => coordinator.stop(10_000));
    // Started together: start-up is mostly module loading, and the machine has two cores.
    const agents = await Promise.allSettled(REGIONS.map((region) => startAgentProcess({ redisUrl: ctx.redis.url, prefix, region, logDir: ctx.logDir, agentId: `sched-${region}` })));
    const started = agents.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
    for (const agent of started) ctx.defer(() => agent.stop(5_000));
    for (const a of agents) if (a.status === 'rejected') throw a.reason;

    const checks = Array.from({ length: checkCount }, (_, i) => httpCheck({
      id: `sched-${i}`, url: `${targetUrl}/`, regions: REGIONS, frequencyMs, timeoutMs: Math.min(5_000, frequencyMs),
      assertions: [{ type: 'status', op: 'equals', value: 200 }],
    }));
    ctx.log(`deploying ${checkCount} checks × ${REGIONS.length} regions`);
    const deployStart = Date.now();
    await deploy(coordinator.url, checks);
    const deployEnd = Date.now();
    ctx.log(`deployed in ${deployEnd - deployStart} ms; measuring for ${windowMs / 1000} s`);
    await delay(windowMs);
    const windowEnd = Date.now();

    // Each pair's slots are its grid `k × every + phase` (coordinator/scheduling/slots.ts); `next` is the
    // first slot after the window.
    const next = new Map<string, { next: number; every: number }>();
    for (const check of checks) {
      for (const region of REGIONS) {
        const id = pairId(check.id, region);
        next.set(id, { next: nextSlotAfter(windowEnd, frequencyMs, phaseOf(id, frequencyMs)), every: frequencyMs });
      }
    }
    const lateness: number[] = [];
    const firstLateness: number[] = [];
    const laterLateness: number[] = [];
    const totals: SlotAudit = { expected: 0, observed: 0, missed: 0, offGrid: 0 };
    let schedulersMissing = 0;
    const pairs = checks.flatMap((c) => REGIONS.map((region) => ({ checkId: c.id, region })));
    for (let i = 0; i < pairs.length; i += 500) {
      const pipeline = redis.pipeline();
      const chunk = pairs.slice(i, i + 500);
      for (const p of chunk) pipeline.lrange(recentRunsKey(prefix, p.checkId, p.region), 0, -1);
      const replies = (await pipeline.exec()) ?? [];
      chunk.forEach((p, j) => {
        // A new check's first run (at its deploy time) is off the grid by design: it is the deployment wave.
        const all = ((replies[j]?.[1] as string[] | undefined) ?? []).map((raw) => JSON.parse(raw) as RecentRun).filter((r) => r.trigger === 'schedule');
        const firstRun = all.filter((r) => r.scheduledAt < deployEnd && (((next.get(`${p.checkId}@${p.region}`)!.next - r.scheduledAt) % frequencyMs) + frequencyMs) % frequencyMs !== 0);
        const runs = all.filter((r) => !firstRun.includes(r));
        for (const run of firstRun) { const late = run.startedAt - run.scheduledAt; lateness.push(late); firstLateness.push(late); }
        const grid = next.get(`${p.checkId}@${p.region}`);
        if (!grid) { schedulersMissing++; return; }
        const slots = new Set(runs.map((r) => r.scheduledAt));
        const audit = auditSlots(grid.next, grid.every, deployStart, deployEnd, windowEnd - settleMs, slots);
        totals.expected += audit.expected; totals.observed += audit.observed; totals.missed += audit.missed; totals.offGrid += audit.offGrid;
        const firstSlot = Math.min(...slots);
        for (const run of runs) {
          const late = run.startedAt - run.scheduledAt;
          lateness.push(late);
          (run.scheduledAt === firstSlot ? firstLateness : laterLateness).push(late);
        }
      });
    }
    // The limit: raw BullMQ schedulers and a Worker doing nothing, on the same Redis, phases spread,
    // with Lookout's processes stopped so that it measures BullMQ, Redis and the machine alone.
    await Promise.all([coordinator.stop(10_000), ...started.map((agent) => agent.stop(5_000))]);
    const baselineEvery = ctx.smoke ? 500 : 2_000;
    const runBaseline = async (redisUrl: string, name: string): Promise<number[]> => {
      const child = spawnNode(name, 'bench/children/scheduler-baseline.ts', [
        '--redis', redisUrl, '--prefix', `${prefix}-baseline`, '--count', String(ctx.smoke ? 50 : 500), '--every', String(baselineEvery), '--window', String(ctx.smoke ? 1_500 : 8_000),
      ], { logDir: ctx.logDir });
      ctx.defer(() => child.stop(5_000));
      return (await firstJsonLine<{ lateness: number[] }>(child, 'lateness', 60_000)).lateness;
    };
    const baseline = await runBaseline(ctx.redis.url, 'scheduler-baseline');
    // The same on a Redis that ticks 100 times a second (`hz 100`; the default is 10).
    const fastRedis = await startRedis(['--hz', '100']);
    ctx.defer(() => fastRedis.stop());
    const fastBaseline = await runBaseline(fastRedis.url, 'scheduler-baseline-hz100');
    await fastRedis.stop();
    const p = (values: number[], q: number): number | null => quantile(values, q);
    const notes = [
      `${checkCount} checks × ${REGIONS.length} regions = ${pairs.length} scheduled pairs (every ${frequencyMs / 1000} s), one agent per region (concurrency 10), one coordinator, one loopback target; deployment took ${deployEnd - deployStart} ms; window ${Math.round((windowEnd - deployStart) / 1000)} s from the start of the deployment.`,
      'A new pair runs once at once (at its deploy time), then on its slots, which coordinators add to the region\'s queue when due (signed, no BullMQ delay): the first runs form the deployment wave (they wait behind the deployment\'s burst); the later runs are the steady state the target is judged on.',
      `Limit: ${baseline.length} runs of raw BullMQ job schedulers (spread phases, every ${baselineEvery / 1000} s) with a Worker doing nothing on the same Redis: lateness p50 ${round(p(baseline, 0.5), 1)} ms, p99 ${round(p(baseline, 0.99), 1)} ms, max ${round(p(baseline, 1), 1)} ms. Redis wakes a worker blocked on a delayed job's marker only at its next event-loop tick (\`hz\` 10 by default: up to 100 ms), which is the floor under any BullMQ scheduling; the same baseline on a redis-server with \`hz 100\`: p50 ${round(p(fastBaseline, 0.5), 1)} ms, p99 ${round(p(fastBaseline, 0.99), 1)} ms.`,
      `Slots audited: ${totals.expected} expected, ${totals.observed} ingested, ${totals.missed} missed, ${totals.offGrid} off-grid runs; ${schedulersMissing} schedulers not found. Expected = every slot of a scheduler's grid from the end of the deployment to ${settleMs / 1000} s before the window closed, plus the earlier slots that ran (a slot during the deployment that never ran cannot be told from one before its scheduler existed).`,
    ];
    return {
      figures: [
        figure('steady-state lateness p50', p(laterLateness, 0.5), 'ms', { name: 'raw BullMQ scheduler p50', value: p(baseline, 0.5) }),
        figure('steady-state lateness p99', p(laterLateness, 0.99), 'ms', { name: 'raw BullMQ scheduler p99', value: p(baseline, 0.99) }),
        figure('raw BullMQ scheduler p99 with Redis hz 10 (default)', p(baseline, 0.99), 'ms', { name: 'same with hz 100', value: p(fastBaseline, 0.99) }),
        figure('deployment-wave lateness p50', p(firstLateness, 0.5), 'ms', { name: 'deployment time', value: deployEnd - deployStart }),
        figure('deployment-wave lateness p99', p(firstLateness, 0.99), 'ms', { name: 'deployment time', value: deployEnd - deployStart }),
        figure('missed runs', totals.missed, 'runs', { name: 'expected runs', value: totals.expected }),
      ],
      targets: [
        target('steady-state run-start lateness p99 ≤ 100 ms', p(laterLateness, 0.99), 'ms', (v) => v <= 100),
        target('no missed runs', totals.expected > 0 ? totals.missed : null, 'runs', (v) => v === 0),
      ],
      notes,
      data: {
        checkCount, regions: REGIONS, frequencyMs, windowMs, deployMs: deployEnd - deployStart, audit: totals, schedulersMissing,
        baselineLateness: { p50: p(baseline, 0.5), p99: p(baseline, 0.99), max: p(baseline, 1), n: baseline.length },
        baselineLatenessHz100: { p50: p(fastBaseline, 0.5), p99: p(fastBaseline, 0.99), max: p(fastBaseline, 1), n: fastBaseline.length },
        lateness: { all: { p50: p(lateness, 0.5), p99: p(lateness, 0.99), max: p(lateness, 1), n: lateness.length },
          first: { p50: p(firstLateness, 0.5), p99: p(firstLateness, 0.99), max: p(firstLateness, 1), n: firstLateness.length },
          later: { p50: p(laterLateness, 0.5), p99: p(laterLateness, 0.99), max: p(laterLateness, 1), n: laterLateness.length } },
      },
    };
  },
};
