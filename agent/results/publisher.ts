/**
 * Publishes run results to the region's results queue (`results.<region>`, the only one an agent's
 * Redis role may write). Redis being away must neither lose a
 * result nor stall a worker slot: a result that cannot be written within a short bound goes to a
 * bounded spool ({@link ResultSpool}: on disk, surviving a restart of the agent (disk-spool.ts), or in
 * memory), flushed oldest first when Redis is back; a batch leaves the spool only once Redis took it.
 * Every result job has a deterministic id ({@link resultJobId}), so a write that timed out here but
 * reached Redis later and its spooled copy end up as one job, and ingest de-duplicates by slot besides.
 *
 * Replication is asynchronous: what a primary took but had not passed on when it failed over (or what a
 * Redis restarted without its last writes lost) is gone, though this agent was told it was written. So
 * results published in the last {@link REPUBLISH_WINDOW_MS} before the connection was lost are kept
 * in memory, and published again whenever it comes back (a failover, a restart, a reconnect): what
 * survived is not added twice (same job id) and ingest counts a slot once; what was lost is there again.
 * Waiting for a replica (`WAIT`) was tried first and is not enough: during a failover the old primary
 * goes on taking writes, and a replica that has not been moved yet confirms them before both are turned
 * to the new primary.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { type RunResult } from '../../checks/contract.ts';
import { resultsQueueName } from '../../checks/keys.ts';
import { withTimeout } from '../../lib/bounded.ts';
import { throttledErrorLog, type Logger } from '../../lib/log.ts';
import type { AgentMetrics } from '../liveness/metrics.ts';
import { resultJobId } from './result-id.ts';
import { memoryResultSpool, type DropReason, type ResultSpool } from './spool.ts';

/**
 * Results published this long before the connection was lost are published again when it comes back (see
 * the module comment). Counted back from the loss, not from the reconnect: a Redis down for minutes and
 * restarted from an AOF that missed its last second must still get that second's results.
 */
export const REPUBLISH_WINDOW_MS = 60_000;
/** At most this many are kept for it (the oldest go first). */
export const REPUBLISH_MAX = 5_000;

/** Name of every job on the results queue. */
export const RESULT_JOB_NAME = 'result';

/** Results jobs are kept a while for debugging, then removed so Redis does not grow. */
const RESULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 3_600, count: 10_000 },
  removeOnFail: { age: 7 * 86_400, count: 10_000 },
};

export interface ResultPublisherOptions {
  /** Shared connection (BullMQ does not close a connection it was given). */
  redis: Redis;
  prefix: string;
  /** The agent's region: its results go to `results.<region>`. */
  region: string;
  logger: Logger;
  metrics: Pick<AgentMetrics, 'resultsSpooled' | 'resultsSpooledDropped' | 'spoolBytes' | 'resultsRepublished'>;
  /**
   * Where results wait while Redis is away (a disk spool from disk-spool.ts survives a restart).
   * @defaultValue in memory, `spoolCapacity` results
   */
  spool?: ResultSpool;
  /** Results kept in memory while Redis is away, without `spool`; the oldest are dropped beyond it. @defaultValue 10000 */
  spoolCapacity?: number;
  /** Bound on one write to Redis before the result is spooled instead. @defaultValue 2000 */
  publishTimeoutMs?: number;
  /** How often a non-empty spool retries. @defaultValue 1000 */
  flushIntervalMs?: number;
  /** Results Redis took this long before the connection was lost are published again on reconnect. @defaultValue {@link REPUBLISH_WINDOW_MS} */
  republishWindowMs?: number;
}

export type PublishOutcome = 'published' | 'spooled';

export class ResultPublisher {
  readonly #redis: Redis;
  readonly #queue: Queue;
  readonly #spool: ResultSpool;
  readonly #logger: Logger;
  readonly #metrics: ResultPublisherOptions['metrics'];
  readonly #timeoutMs: number;
  readonly #timer: NodeJS.Timeout;
  readonly #republishWindowMs: number;
  readonly #onReady = (): void => { void this.#republish().finally(() => this.flush()); };
  /** When a ready connection was last lost (0: connected, or never connected). */
  #lostAt = 0;
  readonly #onClose = (): void => { if (this.#lostAt === 0 && this.#connectedBefore) this.#lostAt = Date.now(); };
  #flushing: Promise<void> | undefined;
  #batch: Array<{ result: RunResult; resolve: (outcome: PublishOutcome) => void }> = [];
  #batchScheduled = false;
  #spoolingSince = 0;
  /** Results published in the last republish window, oldest first, with when. */
  #recent: Array<{ at: number; result: RunResult }> = [];
  /** Results being published again, by job id: when Redis first took each. */
  #republishedAt = new Map<string, number>();
  #connectedBefore = false;

  constructor(options: ResultPublisherOptions) {
    this.#redis = options.redis;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#timeoutMs = options.publishTimeoutMs ?? 2_000;
    this.#republishWindowMs = options.republishWindowMs ?? REPUBLISH_WINDOW_MS;
    this.#spool = options.spool ?? memoryResultSpool(options.spoolCapacity ?? 10_000, (count, reason) => this.countDrops(count, reason));
    this.#queue = new Queue(resultsQueueName(options.region), { connection: options.redis, prefix: options.prefix, defaultJobOptions: RESULT_JOB_OPTIONS });
    const logQueueError = throttledErrorLog(this.#logger, 'results_queue.error');
    this.#queue.on('error', (error) => logQueueError(error));
    this.#connectedBefore = options.redis.status === 'ready';
    this.#redis.on('ready', this.#onReady);
    this.#redis.on('close', this.#onClose);
    this.#timer = setInterval(() => { if (this.#spool.size > 0) void this.flush(); }, options.flushIntervalMs ?? 1_000);
    this.#timer.unref();
    // A disk spool may hold results from before a restart: they show, and go first.
    this.#gauge();
  }

  /** Results waiting for Redis. */
  get spooled(): number { return this.#spool.size; }

  /** Counts results a spool bound dropped (disk spools report theirs here too). */
  countDrops(count: number, reason: DropReason): void {
    if (count <= 0) return;
    this.#metrics.resultsSpooledDropped.inc({ reason }, count);
    this.#logger.warn('spool.dropped', { count, reason });
  }

  /** Writes `result` (already validated) or spools it. Never rejects. */
  async publish(result: RunResult): Promise<PublishOutcome> {
    // Behind a non-empty spool, so results reach the coordinator in the order they were made.
    if (this.#spool.size > 0 || this.#flushing || this.#redis.status !== 'ready') {
      await this.#enspool([result], `redis connection is ${this.#redis.status}`);
      void this.flush();
      return 'spooled';
    }
    return new Promise((resolve) => {
      this.#batch.push({ result, resolve });
      if (!this.#batchScheduled) {
        this.#batchScheduled = true;
        setImmediate(() => { void this.#sendBatch(); });
      }
    });
  }

  /** Results published in one turn of the event loop go to Redis in one round trip (addBulk). */
  async #sendBatch(): Promise<void> {
    this.#batchScheduled = false;
    const batch = this.#batch;
    this.#batch = [];
    try {
      await withTimeout(
        this.#queue.addBulk(batch.map(({ result }) => ({ name: RESULT_JOB_NAME, data: result, opts: { ...RESULT_JOB_OPTIONS, jobId: resultJobId(result) } }))),
        this.#timeoutMs, 'result publish',
      );
      this.#published(batch.map(({ result }) => result));
      for (const { resolve } of batch) resolve('published');
    } catch (error) {
      await this.#enspool(batch.map(({ result }) => result), error instanceof Error ? error.message : String(error));
      for (const { resolve } of batch) resolve('spooled');
    }
  }

  /** Writes spooled results while Redis takes them. Concurrent calls share one flush. */
  flush(): Promise<void> {
    this.#flushing ??= this.#flushSpool().finally(() => { this.#flushing = undefined; });
    return this.#flushing;
  }

  /** Stops the retry timer, tries a last bounded flush, and closes the queue. Returns results left unsent. */
  async close(timeoutMs: number): Promise<number> {
    clearInterval(this.#timer);
    this.#redis.off('ready', this.#onReady);
    this.#redis.off('close', this.#onClose);
    try {
      await withTimeout(this.flush(), timeoutMs, 'final spool flush');
    } catch (error) {
      this.#logger.warn('spool.final_flush_failed', { error });
    }
    const unsent = this.#spool.size;
    if (unsent > 0 && this.#spool.kind === 'disk') this.#logger.warn('spool.kept', { unsent, note: 'sent when the agent runs again with this --spool-dir' });
    else if (unsent > 0) this.#logger.error('spool.lost', { unsent, note: 'results still spooled in memory at shutdown are lost' });
    await this.#spool.close();
    try {
      await withTimeout(this.#queue.close(), timeoutMs, 'results queue close');
    } catch (error) {
      this.#logger.warn('results_queue.close_failed', { error });
    }
    return unsent;
  }

  async #flushSpool(): Promise<void> {
    while (this.#spool.size > 0 && this.#redis.status === 'ready') {
      const batch = await this.#spool.oldest();
      if (!batch) break;
      try {
        await withTimeout(
          this.#queue.addBulk(batch.results.map((result) => ({ name: RESULT_JOB_NAME, data: result, opts: { ...RESULT_JOB_OPTIONS, jobId: resultJobId(result) } }))),
          this.#timeoutMs, 'spool flush',
        );
      } catch (error) {
        this.#gauge();
        this.#logger.warn('spool.flush_failed', { spooled: this.#spool.size, error });
        return;
      }
      await this.#spool.remove(batch);
      this.#published(batch.results);
      this.#gauge();
    }
    if (this.#spool.size === 0 && this.#spoolingSince > 0) {
      this.#logger.info('spool.flushed', { spooledForMs: Date.now() - this.#spoolingSince });
      this.#spoolingSince = 0;
    }
  }

  async #enspool(results: RunResult[], why: string): Promise<void> {
    if (this.#spoolingSince === 0) {
      this.#spoolingSince = Date.now();
      this.#logger.warn('spool.started', { reason: why, spool: this.#spool.kind });
    }
    try {
      await this.#spool.add(results);
    } catch (error) {
      // The disk is full or gone: these results cannot be kept, and say so.
      this.countDrops(results.length, 'unwritable');
      this.#logger.error('spool.write_failed', { count: results.length, error });
    }
    this.#gauge();
  }

  /**
   * Remembers results Redis took, for {@link #republish}. A result published again keeps the time Redis
   * first took it, so a connection that drops every few seconds does not send the same results out again
   * at every reconnect (nor ever keep them in the window).
   */
  #published(results: readonly RunResult[]): void {
    const now = Date.now();
    for (const result of results) {
      const id = resultJobId(result);
      const firstAt = this.#republishedAt.get(id);
      this.#republishedAt.delete(id);
      this.#recent.push({ at: firstAt ?? now, result });
    }
    const kept = this.#recent.filter((entry) => now - entry.at <= this.#republishWindowMs);
    this.#recent = kept.length > REPUBLISH_MAX ? kept.slice(kept.length - REPUBLISH_MAX) : kept;
  }

  /** On a reconnect (not the first connect): the recent results go out again, through the spool. */
  async #republish(): Promise<void> {
    const first = !this.#connectedBefore;
    this.#connectedBefore = true;
    const lostAt = this.#lostAt === 0 ? Date.now() : this.#lostAt;
    this.#lostAt = 0;
    const againEntries = this.#recent.filter((entry) => lostAt - entry.at <= this.#republishWindowMs);
    const again = againEntries.map((entry) => entry.result);
    this.#recent = [];
    this.#republishedAt = new Map(againEntries.map((entry) => [resultJobId(entry.result), entry.at]));
    if (first || again.length === 0) return;
    this.#metrics.resultsRepublished.inc(again.length);
    this.#logger.info('results.republished', { count: again.length, note: 'a failover or restart may have lost them; what survived is not added twice' });
    await this.#enspool(again, 'republishing after a reconnect');
  }

  #gauge(): void {
    this.#metrics.resultsSpooled.set(this.#spool.size);
    this.#metrics.spoolBytes.set(this.#spool.bytes);
  }
}
