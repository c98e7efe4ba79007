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
import { Queue } from 'bullmq';
import { Counter, type Registry as MetricsRegistry } from 'prom-client';
import { Agent } from 'undici';
import { ALERTS_QUEUE, DEFAULT_PREFIX } from '../../checks/keys.ts';
import { settlesWithin } from '../../lib/bounded.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { connectRedis, type RedisTarget } from '../../lib/redis.ts';
import type { AlertEvent } from '../events/events.ts';
import type { AnyAlertEvent } from '../events/view.ts';
import { readCheckTags } from '../registry/store.ts';
import { parseChannelConfigs, type ChannelConfig } from './channels/index.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './channels/retry.ts';
import { DeliveryError, type DeliveryContext, type DeliveryOutcome } from './context.ts';
import { listDeadLetters, retryDeadLetter, type DeadLetter } from './dead-letters.ts';
import { createHandoff, type DeliveryJobData, type DeliveryResult } from './handoff.ts';
import { everythingTo, parseRoutes, usesTags, type Routes } from './routing.ts';
import { startSender } from './sender.ts';
import { DeliveryThreads } from './threads.ts';

export type { DeadLetter } from './dead-letters.ts';
export { DeliveryError, type DeliveryErrorCode } from './context.ts';
export { deliveryJobId } from './handoff.ts';

export const DELIVERIES_METRIC = 'lookout_alert_deliveries_total';

const DAY_S = 86_400;
/** How long a worker that was told to cancel its sends may take to hand the jobs back. */
const CANCEL_GRACE_MS = 2_000;

export interface DeliveryOptions {
  /** Redis: a `redis://` / `rediss://` URL, or a target with TLS files (lib/redis.ts `RedisTarget`). */
  connection: string | RedisTarget;
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
   * @defaultValue the check's tags in the registry (registry/store.ts `readCheckTags`; `[]` when it is gone)
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
  registry?: MetricsRegistry;
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
  /** Whether the sending worker runs (for `/readyz`). */
  isRunning(): boolean;
  /** Stops the worker (bounded: in-flight sends get `stopGraceMs`, then are cancelled) and closes connections. */
  stop(): Promise<void>;
  /** Dead letters, newest first. */
  listDeadLetters(options?: { start?: number; end?: number }): Promise<DeadLetter[]>;
  /** Sends a dead letter again with a fresh set of attempts. */
  retryDeadLetter(deliveryId: string): Promise<void>;
}

export function createDelivery(options: DeliveryOptions): Delivery {
  const { channels, routes } = validateChannels(options);
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const log = options.logger ?? createLogger();
  const counter = deliveriesCounter(options.registry);
  const stopGraceMs = options.stopGraceMs ?? 5_000;

  // BullMQ's connections are made from this one (its worker duplicates it), so they get the same
  // settings as every other Lookout connection (lib/redis.ts): bounded back-off, Sentinel, the watchdog.
  const bullConnection = connectRedis(options.connection, { name: 'lookout-delivery-bullmq', logger: log, blocking: true });
  const queue = new Queue<DeliveryJobData, DeliveryResult, string>(ALERTS_QUEUE, { connection: bullConnection, prefix });
  queue.on('error', (error) => log.error('delivery.queue_error', { error }));
  const redis = connectRedis(options.connection, { name: 'lookout-delivery', logger: log });
  let stopping: Promise<void> | null = null;
  const ctx: DeliveryContext = {
    byName: new Map(channels.map((channel) => [channel.name, channel])),
    routes,
    routesUseTags: usesTags(routes),
    checkTags: options.checkTags ?? ((checkId) => readCheckTags(redis, prefix, checkId)),
    prefix, redis, queue, log,
    threads: new DeliveryThreads(redis, prefix, options.threadTtlSeconds ?? 30 * DAY_S),
    dispatcher: new Agent(),
    count: (channel: string, outcome: DeliveryOutcome) => counter?.inc({ channel, outcome }),
    sentTtlSeconds: options.sentMarkerTtlSeconds ?? 7 * DAY_S,
    deadLetterTtlSeconds: options.deadLetterTtlSeconds ?? 30 * DAY_S,
    dashboardUrl: options.dashboardUrl,
    stopping: () => stopping !== null,
  };
  const handoff = createHandoff(ctx);
  const retry: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  let worker: ReturnType<typeof startSender> | null = null;

  return {
    channels,
    routes,
    deliver: (event) => handoff.deliver(event),
    channelsFor: (event) => handoff.chooseChannels(event),

    async start() {
      if (stopping) throw new DeliveryError('DELIVERY_STOPPED', 'delivery is stopped');
      if (worker) return;
      worker = startSender(ctx, { connection: bullConnection, concurrency: options.concurrency ?? 4, retry });
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
        const closed = Promise.allSettled([queue.close().then(() => bullConnection.quit()), redis.quit(), ctx.dispatcher.destroy()]);
        if (!(await settlesWithin(closed, CANCEL_GRACE_MS))) {
          // Redis unreachable: graceful QUITs would wait for a reconnect that may never come.
          log.warn('delivery.stop_disconnecting', { waitedMs: CANCEL_GRACE_MS });
          redis.disconnect();
          await settlesWithin(queue.disconnect(), CANCEL_GRACE_MS);
          bullConnection.disconnect();
        }
      })();
      return stopping;
    },

    isRunning: () => worker !== null && stopping === null && worker.isRunning(),
    listDeadLetters: (range) => listDeadLetters(queue as unknown as Queue, range),
    retryDeadLetter: (deliveryId) => retryDeadLetter(queue as unknown as Queue, deliveryId),
  };
}

/** The channels and routes of the options, validated; every problem at once in a {@link DeliveryError}. */
function validateChannels(options: Pick<DeliveryOptions, 'channels' | 'routes'>): { channels: ChannelConfig[]; routes: Routes } {
  const parsed = parseChannelConfigs(options.channels);
  if (!parsed.ok) {
    throw new DeliveryError('INVALID_CHANNEL_CONFIG', `invalid alert channel config:\n  ${parsed.problems.join('\n  ')}`, parsed.problems);
  }
  const names = parsed.channels.map((channel) => channel.name);
  if (options.routes === undefined) return { channels: parsed.channels, routes: everythingTo(names) };
  const parsedRoutes = parseRoutes(options.routes, names);
  if (!parsedRoutes.ok) {
    throw new DeliveryError('INVALID_ROUTES', `invalid alert routes:\n  ${parsedRoutes.problems.join('\n  ')}`, parsedRoutes.problems);
  }
  return { channels: parsed.channels, routes: parsedRoutes.routes };
}

function deliveriesCounter(registry: MetricsRegistry | undefined): Counter<'channel' | 'outcome'> | undefined {
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
