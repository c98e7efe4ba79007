/**
 * Result ingest: a BullMQ worker on each watched region's results queue (`results.<region>`). Each result
 * is validated against the contract (an invalid one fails without retry and is logged with its problems;
 * the process stays up), refused unless it answers a slot a coordinator signed for the queue's region
 * ({@link refusalOf}; the region is the queue's, never the payload's), checked against the registry (results of unknown checks or regions are counted and dropped), recorded once
 * (dedupe on (check, region, scheduled slot, trigger), recent runs, rollups: recording.ts), then applied to
 * the check's verdicts and incident in one optimistic transaction (detection/store.ts).
 *
 * The registry and maintenance look-ups use this process's cached copies, and the recording's own round
 * trip confirms their revisions are still current (recording.ts `recordRun`); when one is not, or
 * the cache does not know the check or region (deployed since?), they are read again and the decision
 * made anew. So a result is judged against what Redis holds when it is recorded, at one round trip.
 *
 * A duplicate still goes through the verdict step: that step ignores a result it has already applied
 * (the verdict keeps the newest scheduled time), and running it again completes the work of a delivery
 * that recorded the run but crashed before committing the verdict.
 *
 * A run due during a maintenance window of its check is recorded apart (rollups.ts). Confirmation runs a
 * committed transition planned are handed to `confirm` (the scheduler's queues) after the commit; one lost
 * there (Redis gone at that instant) is given up when it expires, and the schedule carries on.
 */
import { describeZodError } from '../../lib/zod-problems.ts';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { RunResult, type StoredCheck } from '../../checks/contract.ts';
import type { Transition } from '../detection/check-state.ts';
import type { PlannedConfirmation } from '../detection/confirmation.ts';
import type { Logger } from '../../lib/log.ts';
import { maintenanceRevisionKey, registryRevisionKey, resultsQueueName } from '../../checks/keys.ts';
import type { JobVerifier } from '../../checks/signing.ts';
import { refusalOf } from './refusal.ts';
import type { Clock } from '../../lib/clock.ts';
import { WORKER_RECOVERY } from '../../lib/redis.ts';
import { isInMaintenance, type MaintenanceWindow } from '../maintenance/maintenance.ts';
import type { CoordinatorMetrics } from '../platform/metrics.ts';
import type { CheckRegistry } from '../registry/store.ts';
import { NO_FENCES, recordRun, type Fences } from './recording.ts';
import type { CheckStateStore } from '../detection/store.ts';
import type { UnansweredRunStore } from '../detection/unanswered-store.ts';

/** How long a result is remembered for de-duplication; covers redelivery and agents replaying a spool. */
export const DEDUPE_TTL_MS = 24 * 3_600_000;

/**
 * A coordinator killed while ingesting leaves its results locked until the lock expires; another one takes
 * them over at its next stalled-job check. BullMQ's 30 s / 30 s would hold them up to a minute; ingest is
 * idempotent (a result taken over twice records once), so short locks cost nothing but a renewal every
 * 5 s, and a result may be taken over a few times (a coordinator frozen under load) before it fails.
 */
export const INGEST_LOCKS = { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 5 } as const;

export type IngestOutcome =
  | { kind: 'ingested'; duplicate: boolean; transition: Transition | null }
  | { kind: 'ignored'; reason: 'unknown_check' | 'unknown_region' };

export interface IngestContext {
  redis: Redis;
  prefix: string;
  registry: CheckRegistry;
  /** Verifies the slot each result answers. */
  verifier: JobVerifier;
  /** Redis time. */
  clock: Clock;
  store: CheckStateStore;
  metrics: CoordinatorMetrics;
  logger: Logger;
  /** Called after a committed transition that emitted events (to kick the outbox). */
  onEvents: () => void;
  /**
   * Starts confirmation runs (e.g. `scheduler.addConfirmationRuns`). Without it, no confirmation is
   * planned. @defaultValue none
   */
  confirm?: (check: StoredCheck, runs: readonly PlannedConfirmation[]) => Promise<unknown>;
  /** Runs issued and not answered yet: every result answers its slot there. @defaultValue none */
  unanswered?: UnansweredRunStore;
}

/**
 * Rounds of "decide from the cached registry and windows, record only if both are still current" before
 * recording without that check (as when each is read just before): bounds the loop under a storm of
 * deployments.
 */
const MAX_FENCED_ATTEMPTS = 5;

/**
 * The check and the maintenance windows a result is recorded with, and their revisions: from this
 * process's caches (no round trip; recordRunIfCurrent confirms both revisions in the write's own round
 * trip), or, with `fresh`, read from Redis.
 */
async function lookUp(ctx: IngestContext, checkId: string, fresh: boolean): Promise<{
  check: StoredCheck | null; registryRevision: number; windows: readonly MaintenanceWindow[]; maintenanceRevision: number;
}> {
  const cachedCheck = fresh ? null : ctx.registry.peekCheck(checkId);
  const cachedWindows = fresh ? null : ctx.store.maintenance.peek();
  const [registry, maintenance] = await Promise.all([
    cachedCheck ?? ctx.registry.getCheckAt(checkId),
    cachedWindows ?? ctx.store.maintenance.listAt(),
  ]);
  return { check: registry.check, registryRevision: registry.revision, windows: maintenance.windows, maintenanceRevision: maintenance.revision };
}

/** Ingests one already-validated result. */
export async function ingestResult(ctx: IngestContext, result: RunResult): Promise<IngestOutcome> {
  let fresh = false;
  let recorded: boolean;
  let check: StoredCheck;
  let windows: readonly MaintenanceWindow[];
  for (let attempt = 1; ; attempt++) {
    const view = await lookUp(ctx, result.checkId, fresh);
    if (!view.check || !view.check.definition.regions.includes(result.region)) {
      // A cached miss may be a check or region deployed since: read again before dropping the result.
      if (!fresh) { fresh = true; continue; }
      const reason = view.check ? 'unknown_region' : 'unknown_check';
      ctx.metrics.ignoredResults.inc({ reason });
      ctx.logger.warn('ingest.result_ignored', { reason, checkId: result.checkId, region: result.region, agentId: result.agentId });
      return { kind: 'ignored', reason };
    }
    check = view.check;
    windows = view.windows;
    const maintenance = isInMaintenance(windows, check.definition, result.scheduledAt);
    const fences: Fences = attempt < MAX_FENCED_ATTEMPTS
      ? { registry: { key: registryRevisionKey(ctx.prefix), revision: view.registryRevision }, maintenance: { key: maintenanceRevisionKey(ctx.prefix), revision: view.maintenanceRevision } }
      : NO_FENCES;
    const outcome = await recordRun(ctx.redis, ctx.prefix, result, { dedupeTtlMs: DEDUPE_TTL_MS, inMaintenance: maintenance, fences });
    if (outcome === 'stale') { fresh = true; continue; }
    recorded = outcome === 'recorded';
    break;
  }
  if (recorded) ctx.metrics.resultsIngested.inc({ outcome: result.outcome });
  else ctx.metrics.duplicateResults.inc();

  // Any result answers its slot, whatever it says; in parallel with the verdict step (no added wait).
  const answering = ctx.unanswered?.answered(result).catch((error: unknown) => ctx.logger.warn('ingest.unanswered_failed', { checkId: result.checkId, error }));
  const transition = await ctx.store.applyResult(result, { confirmations: ctx.confirm !== undefined, windows });
  await answering;
  if (transition?.changed) {
    for (const change of transition.verdictChanges) {
      ctx.metrics.verdictChanges.inc({ to: change.to });
      ctx.logger.info('verdict.changed', { checkId: result.checkId, ...change });
    }
    for (const event of transition.events) {
      ctx.metrics.incidentEvents.inc({ type: event.type });
      const incident = 'incident' in event ? { scope: event.incident.scope, failingRegions: event.incident.failingRegions } : {};
      ctx.logger.info('incident.event', { eventId: event.id, type: event.type, checkId: result.checkId, ...incident });
    }
    if (transition.events.length > 0) ctx.onEvents();
  }
  if (transition && transition.confirmations.length > 0 && ctx.confirm) {
    const runs = transition.confirmations;
    try {
      await ctx.confirm(check, runs);
      ctx.logger.info('confirmation.started', { checkId: result.checkId, after: { region: result.region, trigger: result.trigger }, runs: runs.map((r) => ({ region: r.region, reason: r.reason, delayMs: r.delayMs })) });
    } catch (error) {
      ctx.logger.warn('confirmation.start_failed', { checkId: result.checkId, regions: runs.map((r) => r.region), error });
    }
  }
  return { kind: 'ingested', duplicate: !recorded, transition };
}

/** Validates a job payload of `region`'s results queue and ingests it; invalid payloads fail for good (no retry). */
export async function processResultJob(ctx: IngestContext, region: string, job: Pick<Job, 'id' | 'data'>, now = ctx.clock.now()): Promise<IngestOutcome> {
  const started = performance.now();
  const parsed = RunResult.safeParse(job.data);
  if (!parsed.success) {
    const problems = describeZodError(parsed.error, 'result');
    ctx.metrics.invalidResults.inc();
    ctx.logger.error('ingest.invalid_result', { region, jobId: job.id, problems });
    throw new UnrecoverableError(`INVALID_RESULT: ${problems.join('; ')}`);
  }
  const refused = refusalOf(parsed.data, region, ctx.verifier, now);
  if (refused) {
    ctx.metrics.invalidSlots.inc({ reason: refused.reason });
    ctx.logger.error('ingest.result_refused', { region, jobId: job.id, agentId: parsed.data.agentId, reason: refused.reason, problem: refused.message });
    throw new UnrecoverableError(`INVALID_SLOT: ${refused.message}`);
  }
  try {
    return await ingestResult(ctx, parsed.data);
  } finally {
    ctx.metrics.ingestDuration.observe((performance.now() - started) / 1_000);
  }
}

export interface IngestWorkerOptions {
  /** A connection with `maxRetriesPerRequest: null` (BullMQ workers block on it; each worker duplicates it). */
  connection: Redis;
  /** Results processed at once per region. */
  concurrency: number;
}

/** The ingest workers: one per watched region's results queue, added and stopped as regions come and go. */
export interface IngestWorkers {
  /** Makes the set of consumed regions `regions` (starting and closing workers). */
  setRegions(regions: Iterable<string>): Promise<void>;
  regions(): string[];
  /** Whether every worker runs. */
  isRunning(): boolean;
  /** Closes every worker; `force` does not wait for results in flight. */
  close(force?: boolean): Promise<void>;
  disconnect(): Promise<void>;
}

export function startIngestWorkers(ctx: IngestContext, options: IngestWorkerOptions): IngestWorkers {
  const workers = new Map<string, Worker>();
  const start = (region: string): Worker => {
    const worker = new Worker(resultsQueueName(region), (job) => processResultJob(ctx, region, job).then(() => undefined), {
      connection: options.connection,
      prefix: ctx.prefix,
      concurrency: options.concurrency,
      ...WORKER_RECOVERY,
      ...INGEST_LOCKS,
      removeOnComplete: { count: 1_000 },
      removeOnFail: { count: 5_000 },
    });
    worker.on('error', (error) => ctx.logger.warn('ingest.worker_error', { region, error }));
    worker.on('failed', (job, error) => {
      if (!(error instanceof UnrecoverableError)) ctx.logger.warn('ingest.failed', { region, jobId: job?.id, attempts: job?.attemptsMade, error });
    });
    return worker;
  };
  return {
    async setRegions(regions) {
      const wanted = new Set(regions);
      for (const region of wanted) if (!workers.has(region)) workers.set(region, start(region));
      const gone = [...workers.keys()].filter((region) => !wanted.has(region));
      await Promise.all(gone.map(async (region) => {
        const worker = workers.get(region)!;
        workers.delete(region);
        await worker.close().catch((error: unknown) => ctx.logger.warn('ingest.close_failed', { region, error }));
      }));
    },
    regions: () => [...workers.keys()].sort(),
    isRunning: () => [...workers.values()].every((worker) => worker.isRunning()),
    async close(force = false) {
      await Promise.all([...workers.values()].map((worker) => worker.close(force)));
    },
    async disconnect() {
      await Promise.all([...workers.values()].map((worker) => worker.disconnect()));
    },
  };
}
