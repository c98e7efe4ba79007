/**
 * Coordinator ingest: how fast one coordinator process drains the results queue with everything it does
 * per result (validation, registry look-up, de-duplication, recent runs, rollups, verdict and incident
 * transaction), against raw BullMQ on the same Redis: a Worker doing nothing, with the same concurrency,
 * on a queue holding the same jobs.
 *
 * Set-up: a coordinator registers the checks (a deployment through its API); the agents that "sent" the
 * results keep heartbeating. Both consumers run all along; in each round a burst of pre-made valid
 * results (5 % failing, 2 % re-deliveries of a slot) is pushed into one paused queue, as agents push
 * them, the queue is released and its drain timed (first result taken → queue empty); then the same
 * for the other queue. Rounds alternate because the machine is shared and its load drifts.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { resultsQueueName } from '../../checks/keys.ts';
import { keepAgentsAlive } from '../lib/heartbeats.ts';
import { RESULT_JOB_OPTIONS, httpCheck, resultJobId, runResult } from '../lib/payloads.ts';
import { firstJsonLine, procSample, spawnNode } from '../lib/proc.ts';
import { profileNotes } from '../lib/profile-summary.ts';
import { figure, target } from '../lib/report.ts';
import { uniquePrefix, type Section, type SectionContext, type SectionOutput } from '../lib/section.ts';
import { deploy, startCoordinatorProcess } from '../lib/services.ts';
import { median, round } from '../lib/stats.ts';
import { delay } from '../lib/wait.ts';

const REGIONS = ['us-east', 'eu-west', 'ap-south'];
const INGEST_CONCURRENCY = 8; // the coordinator's default

interface Drain { jobs: number; perSecond: number | null; elapsedMs: number; cpuMsPerJob: number | null; drained: boolean }

/**
 * Pushes `total` results as agents do (deterministic ids, the agent's job options), slots from `firstSlot`
 * on, region-major so that neighbouring results are of different checks (as when regions run at different
 * times). Returns how many jobs were added.
 */
async function pushResults(queueOf: (region: string) => Queue, checkIds: string[], total: number, base: number, firstSlot: number): Promise<number> {
  const pairs = REGIONS.flatMap((region) => checkIds.map((checkId) => ({ checkId, region })));
  let added = 0;
  let batch: Array<{ region: string; name: string; data: unknown; opts: Record<string, unknown> }> = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    for (const region of REGIONS) {
      const jobs = batch.filter((job) => job.region === region).map(({ region: _r, ...job }) => job);
      if (jobs.length > 0) await queueOf(region).addBulk(jobs as never);
    }
    added += batch.length;
    batch = [];
  };
  for (let i = 0; added + batch.length < total; i++) {
    const pair = pairs[i % pairs.length]!;
    const slot = firstSlot + Math.floor(i / pairs.length);
    const result = runResult({ ...pair, scheduledAt: base + slot * 60_000, fail: i % 20 === 7 });
    batch.push({ region: pair.region, name: 'result', data: result, opts: { ...RESULT_JOB_OPTIONS, jobId: resultJobId(result) } });
    // A re-delivery: the same slot again under another job id (another agent's copy of the run).
    if (i % 50 === 3 && added + batch.length < total) {
      batch.push({ region: pair.region, name: 'result', data: { ...result, agentId: 'bench-other-agent' }, opts: { ...RESULT_JOB_OPTIONS, jobId: `${resultJobId(result)}-again` } });
    }
    if (batch.length >= 1_000) await flush();
  }
  await flush();
  return added;
}

/** Releases `queues` and times their drain by the process `pid`, from the first job taken until they are empty. */
async function timeDrain(redis: Redis, queues: Queue[], jobs: number, pid: number, timeLimitMs: number): Promise<Drain> {
  const pending = async (): Promise<number> => {
    let n = 0;
    for (const queue of queues) n += (await redis.llen(`${queue.opts.prefix}:${queue.name}:wait`)) + (await redis.llen(`${queue.opts.prefix}:${queue.name}:active`));
    return n;
  };
  await Promise.all(queues.map((queue) => queue.resume()));
  const deadline = performance.now() + timeLimitMs;
  let startAt = performance.now();
  let startCpu = procSample(pid)?.cpuMs ?? 0;
  let started = false;
  let left = await pending();
  while (left > 0 && performance.now() < deadline) {
    const now = performance.now();
    const cpu = procSample(pid)?.cpuMs ?? startCpu;
    left = await pending();
    if (!started && left < jobs) { started = true; startAt = now; startCpu = cpu; }
    if (left > 0) await delay(20);
  }
  await Promise.all(queues.map((queue) => queue.pause()));
  const elapsedMs = performance.now() - startAt;
  const done = jobs - left;
  const cpuMs = (procSample(pid)?.cpuMs ?? startCpu) - startCpu;
  return { jobs, perSecond: done > 0 ? (done * 1000) / elapsedMs : null, elapsedMs, cpuMsPerJob: done > 0 ? cpuMs / done : null, drained: left === 0 };
}

const med = (values: Array<number | null>): number | null => median(values.filter((v): v is number => v !== null));

export const ingest: Section = {
  id: 'ingest',
  title: 'Coordinator ingest',
  async run(ctx: SectionContext): Promise<SectionOutput> {
    const checkCount = ctx.smoke ? 10 : 300;
    const rounds = ctx.smoke ? 1 : 3;
    const perRound = ctx.smoke ? 600 : 12_000;
    const timeLimitMs = ctx.smoke ? 20_000 : 30_000;
    const prefix = uniquePrefix('ingest');
    const redis = new Redis(ctx.redis.url, { maxRetriesPerRequest: null });
    ctx.defer(() => { redis.disconnect(); });

    // The agents that "sent" the results stay alive, as they would be.
    const alive = keepAgentsAlive(redis, prefix, [...REGIONS.map((region) => ({ agentId: `bench-${region}`, region })), { agentId: 'bench-other-agent', region: REGIONS[0]! }]);
    ctx.defer(() => alive.stop());
    await alive.ready;

    const checkIds = Array.from({ length: checkCount }, (_, i) => `ingest-${i}`);
    const slotsPerRound = Math.ceil(perRound / (checkCount * REGIONS.length));
    const base = Date.now() - (rounds * slotsPerRound + 1) * 60_000;
    // Agents publish into their region's results queue; the coordinator consumes all three.
    const results = new Map(REGIONS.map((region) => [region, new Queue(resultsQueueName(region), { connection: redis, prefix })]));
    for (const queue of results.values()) ctx.defer(() => queue.close());
    const raw = new Queue('raw-results', { connection: redis, prefix });
    ctx.defer(() => raw.close());
    await Promise.all([...[...results.values()].map((queue) => queue.pause()), raw.pause()]);

    const profileSince = Date.now();
    const coordinator = await startCoordinatorProcess({ redisUrl: ctx.redis.url, prefix, logDir: ctx.logDir, name: 'coordinator-ingest',
      nodeArgs: ctx.profile ? ['--cpu-prof', `--cpu-prof-dir=${ctx.resultsDir}/profiles`] : [] });
    ctx.defer(() => coordinator.stop(10_000));
    await deploy(coordinator.url, checkIds.map((id) => httpCheck({ id, url: 'http://127.0.0.1:9/', regions: REGIONS, frequencyMs: 3_600_000 })));
    const worker = spawnNode('noop-worker', 'bench/children/noop-worker.ts',
      ['--redis', ctx.redis.url, '--prefix', prefix, '--queue', 'raw-results', '--concurrency', String(INGEST_CONCURRENCY)], { logDir: ctx.logDir });
    ctx.defer(() => worker.stop(5_000));
    await firstJsonLine(worker, 'ready', 15_000);

    const lookoutRounds: Drain[] = [];
    const bullmqRounds: Drain[] = [];
    for (let r = 0; r < rounds; r++) {
      ctx.log(`round ${r + 1}/${rounds}: ${perRound} results to the coordinator, then to a no-op worker`);
      const jobs = await pushResults((region) => results.get(region)!, checkIds, perRound, base, r * slotsPerRound);
      lookoutRounds.push(await timeDrain(redis, [...results.values()], jobs, coordinator.pid, timeLimitMs));
      const rawJobs = await pushResults(() => raw, checkIds, perRound, base, r * slotsPerRound);
      bullmqRounds.push(await timeDrain(redis, [raw], rawJobs, worker.pid, timeLimitMs));
    }
    const metrics = await coordinator.metrics();
    const count = (name: string): number => [...metrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))].reduce((s, m) => s + Number(m[1]), 0);
    const counters = {
      ingested: count('lookout_results_ingested_total'), duplicates: count('lookout_results_duplicate_total'),
      invalid: count('lookout_results_invalid_total'), ignored: count('lookout_results_ignored_total'),
      transactionConflicts: count('lookout_transaction_conflicts_total'),
    };
    await Promise.all([coordinator.stop(10_000), worker.stop(5_000)]);

    const lookoutRate = med(lookoutRounds.map((d) => d.perSecond));
    const bullmqRate = med(bullmqRounds.map((d) => d.perSecond));
    const perRoundRatio = med(lookoutRounds.map((d, i) => (d.perSecond === null || bullmqRounds[i]!.perSecond === null ? null : d.perSecond / bullmqRounds[i]!.perSecond!)));
    const notes = [
      `${rounds} round(s) of ${perRound} results for ${checkCount} checks × ${REGIONS.length} regions (5 % failing, 2 % re-deliveries of a slot), pushed as agents push them into the paused queue, then released; ingest concurrency ${INGEST_CONCURRENCY} (the default) for both; the agents that sent them keep heartbeating (written by the benchmark), so the coordinator's sweeper sees its regions served.`,
      `Per round, coordinator results/s: ${lookoutRounds.map((d) => round(d.perSecond, 0)).join(', ')}; raw BullMQ: ${bullmqRounds.map((d) => round(d.perSecond, 0)).join(', ')}. Figures are medians, the ratio the median of per-round ratios.`,
      `Coordinator counters after the drains: ${JSON.stringify(counters)}.`,
      'Rates are first job taken → queue empty; CPU per result is the draining process alone (/proc/<pid>/stat).',
    ];
    if (ctx.profile) notes.push(...profileNotes(`${ctx.resultsDir}/profiles`, profileSince, 'Coordinator'));
    if (lookoutRounds.some((d) => !d.drained)) notes.push(`The coordinator did not drain a round within ${timeLimitMs / 1000} s; its rate is over what it did.`);
    if (bullmqRounds.some((d) => !d.drained)) notes.push(`Raw BullMQ did not drain a round within ${timeLimitMs / 1000} s.`);
    return {
      figures: [
        figure('coordinator ingest', lookoutRate, 'results/s', { name: 'raw BullMQ no-op worker', value: bullmqRate }),
        figure('coordinator CPU per result', med(lookoutRounds.map((d) => d.cpuMsPerJob)), 'ms', { name: 'raw BullMQ CPU per job', value: med(bullmqRounds.map((d) => d.cpuMsPerJob)) }),
      ],
      targets: [
        target('≥ 5,000 results/s', lookoutRate, 'results/s', (v) => v >= 5_000),
        target('≥ 1/3 of raw BullMQ (ratio)', perRoundRatio, '×', (v) => v >= 1 / 3),
      ],
      notes,
      data: { lookoutRounds, bullmqRounds, counters },
    };
  },
};
