/**
 * The BullMQ worker that consumes this region's queue (`checks.<region>`) and turns each job into one
 * published result: validate the payload and its coordinator's signature (validate.ts) → skip it if its
 * slot has expired → run the check type's runner under a deadline → build and validate the result,
 * carrying the signed slot → publish (or spool). A bad or unsigned job fails without retry
 * (`UnrecoverableError`), is counted and logged, runs nothing, and never takes the agent down. Runners come from a table given by the caller, so tests and future
 * check types plug in without touching this file. Canary jobs (`CANARY_JOB_NAME`) skip all of that:
 * they are told apart by name and answered at once (jobs/canary.ts), so they prove the queue is consumed.
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { CANARY_JOB_NAME, type CheckDefinition, type RunResult } from '../../checks/contract.ts';
import { checkQueueName } from '../../checks/keys.ts';
import { CanaryError, type CanaryOutcome, type CanaryResponder } from './canary.ts';
import type { AgentConfig } from '../config.ts';
import { settlesWithin } from '../../lib/bounded.ts';
import { parseCheckJob } from './validate.ts';
import { throttledErrorLog, type Logger } from '../../lib/log.ts';
import type { AgentMetrics } from '../liveness/metrics.ts';
import type { PublishOutcome, ResultPublisher } from '../results/publisher.ts';
import { validResult, type ResultMeta } from '../results/result.ts';
import { agentErrorReport, executeRun, runCancelled } from '../runs/execute.ts';
import type { RunReport, Runner, RunnerTable } from '../runners/types.ts';
import type { JobVerifier } from '../../checks/signing.ts';
import type { Clock } from '../../lib/clock.ts';
import { WORKER_RECOVERY } from '../../lib/redis.ts';

/** What a completed check job returns (stored by BullMQ as the job's return value). */
export interface CheckJobOutcome {
  outcome: RunResult['outcome'] | 'skipped';
  published: PublishOutcome | 'not published';
}

export interface CheckWorkerOptions {
  config: Pick<AgentConfig, 'region' | 'prefix' | 'concurrency' | 'agentId'>;
  /** The BullMQ worker's connection (it duplicates it for its blocking reads). */
  connection: Redis;
  /** Checks that coordinators signed each job. */
  verifier: JobVerifier;
  /** Redis time: when a run starts and whether its slot expired, whatever this machine's clock says. */
  clock: Clock;
  runners: RunnerTable;
  publisher: Pick<ResultPublisher, 'publish'>;
  metrics: AgentMetrics;
  logger: Logger;
  /**
   * How long a runner may keep going after its signal fired (deadline or shutdown) before the worker
   * abandons it and frees the slot. @defaultValue 1000
   */
  graceMs?: number;
  /**
   * Answers canary jobs (job name `CANARY_JOB_NAME`). The agent always passes one.
   * @defaultValue none: canary jobs fail with `CANARY_UNSUPPORTED` (and the coordinators see the region stall)
   */
  canary?: CanaryResponder;
}

export interface CheckWorker {
  readonly worker: Worker;
  /** Runs executing now. */
  inFlight(): number;
  /** Starts consuming (the worker is created paused so that callers can check Redis first). */
  start(): void;
  /** Whether the worker is consuming. */
  isRunning(): boolean;
  /**
   * Stops fetching jobs, lets in-flight runs finish for `drainTimeoutMs`, then cancels the rest:
   * they publish `RUN_CANCELLED` results and their jobs complete (rather than being left to BullMQ's
   * stalled-job check, which would re-run them 30 s later on another agent, long after their slot).
   * Bounded: resolves even if Redis is away and BullMQ cannot finish closing.
   */
  close(drainTimeoutMs: number): Promise<void>;
}

/** Check jobs are kept a little for debugging, then removed so Redis does not grow. */
const KEEP_COMPLETED = { age: 3_600, count: 1_000 };
const KEEP_FAILED = { age: 7 * 86_400, count: 5_000 };

export function createCheckWorker(options: CheckWorkerOptions): CheckWorker {
  const { config, runners, publisher, metrics } = options;
  const logger = options.logger.child({ component: 'worker' });
  const graceMs = options.graceMs ?? 1_000;
  const active = new Set<AbortController>();
  let cancelling = false;

  const processor = async (job: Job, _token?: string, bullSignal?: AbortSignal): Promise<CheckJobOutcome | CanaryOutcome> => {
    if (job.name === CANARY_JOB_NAME) return answerCanary(job);
    const parsed = parseCheckJob(job.data, config.region, options.verifier);
    if (!parsed.ok) {
      // Nothing is reported: a result needs a slot a coordinator signed, which this job does not prove.
      (parsed.code === 'INVALID_JOB_SIGNATURE' ? metrics.invalidSignatures : metrics.invalidJobs).inc();
      logger.warn(parsed.code === 'INVALID_JOB_SIGNATURE' ? 'job.invalid_signature' : 'job.invalid', { jobId: job.id, code: parsed.code, problems: parsed.message });
      throw new UnrecoverableError(`${parsed.code}: ${parsed.message}`);
    }

    const { job: checkJob } = parsed;
    const definition = checkJob.check;
    // Runners time runs by this machine's clock; the result reports them in Redis time, as the slot is.
    const offsetMs = options.clock.now() - Date.now();
    const startedAt = Date.now();
    if (startedAt + offsetMs > checkJob.expiresAt) {
      // Taken too late (agents away, a backlog, a run taken over from an agent that died): probing the
      // target now would answer a long-past slot, so the slot is left without a result.
      metrics.runsSkipped.inc({ reason: 'late' });
      logger.info('run.skipped_late', { jobId: job.id, checkId: definition.id, trigger: checkJob.trigger, scheduledAt: checkJob.scheduledAt, lateMs: startedAt + offsetMs - checkJob.scheduledAt });
      return { outcome: 'skipped', published: 'not published' };
    }
    const meta: ResultMeta = {
      checkId: definition.id, checkVersion: checkJob.checkVersion, region: config.region, agentId: config.agentId,
      trigger: checkJob.trigger, scheduledAt: checkJob.scheduledAt,
      slot: { expiresAt: checkJob.expiresAt, definitionDigest: checkJob.definitionDigest, signature: checkJob.signature },
    };
    const local = await runOnce(definition, startedAt, bullSignal, job.id);
    const report = { ...local, startedAt: local.startedAt + offsetMs, endedAt: local.endedAt + offsetMs };

    const built = validResult(meta, report);
    if ('problems' in built) {
      // Only reachable if the job's own fields are unusable, which validation above rules out.
      throw new UnrecoverableError(`AGENT_INTERNAL: cannot build a valid result: ${built.problems.join('; ')}`);
    }
    if (built.replaced) logger.error('runner.invalid_report', { jobId: job.id, checkId: meta.checkId, problems: built.replaced });
    const { result } = built;
    const published = await publisher.publish(result);

    metrics.runsTotal.inc({ check_type: definition.type, outcome: result.outcome });
    metrics.runDuration.observe({ check_type: definition.type }, (result.endedAt - result.startedAt) / 1_000);
    metrics.scheduleLateness.observe(Math.max(0, result.startedAt - result.scheduledAt) / 1_000);
    logger.info('run.finished', {
      checkId: result.checkId, trigger: result.trigger, scheduledAt: result.scheduledAt, outcome: result.outcome, code: result.error?.code ?? null,
      ms: result.endedAt - result.startedAt, lateMs: result.startedAt - result.scheduledAt, published,
    });
    return { outcome: result.outcome, published };
  };

  /** Canaries never reach a runner: the answer itself is the proof that this queue is consumed. */
  async function answerCanary(job: Job): Promise<CanaryOutcome> {
    if (!options.canary) throw new UnrecoverableError('CANARY_UNSUPPORTED: this worker has no canary responder');
    try {
      return await options.canary.answer(job.data);
    } catch (error) {
      if (error instanceof CanaryError && (error.code === 'INVALID_JOB' || error.code === 'INVALID_JOB_SIGNATURE')) {
        (error.code === 'INVALID_JOB_SIGNATURE' ? metrics.invalidSignatures : metrics.invalidJobs).inc();
        logger.warn('canary.invalid', { jobId: job.id, problems: error.message });
        throw new UnrecoverableError(error.message);
      }
      logger.warn('canary.failed', { jobId: job.id, error });
      throw error;
    }
  }

  async function runOnce(definition: CheckDefinition, startedAt: number, bullSignal: AbortSignal | undefined, jobId: string | undefined): Promise<RunReport> {
    const runner = (runners as Partial<Record<string, Runner<CheckDefinition>>>)[definition.type];
    if (!runner) {
      return agentErrorReport(startedAt, Date.now(), 'UNSUPPORTED_CHECK_TYPE', `this agent has no runner for check type ${JSON.stringify(definition.type)}`);
    }
    const controller = new AbortController();
    const cancel = (): void => controller.abort(runCancelled());
    if (cancelling) cancel();
    bullSignal?.addEventListener('abort', cancel, { once: true });
    active.add(controller);
    metrics.runsInFlight.inc();
    try {
      const { report, abandoned } = await executeRun({
        runner, definition, region: config.region, agentId: config.agentId, startedAt, controller, graceMs,
      });
      if (abandoned) logger.error('run.abandoned', { jobId, checkId: definition.id, code: report.error?.code, message: report.error?.message });
      return report;
    } finally {
      active.delete(controller);
      metrics.runsInFlight.dec();
      bullSignal?.removeEventListener('abort', cancel);
    }
  }

  const worker = new Worker(checkQueueName(config.region), processor, {
    connection: options.connection,
    prefix: config.prefix,
    concurrency: config.concurrency,
    name: config.agentId,
    autorun: false,
    ...WORKER_RECOVERY,
    removeOnComplete: KEEP_COMPLETED,
    removeOnFail: KEEP_FAILED,
  });
  const logWorkerError = throttledErrorLog(logger, 'worker.error');
  worker.on('error', (error) => logWorkerError(error));

  let started = false;
  let closing: Promise<void> | undefined;
  let closed: Promise<void> | undefined;

  async function closeBounded(drainTimeoutMs: number): Promise<void> {
    // A worker that never ran has nothing to drain; force drops connections that may still be retrying.
    closing = worker.close(!started);
    closing.catch((error: unknown) => logger.error('worker.close_failed', { error }));
    if (await settlesWithin(closing, drainTimeoutMs)) return;
    cancelling = true;
    logger.warn('shutdown.cancelling_runs', { inFlight: active.size, afterMs: drainTimeoutMs });
    for (const controller of active) controller.abort(runCancelled());
    // Cancelled runs end within the grace period, then publish (itself bounded) and complete.
    if (!(await settlesWithin(closing, graceMs + 5_000))) {
      logger.error('worker.close_timeout', { note: 'BullMQ did not finish closing (is Redis reachable?); unfinished jobs will be picked up by the stalled-job check' });
    }
  }

  return {
    worker,
    inFlight: () => active.size,
    start() {
      if (closing || started) return;
      started = true;
      worker.run().catch((error: unknown) => logger.error('worker.stopped', { error }));
    },
    isRunning: () => !closing && worker.isRunning(),
    close(drainTimeoutMs) {
      closed ??= closeBounded(drainTimeoutMs);
      return closed;
    },
  };
}
