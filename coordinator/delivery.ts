/**
 * Durable alert delivery: the coordinator hands every event it decided (at least once) to
 * {@link Delivery.deliver}; this module turns it into one BullMQ job per (event, channel) on the
 * `alerts` queue and a worker sends them with retries, so that each receiver gets each event once.
 *
 * Why a receiver sees an event once, though hand-offs and job runs are at least once:
 * 1. The job id is derived from (channel, event id) ({@link deliveryJobId}); BullMQ does not add a job
 *    whose id exists in any state, so concurrent or repeated hand-offs (two coordinators, a replayed
 *    outbox) create nothing while the first job is waiting, retrying, done or dead.
 * 2. After a successful send the worker writes a sent-marker (`<prefix>:deliveries:sent:<jobId>`,
 *    expiring after {@link DeliveryOptions.sentMarkerTtlSeconds}). Completed jobs are trimmed, so the
 *    marker is what still recognises a hand-off that arrives after its job was removed: `deliver`
 *    skips marked deliveries, and the worker checks the marker again before every send (the job may
 *    have been re-added between the two).
 * What remains is the gap no sender can close: a receiver that processed a request whose response was
 * lost (or a send cut by shutdown) gets it again on retry. The `x-lookout-delivery` header and the
 * `eventId` field let receivers drop that duplicate.
 *
 * A delivery that fails for good (4xx, or every attempt used) stays in the queue's failed set: those
 * are the dead letters, listed by {@link Delivery.listDeadLetters} and re-sent by
 * {@link Delivery.retryDeadLetter}.
 */
import { DelayedError, Queue, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import { Agent } from 'undici';
import { z } from 'zod';
import { DEFAULT_PREFIX, describeZodError } from '../checks/contract.ts';
import { AlertEventSchema } from './channels/event-schema.ts';
import { moduleFor, parseChannelConfigs, type ChannelConfig } from './channels/index.ts';
import { DEFAULT_RETRY_POLICY, retryDelayMs, type RetryPolicy } from './channels/retry.ts';
import { ChannelName, type SendFailureCode } from './channels/types.ts';
import { CoordinatorError } from './errors.ts';
import type { AlertEvent } from './events.ts';
import { createLogger, type Logger } from './log.ts';

/** The queue of (event, channel) deliveries. */
export const ALERTS_QUEUE = 'alerts';
export const DELIVERY_JOB_SCHEMA_VERSION = 1 as const;
export const DELIVERIES_METRIC = 'lookout_alert_deliveries_total';

const BACKOFF_TYPE = 'lookout-delivery';
const DAY_S = 86_400;
/** How long a worker that was told to cancel its sends may take to hand the jobs back. */
const CANCEL_GRACE_MS = 2_000;

/** Stable codes of the errors this module throws. */
export type DeliveryErrorCode =
  | 'INVALID_CHANNEL_CONFIG' | 'DELIVERY_STOPPED' | 'DEAD_LETTER_NOT_FOUND' | 'NOT_A_DEAD_LETTER';

export class DeliveryError extends CoordinatorError {
  declare readonly code: DeliveryErrorCode;
  /** Every problem found, for `INVALID_CHANNEL_CONFIG`. */
  readonly problems: string[];
  constructor(code: DeliveryErrorCode, message: string, problems: string[] = []) {
    super(code, message);
    this.name = 'DeliveryError';
    this.problems = problems;
  }
}

/** A failed attempt that may be retried; carries the receiver's `Retry-After` to the backoff. */
class SendAttemptError extends Error {
  readonly code: SendFailureCode;
  readonly retryAfterMs: number | undefined;
  constructor(code: SendFailureCode, message: string, retryAfterMs: number | undefined) {
    super(`${code}: ${message}`);
    this.name = 'SendAttemptError';
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

export interface DeliveryOptions {
  /** Redis: a `redis://` URL or ioredis options. BullMQ sets `maxRetriesPerRequest: null` for the worker itself. */
  connection: string | RedisOptions;
  /**
   * BullMQ key prefix; use a `{hash tag}` such as `{lookout}` on Redis Cluster.
   * @defaultValue 'lookout'
   */
  prefix?: string;
  /**
   * Channel configs as the user wrote them (`[{ type: 'webhook', name, url, secret?, timeoutMs?, attempts? }]`).
   * Validated here; every problem is reported at once in a {@link DeliveryError} `INVALID_CHANNEL_CONFIG`.
   */
  channels: unknown;
  /**
   * Where deliveries are logged (`delivery.sent`, `delivery.attempt_failed`, `delivery.dead_letter`, ...).
   * @defaultValue JSON lines on stdout (`createLogger()`)
   */
  logger?: Logger;
  /**
   * Registry for `lookout_alert_deliveries_total{channel,outcome}`; outcomes are `sent`, `retry`,
   * `failed` (became a dead letter) and `duplicate` (already sent, skipped).
   * @defaultValue undefined (no metrics)
   */
  registry?: Registry;
  /** Backoff between attempts; see {@link RetryPolicy} for each field's default. */
  retry?: Partial<RetryPolicy>;
  /**
   * Sends in flight at once per worker.
   * @defaultValue 4
   */
  concurrency?: number;
  /**
   * How long `stop()` lets in-flight sends finish before cancelling them (they are then handed back
   * to the queue without using up an attempt).
   * @defaultValue 5000
   */
  stopGraceMs?: number;
  /**
   * How long a successful delivery is remembered, so a late duplicate hand-off is not sent again.
   * @defaultValue 604800 (7 days)
   */
  sentMarkerTtlSeconds?: number;
  /**
   * How long dead letters are kept (they are trimmed when later deliveries fail).
   * @defaultValue 2592000 (30 days)
   */
  deadLetterTtlSeconds?: number;
}

/** A delivery that failed for good, as shown by the API. */
export interface DeadLetter {
  deliveryId: string;
  channel: string;
  eventId: string;
  eventType: string;
  attemptsMade: number;
  /** `CODE: message` of the last attempt, e.g. `RECEIVER_REJECTED: receiver answered 400 Bad Request: ...`. */
  lastError: string;
  failedAt: number | null;
}

export interface Delivery {
  /** Validated channels, in configuration order. */
  readonly channels: readonly ChannelConfig[];
  /**
   * Queues the event for every channel; idempotent per (event, channel). Rejects when Redis does or
   * after `stop()` (the caller keeps the event and hands it over again). An event that fails
   * validation is logged (`delivery.invalid_event`) and dropped, since handing it over again cannot help.
   */
  deliver(event: AlertEvent): Promise<void>;
  /** Starts the worker that sends queued deliveries. Idempotent. */
  start(): Promise<void>;
  /** Stops the worker (bounded: in-flight sends get `stopGraceMs`, then are cancelled) and closes connections. */
  stop(): Promise<void>;
  /** Dead letters, newest first. */
  listDeadLetters(options?: { start?: number; end?: number }): Promise<DeadLetter[]>;
  /** Sends a dead letter again with a fresh set of attempts. */
  retryDeadLetter(deliveryId: string): Promise<void>;
}

const DeliveryJobData = z.object({
  schemaVersion: z.literal(DELIVERY_JOB_SCHEMA_VERSION),
  channel: ChannelName,
  event: AlertEventSchema,
});
type DeliveryJobData = z.infer<typeof DeliveryJobData>;
type DeliveryResult = { status: 'sent'; httpStatus: number; at: number } | { status: 'already-sent' };

/**
 * The id of the job (and of the delivery, sent as `x-lookout-delivery`) for one event on one channel:
 * `<channel>.<event id, URI-encoded>`. Channel names cannot contain `.`, and BullMQ ids cannot contain `:`.
 */
export function deliveryJobId(channelName: string, eventId: string): string {
  return `${channelName}.${encodeURIComponent(eventId)}`;
}

export const sentMarkerKey = (prefix: string, jobId: string): string => `${prefix}:deliveries:sent:${jobId}`;

export function createDelivery(options: DeliveryOptions): Delivery {
  const parsed = parseChannelConfigs(options.channels);
  if (!parsed.ok) {
    throw new DeliveryError('INVALID_CHANNEL_CONFIG', `invalid alert channel config:\n  ${parsed.problems.join('\n  ')}`, parsed.problems);
  }
  const channels = parsed.channels;
  const byName = new Map(channels.map((channel) => [channel.name, channel]));
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const log = options.logger ?? createLogger();
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const stopGraceMs = options.stopGraceMs ?? 5_000;
  const sentTtl = options.sentMarkerTtlSeconds ?? 7 * DAY_S;
  const deadLetterTtl = options.deadLetterTtlSeconds ?? 30 * DAY_S;
  const counter = deliveriesCounter(options.registry);
  const count = (channel: string, outcome: 'sent' | 'retry' | 'failed' | 'duplicate') => counter?.inc({ channel, outcome });

  // BullMQ's option type is a looser copy of ioredis's (it has `retryStrategy` without `null`).
  const bullConnection = (typeof options.connection === 'string' ? { url: options.connection } : options.connection) as ConnectionOptions;
  const queue = new Queue<DeliveryJobData, DeliveryResult, string>(ALERTS_QUEUE, { connection: bullConnection, prefix });
  queue.on('error', (error) => log.error('delivery.queue_error', { error }));
  const redis = typeof options.connection === 'string' ? new Redis(options.connection) : new Redis(options.connection);
  redis.on('error', (error) => log.error('delivery.redis_error', { error }));
  const dispatcher = new Agent();

  let worker: Worker<DeliveryJobData, DeliveryResult> | null = null;
  let stopping: Promise<void> | null = null;

  async function processDelivery(job: Job<DeliveryJobData, DeliveryResult>, token: string | undefined, signal: AbortSignal | undefined): Promise<DeliveryResult> {
    const jobId = job.id ?? '';
    const data = DeliveryJobData.safeParse(job.data);
    if (!data.success) {
      throw new UnrecoverableError(`INVALID_JOB: ${describeZodError(data.error, 'data').join('; ')}`);
    }
    const channel = byName.get(data.data.channel);
    if (!channel) {
      count(data.data.channel, 'failed');
      log.error('delivery.dead_letter', { deliveryId: jobId, channel: data.data.channel, code: 'CHANNEL_UNKNOWN' });
      throw new UnrecoverableError(`CHANNEL_UNKNOWN: no channel named "${data.data.channel}" is configured any more`);
    }
    if (await redis.exists(sentMarkerKey(prefix, jobId))) {
      count(channel.name, 'duplicate');
      return { status: 'already-sent' };
    }

    const module = moduleFor(channel);
    const request = module.buildPayload(data.data.event, channel, { deliveryId: jobId, now: Date.now() });
    const outcome = await module.send(request, channel, { signal: signal ?? new AbortController().signal, dispatcher });
    const fields = { deliveryId: jobId, channel: channel.name, eventId: data.data.event.id, attempt: job.attemptsMade + 1 };

    if (outcome.ok) {
      // Best effort: if this write fails, the completed job (kept as long) still blocks re-adds.
      await redis.set(sentMarkerKey(prefix, jobId), String(Date.now()), 'EX', sentTtl, 'NX')
        .catch((error: unknown) => log.error('delivery.sent_marker_failed', { ...fields, error }));
      count(channel.name, 'sent');
      log.info('delivery.sent', { ...fields, status: outcome.status });
      return { status: 'sent', httpStatus: outcome.status, at: Date.now() };
    }

    if (outcome.code === 'ABORTED' && stopping) {
      // Shutting down: hand the job back without using up an attempt.
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    const lastAttempt = !outcome.retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    count(channel.name, lastAttempt ? 'failed' : 'retry');
    if (lastAttempt) {
      log.error('delivery.dead_letter', { ...fields, code: outcome.code, message: outcome.message });
      throw new UnrecoverableError(`${outcome.code}: ${outcome.message}`);
    }
    log.warn('delivery.attempt_failed', { ...fields, code: outcome.code, message: outcome.message });
    throw new SendAttemptError(outcome.code, outcome.message, outcome.retryAfterMs);
  }

  return {
    channels,

    async deliver(event) {
      if (stopping) throw new DeliveryError('DELIVERY_STOPPED', 'delivery is stopped');
      const valid = AlertEventSchema.safeParse(event);
      if (!valid.success) {
        // Dropped, not thrown: retrying cannot fix it, and a throw would block the outbox behind it.
        log.error('delivery.invalid_event', { eventId: (event as { id?: unknown } | null)?.id, problems: describeZodError(valid.error, 'event') });
        return;
      }
      if (channels.length === 0) return;
      const ids = channels.map((channel) => deliveryJobId(channel.name, valid.data.id));
      const sent = await redis.mget(ids.map((id) => sentMarkerKey(prefix, id)));
      const jobs = channels.flatMap((channel, index) => sent[index] !== null ? [] : [{
        name: channel.type,
        data: { schemaVersion: DELIVERY_JOB_SCHEMA_VERSION, channel: channel.name, event: valid.data },
        opts: {
          jobId: ids[index],
          attempts: channel.attempts,
          backoff: { type: BACKOFF_TYPE },
          removeOnComplete: { age: sentTtl, count: 10_000 },
          removeOnFail: { age: deadLetterTtl, count: 10_000 },
        },
      }]);
      if (jobs.length > 0) await queue.addBulk(jobs);
    },

    async start() {
      if (stopping) throw new DeliveryError('DELIVERY_STOPPED', 'delivery is stopped');
      if (worker) return;
      worker = new Worker<DeliveryJobData, DeliveryResult>(ALERTS_QUEUE, (job, token, signal) => processDelivery(job, token, signal), {
        connection: bullConnection,
        prefix,
        concurrency: options.concurrency ?? 4,
        settings: {
          backoffStrategy: (attemptsMade, _type, error) =>
            retryDelayMs(attemptsMade, policy, error instanceof SendAttemptError ? error.retryAfterMs : undefined),
        },
      });
      worker.on('error', (error) => log.error('delivery.worker_error', { error }));
      await worker.waitUntilReady();
    },

    stop() {
      stopping ??= (async () => {
        if (worker) {
          const closed = worker.close();
          if (!(await settlesWithin(closed, stopGraceMs))) {
            log.warn('delivery.stop_cancelling_sends', { graceMs: stopGraceMs });
            worker.cancelAllJobs('delivery stopping');
            if (!(await settlesWithin(closed, CANCEL_GRACE_MS))) {
              log.error('delivery.stop_worker_abandoned', { waitedMs: stopGraceMs + CANCEL_GRACE_MS });
            }
          }
        }
        const closed = Promise.allSettled([queue.close(), redis.quit(), dispatcher.destroy()]);
        if (!(await settlesWithin(closed, CANCEL_GRACE_MS))) {
          // Redis unreachable: graceful QUITs would wait for a reconnect that may never come.
          log.warn('delivery.stop_disconnecting', { waitedMs: CANCEL_GRACE_MS });
          redis.disconnect();
          await settlesWithin(queue.disconnect(), CANCEL_GRACE_MS);
        }
      })();
      return stopping;
    },

    async listDeadLetters({ start = 0, end = 99 } = {}) {
      const jobs = await queue.getFailed(start, end);
      return jobs.filter((job) => job !== undefined).map((job) => {
        const data = DeliveryJobData.safeParse(job.data);
        return {
          deliveryId: job.id ?? '',
          channel: data.success ? data.data.channel : String((job.data as { channel?: unknown } | null)?.channel ?? 'unknown'),
          eventId: data.success ? data.data.event.id : 'unknown',
          eventType: data.success ? data.data.event.type : 'unknown',
          attemptsMade: job.attemptsMade,
          lastError: job.failedReason ?? '',
          failedAt: job.finishedOn ?? null,
        };
      });
    },

    async retryDeadLetter(deliveryId) {
      const job = await queue.getJob(deliveryId);
      if (!job) throw new DeliveryError('DEAD_LETTER_NOT_FOUND', `no delivery with id "${deliveryId}"`);
      const state = await job.getState();
      if (state !== 'failed') throw new DeliveryError('NOT_A_DEAD_LETTER', `delivery "${deliveryId}" is ${state}, not failed`);
      try {
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      } catch (error) {
        // Lost a race with another retry: the job is no longer failed.
        throw new DeliveryError('NOT_A_DEAD_LETTER', `delivery "${deliveryId}" could not be retried: ${(error as Error).message}`);
      }
    },
  };
}

function deliveriesCounter(registry: Registry | undefined): Counter<'channel' | 'outcome'> | undefined {
  if (!registry) return undefined;
  const existing = registry.getSingleMetric(DELIVERIES_METRIC);
  if (existing) return existing as Counter<'channel' | 'outcome'>;
  return new Counter({
    name: DELIVERIES_METRIC,
    help: 'Alert delivery attempts by channel and outcome (sent, retry, failed, duplicate).',
    labelNames: ['channel', 'outcome'],
    registers: [registry],
  });
}

/** Whether `promise` settles within `ms` (it keeps running either way). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => { timer = setTimeout(resolve, ms, false); });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
