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
 * This holds for every channel type: jobs, markers and retries know nothing of the channel. Email has
 * its own duplicate guard for receivers (a stable `Message-ID`), PagerDuty and Alertmanager are
 * idempotent by `dedup_key` and labels.
 *
 * Routing ({@link DeliveryOptions.routes}, routing.ts) picks the channels of each event when it is
 * handed over; the channels that got an earlier event of the same incident (or agent) are added, so
 * an incident's resolution reaches everyone who was told it opened. For `latest-state` channels
 * (PagerDuty, Alertmanager) sends of one incident are serialised and an event that a newer one
 * superseded is skipped (delivery-threads.ts), so a late retry never re-opens a resolved alert.
 *
 * A delivery that fails for good (4xx, or every attempt used) stays in the queue's failed set: those
 * are the dead letters, listed by {@link Delivery.listDeadLetters} and re-sent by
 * {@link Delivery.retryDeadLetter} (or `GET /api/alerts/dead-letters`, `POST .../:id/retry`).
 */
import { settlesWithin } from '../../lib/bounded.ts';
import { randomUUID } from 'node:crypto';
import { DelayedError, Queue, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import { Agent } from 'undici';
import { z } from 'zod';
import { StoredCheck } from '../../checks/contract.ts';
import { parseAlertEvent } from '../events/catalog.ts';
import { checkIdOf, viewEvent, type AnyAlertEvent } from '../events/view.ts';
import { moduleFor, parseChannelConfigs, type ChannelConfig } from './channels/index.ts';
import { describeZodError } from '../../lib/zod-problems.ts';
import { DEFAULT_RETRY_POLICY, retryDelayMs, type RetryPolicy } from './channels/retry.ts';
import { ChannelName, type SendFailureCode } from './channels/types.ts';
import { listDeadLetters, retryDeadLetter, type DeadLetter } from './dead-letters.ts';
import { DeliveryThreads } from './threads.ts';
import { CodedError } from '../../lib/errors.ts';
import type { AlertEvent } from '../events/events.ts';
import { ALERTS_QUEUE, DEFAULT_PREFIX, registryKey, sentMarkerKey } from '../../checks/keys.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { everythingTo, parseRoutes, route, routableEvent, usesTags, type Routes } from './routing.ts';

export type { DeadLetter } from './dead-letters.ts';

export const DELIVERY_JOB_SCHEMA_VERSION = 1 as const;
export const DELIVERIES_METRIC = 'lookout_alert_deliveries_total';

const BACKOFF_TYPE = 'lookout-delivery';
const DAY_S = 86_400;
/** How long a worker that was told to cancel its sends may take to hand the jobs back. */
const CANCEL_GRACE_MS = 2_000;
/** How long a send of a `latest-state` thread waits before trying for the thread's lock again. */
const LOCK_RETRY_MS = 100;
/** How long a thread lock outlives the send's own deadline (a worker that died holding it frees it then). */
const LOCK_MARGIN_MS = 5_000;

/** Stable codes of the errors this module throws (dead-letter errors come from dead-letters.ts). */
export type DeliveryErrorCode = 'INVALID_CHANNEL_CONFIG' | 'INVALID_ROUTES' | 'DELIVERY_STOPPED';

export class DeliveryError extends CodedError<DeliveryErrorCode> {
  /** Every problem found, for `INVALID_CHANNEL_CONFIG` and `INVALID_ROUTES`. */
  readonly problems: string[];
  constructor(code: DeliveryErrorCode, message: string, problems: string[] = []) {
    super(code, message);
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
   * Channel configs as the user wrote them (`[{ type: 'webhook', name, url, secret?, timeoutMs?, attempts? }]`,
   * any type of channels/index.ts). Validated here; every problem is reported at once in a
   * {@link DeliveryError} `INVALID_CHANNEL_CONFIG`.
   */
  channels: unknown;
  /**
   * Which events go to which channels (routing.ts); validated here against `channels` (`INVALID_ROUTES`).
   * @defaultValue every event to every channel
   */
  routes?: unknown;
  /**
   * Base URL of the dashboard for links in alerts (no trailing slash).
   * @defaultValue undefined (no links)
   */
  dashboardUrl?: string;
  /**
   * Tags of a check, for routes that match on tags when the event does not carry them.
   * @defaultValue reads the check's definition from the registry in Redis (`tags: []` when it is gone)
   */
  checkTags?: (checkId: string) => Promise<readonly string[]>;
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
  /**
   * How long the per-incident (per-agent) routing and ordering state is kept after its last event.
   * @defaultValue 2592000 (30 days)
   */
  threadTtlSeconds?: number;
}

export interface Delivery {
  /** Validated channels, in configuration order. */
  readonly channels: readonly ChannelConfig[];
  /** Validated routes. */
  readonly routes: Routes;
  /**
   * Queues the event for every channel its routes (and its incident's earlier events) name; idempotent
   * per (event, channel). Rejects when Redis does or after `stop()` (the caller keeps the event and
   * hands it over again). An event that fails validation is logged (`delivery.invalid_event`) and
   * dropped, since handing it over again cannot help. Event types added after this module are accepted.
   */
  deliver(event: AlertEvent | AnyAlertEvent): Promise<void>;
  /** The channels `deliver` would choose for an event now (routes plus the incident's earlier channels). */
  channelsFor(event: AnyAlertEvent): Promise<string[]>;
  /** Starts the worker that sends queued deliveries. Idempotent. */
  start(): Promise<void>;
  /** Stops the worker (bounded: in-flight sends get `stopGraceMs`, then are cancelled) and closes connections. */
  stop(): Promise<void>;
  /** Dead letters, newest first. */
  listDeadLetters(options?: { start?: number; end?: number }): Promise<DeadLetter[]>;
  /** Sends a dead letter again with a fresh set of attempts. */
  retryDeadLetter(deliveryId: string): Promise<void>;
}

/** The event is validated on its own, with its type's schema (parseAlertEvent). */
const DeliveryJobData = z.object({
  schemaVersion: z.literal(DELIVERY_JOB_SCHEMA_VERSION),
  channel: ChannelName,
  event: z.unknown(),
});
type DeliveryJobData = z.infer<typeof DeliveryJobData>;
type DeliveryResult =
  | { status: 'sent'; httpStatus: number; at: number }
  | { status: 'already-sent' }
  /** A newer event of the same incident was queued for this `latest-state` channel; it carries the state. */
  | { status: 'superseded'; by: number };

/**
 * The id of the job (and of the delivery, sent as `x-lookout-delivery`) for one event on one channel:
 * `<channel>.<event id, URI-encoded>`. Channel names cannot contain `.`, and BullMQ ids cannot contain `:`.
 */
export function deliveryJobId(channelName: string, eventId: string): string {
  return `${channelName}.${encodeURIComponent(eventId)}`;
}


export function createDelivery(options: DeliveryOptions): Delivery {
  const parsed = parseChannelConfigs(options.channels);
  if (!parsed.ok) {
    throw new DeliveryError('INVALID_CHANNEL_CONFIG', `invalid alert channel config:\n  ${parsed.problems.join('\n  ')}`, parsed.problems);
  }
  const channels = parsed.channels;
  const byName = new Map(channels.map((channel) => [channel.name, channel]));
  let routes: Routes = everythingTo(channels.map((channel) => channel.name));
  if (options.routes !== undefined) {
    const parsedRoutes = parseRoutes(options.routes, [...byName.keys()]);
    if (!parsedRoutes.ok) {
      throw new DeliveryError('INVALID_ROUTES', `invalid alert routes:\n  ${parsedRoutes.problems.join('\n  ')}`, parsedRoutes.problems);
    }
    routes = parsedRoutes.routes;
  }
  const routesUseTags = usesTags(routes);
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const log = options.logger ?? createLogger();
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const stopGraceMs = options.stopGraceMs ?? 5_000;
  const sentTtl = options.sentMarkerTtlSeconds ?? 7 * DAY_S;
  const deadLetterTtl = options.deadLetterTtlSeconds ?? 30 * DAY_S;
  const counter = deliveriesCounter(options.registry);
  const count = (channel: string, outcome: 'sent' | 'retry' | 'failed' | 'duplicate' | 'superseded') => counter?.inc({ channel, outcome });

  // BullMQ's option type is a looser copy of ioredis's (it has `retryStrategy` without `null`).
  const bullConnection = (typeof options.connection === 'string' ? { url: options.connection } : options.connection) as ConnectionOptions;
  const queue = new Queue<DeliveryJobData, DeliveryResult, string>(ALERTS_QUEUE, { connection: bullConnection, prefix });
  queue.on('error', (error) => log.error('delivery.queue_error', { error }));
  const redis = typeof options.connection === 'string' ? new Redis(options.connection) : new Redis(options.connection);
  redis.on('error', (error) => log.error('delivery.redis_error', { error }));
  const dispatcher = new Agent();
  const threads = new DeliveryThreads(redis, prefix, options.threadTtlSeconds ?? 30 * DAY_S);
  const checkTags = options.checkTags ?? (async (checkId: string) => {
    const raw = await redis.hget(registryKey(prefix), checkId);
    if (raw === null) return [];
    try {
      const stored = StoredCheck.safeParse(JSON.parse(raw));
      return stored.success ? stored.data.definition.tags : [];
    } catch {
      return [];
    }
  });

  let worker: Worker<DeliveryJobData, DeliveryResult> | null = null;
  let stopping: Promise<void> | null = null;

  /** Routes first, then the channels that got an earlier event of the incident (or, for a recovery, of the agent). */
  async function chooseChannels(event: AnyAlertEvent): Promise<string[]> {
    const checkId = checkIdOf(event);
    const tags = routesUseTags && checkId !== null ? await checkTags(checkId) : [];
    const chosen = route(routableEvent(event, tags), routes);
    const view = viewEvent(event);
    if (view.thread !== null && (view.kind === 'incident' || !view.firing)) {
      for (const name of await threads.channels(view.thread)) if (!chosen.includes(name)) chosen.push(name);
    }
    // A channel removed from the configuration may still be remembered by a thread.
    return chosen.filter((name) => byName.has(name));
  }

  async function processDelivery(job: Job<DeliveryJobData, DeliveryResult>, token: string | undefined, signal: AbortSignal | undefined): Promise<DeliveryResult> {
    const jobId = job.id ?? '';
    const data = DeliveryJobData.safeParse(job.data);
    if (!data.success) throw new UnrecoverableError(`INVALID_JOB: ${describeZodError(data.error, 'data').join('; ')}`);
    const event = parseAlertEvent(data.data.event);
    if (!event.success) throw new UnrecoverableError(`INVALID_JOB: ${describeZodError(event.error, 'data.event').join('; ')}`);
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
    const view = viewEvent(event.data);
    const ordered = module.ordering === 'latest-state' && view.thread !== null && view.position !== null;
    const lockToken = randomUUID();
    if (ordered) {
      const superseded = await supersededBy(view.thread!, channel.name, view.position!);
      if (superseded !== null) {
        count(channel.name, 'superseded');
        log.info('delivery.superseded', { deliveryId: jobId, channel: channel.name, eventId: event.data.id, by: superseded });
        return { status: 'superseded', by: superseded };
      }
      if (!(await threads.lock(view.thread!, channel.name, lockToken, channel.timeoutMs + LOCK_MARGIN_MS))) {
        // Another send of this incident to this channel is in flight: come back shortly, without using an attempt.
        await job.moveToDelayed(Date.now() + LOCK_RETRY_MS, token);
        throw new DelayedError();
      }
    }
    try {
      if (ordered) {
        // Checked again under the lock: a newer event may have been queued while we waited.
        const superseded = await supersededBy(view.thread!, channel.name, view.position!);
        if (superseded !== null) {
          count(channel.name, 'superseded');
          return { status: 'superseded', by: superseded };
        }
      }
      return await sendOnce(job, token, signal, channel, event.data);
    } finally {
      if (ordered) {
        await threads.unlock(view.thread!, channel.name, lockToken)
          .catch((error: unknown) => log.warn('delivery.unlock_failed', { deliveryId: jobId, error }));
      }
    }
  }

  /** The newer position queued for this thread and channel, or null when this event is the newest. */
  async function supersededBy(thread: string, channel: string, position: number): Promise<number | null> {
    const latest = await threads.latest(thread, channel);
    return latest !== null && latest > position ? latest : null;
  }

  async function sendOnce(
    job: Job<DeliveryJobData, DeliveryResult>, token: string | undefined, signal: AbortSignal | undefined,
    channel: ChannelConfig, event: AnyAlertEvent,
  ): Promise<DeliveryResult> {
    const jobId = job.id ?? '';
    const module = moduleFor(channel);
    const context = { deliveryId: jobId, now: Date.now(), ...(options.dashboardUrl ? { dashboardUrl: options.dashboardUrl } : {}) };
    const request = module.buildPayload(event, channel, context);
    const outcome = await module.send(request, channel, { signal: signal ?? new AbortController().signal, dispatcher });
    const fields = { deliveryId: jobId, channel: channel.name, eventId: event.id, attempt: job.attemptsMade + 1 };

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
    routes,

    async deliver(input) {
      if (stopping) throw new DeliveryError('DELIVERY_STOPPED', 'delivery is stopped');
      const valid = parseAlertEvent(input);
      if (!valid.success) {
        // Dropped, not thrown: retrying cannot fix it, and a throw would block the outbox behind it.
        log.error('delivery.invalid_event', { eventId: (input as { id?: unknown } | null)?.id, problems: describeZodError(valid.error, 'event') });
        return;
      }
      const event = valid.data;
      if (channels.length === 0) return;
      const names = await chooseChannels(event);
      if (names.length === 0) {
        log.info('delivery.unrouted', { eventId: event.id, eventType: event.type });
        return;
      }
      const view = viewEvent(event);
      if (view.thread !== null && view.position !== null) {
        // Recorded before the jobs exist, so a worker can never see its job without the thread's newest position.
        const latestState = names.filter((name) => moduleFor(byName.get(name)!).ordering === 'latest-state');
        await threads.record(view.thread, names, latestState, view.position);
      }
      const ids = names.map((name) => deliveryJobId(name, event.id));
      const sent = await redis.mget(ids.map((id) => sentMarkerKey(prefix, id)));
      const jobs = names.flatMap((name, index) => sent[index] !== null ? [] : [{
        name: byName.get(name)!.type,
        data: { schemaVersion: DELIVERY_JOB_SCHEMA_VERSION, channel: name, event },
        opts: {
          jobId: ids[index],
          attempts: byName.get(name)!.attempts,
          backoff: { type: BACKOFF_TYPE },
          removeOnComplete: { age: sentTtl, count: 10_000 },
          removeOnFail: { age: deadLetterTtl, count: 10_000 },
        },
      }]);
      if (jobs.length > 0) await queue.addBulk(jobs);
    },

    channelsFor: (event) => chooseChannels(event),

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

    listDeadLetters: (range) => listDeadLetters(queue as unknown as Queue, range),
    retryDeadLetter: (deliveryId) => retryDeadLetter(queue as unknown as Queue, deliveryId),
  };
}

function deliveriesCounter(registry: Registry | undefined): Counter<'channel' | 'outcome'> | undefined {
  if (!registry) return undefined;
  const existing = registry.getSingleMetric(DELIVERIES_METRIC);
  if (existing) return existing as Counter<'channel' | 'outcome'>;
  return new Counter({
    name: DELIVERIES_METRIC,
    help: 'Alert delivery attempts by channel and outcome (sent, retry, failed, duplicate, superseded).',
    labelNames: ['channel', 'outcome'],
    registers: [registry],
  });
}

