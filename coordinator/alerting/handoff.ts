/**
 * Handing alert events to delivery: routing picks the channels of an event (routing.ts), plus those that
 * got an earlier event of its thread (threads.ts), and each (event, channel) becomes one job of the
 * alerts queue, with an id derived from both, so a repeated hand-off adds nothing (see delivery.ts for
 * why each receiver then sees each event once).
 */
import { z } from 'zod';
import { describeZodError } from '../../lib/zod-problems.ts';
import { parseAlertEvent } from '../events/catalog.ts';
import { checkIdOf, viewEvent, type AnyAlertEvent } from '../events/view.ts';
import { moduleFor } from './channels/index.ts';
import { ChannelName } from './channels/types.ts';
import { DeliveryError, type DeliveryContext } from './context.ts';
import { route, routableEvent } from './routing.ts';
import { sentMarkerKey } from '../../checks/keys.ts';

export const DELIVERY_JOB_SCHEMA_VERSION = 1 as const;
/** BullMQ backoff type of delivery jobs; the sender's worker computes its delays (channels/retry.ts). */
export const BACKOFF_TYPE = 'lookout-delivery';

/** The event is validated on its own, with its type's schema (parseAlertEvent). */
export const DeliveryJobData = z.object({
  schemaVersion: z.literal(DELIVERY_JOB_SCHEMA_VERSION),
  channel: ChannelName,
  event: z.unknown(),
});
export type DeliveryJobData = z.infer<typeof DeliveryJobData>;
export type DeliveryResult =
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

export interface Handoff {
  deliver(input: AnyAlertEvent): Promise<void>;
  chooseChannels(event: AnyAlertEvent): Promise<string[]>;
}

export function createHandoff(ctx: DeliveryContext): Handoff {
  const { byName, routes, routesUseTags, redis, queue, threads, prefix, log } = ctx;

  /** Routes first, then the channels that got an earlier event of the incident (or, for a recovery, of the agent). */
  async function chooseChannels(event: AnyAlertEvent): Promise<string[]> {
    const checkId = checkIdOf(event);
    const tags = routesUseTags && checkId !== null ? await ctx.checkTags(checkId) : [];
    const chosen = route(routableEvent(event, tags), routes);
    const view = viewEvent(event);
    if (view.thread !== null && (view.kind === 'incident' || !view.firing)) {
      for (const name of await threads.channels(view.thread)) if (!chosen.includes(name)) chosen.push(name);
    }
    // A channel removed from the configuration may still be remembered by a thread.
    return chosen.filter((name) => byName.has(name));
  }

  async function deliver(input: AnyAlertEvent): Promise<void> {
    if (ctx.stopping()) throw new DeliveryError('DELIVERY_STOPPED', 'delivery is stopped');
    const valid = parseAlertEvent(input);
    if (!valid.success) {
      // Dropped, not thrown: retrying cannot fix it, and a throw would block the outbox behind it.
      log.error('delivery.invalid_event', { eventId: (input as { id?: unknown } | null)?.id, problems: describeZodError(valid.error, 'event') });
      return;
    }
    const event = valid.data;
    if (byName.size === 0) return;
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
        removeOnComplete: { age: ctx.sentTtlSeconds, count: 10_000 },
        removeOnFail: { age: ctx.deadLetterTtlSeconds, count: 10_000 },
      },
    }]);
    if (jobs.length > 0) await queue.addBulk(jobs);
  }

  return { deliver, chooseChannels };
}
