/**
 * Sending: the worker of the alerts queue. Each job is one event for one channel; it is checked against
 * the sent-marker (a late duplicate of a sent delivery is skipped), and for `latest-state` channels
 * (PagerDuty, Alertmanager) sends of one thread are serialised and an event a newer one superseded is
 * skipped (threads.ts). A failure the receiver may recover from is retried with backoff (`Retry-After`
 * honoured); a permanent one, or the last attempt, makes the job a dead letter.
 */
import { randomUUID } from 'node:crypto';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { WORKER_RECOVERY } from '../../lib/redis.ts';
import { ALERTS_QUEUE, sentMarkerKey } from '../../checks/keys.ts';
import { describeZodError } from '../../lib/zod-problems.ts';
import { parseAlertEvent } from '../events/catalog.ts';
import { viewEvent, type AnyAlertEvent } from '../events/view.ts';
import { moduleFor, type ChannelConfig } from './channels/index.ts';
import { retryDelayMs, type RetryPolicy } from './channels/retry.ts';
import type { SendFailureCode } from './channels/types.ts';
import type { DeliveryContext } from './context.ts';
import { DeliveryJobData, type DeliveryResult } from './handoff.ts';

/** How long a send of a `latest-state` thread waits before trying for the thread's lock again. */
const LOCK_RETRY_MS = 100;
/** How long a thread lock outlives the send's own deadline (a worker that died holding it frees it then). */
const LOCK_MARGIN_MS = 5_000;

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

/** Starts the worker that sends queued deliveries. */
export function startSender(ctx: DeliveryContext, options: { connection: Redis; concurrency: number; retry: RetryPolicy }): Worker<DeliveryJobData, DeliveryResult> {
  async function processDelivery(job: Job<DeliveryJobData, DeliveryResult>, token: string | undefined, signal: AbortSignal | undefined): Promise<DeliveryResult> {
    const jobId = job.id ?? '';
    const data = DeliveryJobData.safeParse(job.data);
    if (!data.success) throw new UnrecoverableError(`INVALID_JOB: ${describeZodError(data.error, 'data').join('; ')}`);
    const event = parseAlertEvent(data.data.event);
    if (!event.success) throw new UnrecoverableError(`INVALID_JOB: ${describeZodError(event.error, 'data.event').join('; ')}`);
    const channel = ctx.byName.get(data.data.channel);
    if (!channel) {
      ctx.count(data.data.channel, 'failed');
      ctx.log.error('delivery.dead_letter', { deliveryId: jobId, channel: data.data.channel, code: 'CHANNEL_UNKNOWN' });
      throw new UnrecoverableError(`CHANNEL_UNKNOWN: no channel named "${data.data.channel}" is configured any more`);
    }
    if (await ctx.redis.exists(sentMarkerKey(ctx.prefix, jobId))) {
      ctx.count(channel.name, 'duplicate');
      return { status: 'already-sent' };
    }

    const module = moduleFor(channel);
    const view = viewEvent(event.data);
    const ordered = module.ordering === 'latest-state' && view.thread !== null && view.position !== null;
    const lockToken = randomUUID();
    if (ordered) {
      const superseded = await supersededBy(view.thread!, channel.name, view.position!);
      if (superseded !== null) {
        ctx.count(channel.name, 'superseded');
        ctx.log.info('delivery.superseded', { deliveryId: jobId, channel: channel.name, eventId: event.data.id, by: superseded });
        return { status: 'superseded', by: superseded };
      }
      if (!(await ctx.threads.lock(view.thread!, channel.name, lockToken, channel.timeoutMs + LOCK_MARGIN_MS))) {
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
          ctx.count(channel.name, 'superseded');
          return { status: 'superseded', by: superseded };
        }
      }
      return await sendOnce(job, token, signal, channel, event.data);
    } finally {
      if (ordered) {
        await ctx.threads.unlock(view.thread!, channel.name, lockToken)
          .catch((error: unknown) => ctx.log.warn('delivery.unlock_failed', { deliveryId: jobId, error }));
      }
    }
  }

  /** The newer position queued for this thread and channel, or null when this event is the newest. */
  async function supersededBy(thread: string, channel: string, position: number): Promise<number | null> {
    const latest = await ctx.threads.latest(thread, channel);
    return latest !== null && latest > position ? latest : null;
  }

  async function sendOnce(
    job: Job<DeliveryJobData, DeliveryResult>, token: string | undefined, signal: AbortSignal | undefined,
    channel: ChannelConfig, event: AnyAlertEvent,
  ): Promise<DeliveryResult> {
    const jobId = job.id ?? '';
    const module = moduleFor(channel);
    const context = { deliveryId: jobId, now: Date.now(), ...(ctx.dashboardUrl ? { dashboardUrl: ctx.dashboardUrl } : {}) };
    const request = module.buildPayload(event, channel, context);
    const outcome = await module.send(request, channel, { signal: signal ?? new AbortController().signal, dispatcher: ctx.dispatcher });
    const fields = { deliveryId: jobId, channel: channel.name, eventId: event.id, attempt: job.attemptsMade + 1 };

    if (outcome.ok) {
      // Best effort: if this write fails, the completed job (kept as long) still blocks re-adds.
      await ctx.redis.set(sentMarkerKey(ctx.prefix, jobId), String(Date.now()), 'EX', ctx.sentTtlSeconds, 'NX')
        .catch((error: unknown) => ctx.log.error('delivery.sent_marker_failed', { ...fields, error }));
      ctx.count(channel.name, 'sent');
      ctx.log.info('delivery.sent', { ...fields, status: outcome.status });
      return { status: 'sent', httpStatus: outcome.status, at: Date.now() };
    }

    if (outcome.code === 'ABORTED' && ctx.stopping()) {
      // Shutting down: hand the job back without using up an attempt.
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    const lastAttempt = !outcome.retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    ctx.count(channel.name, lastAttempt ? 'failed' : 'retry');
    if (lastAttempt) {
      ctx.log.error('delivery.dead_letter', { ...fields, code: outcome.code, message: outcome.message });
      throw new UnrecoverableError(`${outcome.code}: ${outcome.message}`);
    }
    ctx.log.warn('delivery.attempt_failed', { ...fields, code: outcome.code, message: outcome.message });
    throw new SendAttemptError(outcome.code, outcome.message, outcome.retryAfterMs);
  }

  const worker = new Worker<DeliveryJobData, DeliveryResult>(ALERTS_QUEUE, (job, token, signal) => processDelivery(job, token, signal), {
    connection: options.connection,
    prefix: ctx.prefix,
    concurrency: options.concurrency,
    ...WORKER_RECOVERY,
    settings: {
      backoffStrategy: (attemptsMade, _type, error) =>
        retryDelayMs(attemptsMade, options.retry, error instanceof SendAttemptError ? error.retryAfterMs : undefined),
    },
  });
  worker.on('error', (error) => ctx.log.error('delivery.worker_error', { error }));
  return worker;
}
