/**
 * The shape every alert channel has (webhook, Slack, PagerDuty, Alertmanager, email): a config
 * schema, a pure payload builder that tests can assert on, and a `send` that performs one attempt and
 * reports what happened. Channels know nothing about queues or retries: the delivery worker
 * (`coordinator/delivery.ts`) decides from the {@link SendOutcome} whether to retry.
 */
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import type { AnyAlertEvent } from '../../events/view.ts';

/** A channel name keys delivery job ids and metrics labels, so it is a short slug without `.` or `:`. */
export const ChannelName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be 1-64 chars of a-z, 0-9, "_" and "-", starting with a letter or digit');

/** Options every channel accepts, spread into each channel's config schema. */
export const ChannelCommonConfig = {
  /** Unique among all configured channels; shown in dead letters and metrics. */
  name: ChannelName,
  /**
   * Total send attempts for one event before the delivery becomes a dead letter.
   * @defaultValue 8
   */
  attempts: z.number().int().min(1).max(50).default(8),
  /**
   * Deadline of one attempt, from connecting to reading the response.
   * @defaultValue 10000
   */
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
};

/** What a channel sends for one attempt. HTTP channels send `body` with `headers`. */
export interface ChannelRequest {
  headers: Record<string, string>;
  body: string;
}

/** Inputs of a payload builder besides the event, so that the builder stays pure. */
export interface PayloadContext {
  /** Stable id of this (event, channel) delivery; the same for every attempt. */
  deliveryId: string;
  /** Epoch ms of this attempt (`sentAt`, signature timestamps). */
  now: number;
  /**
   * Base URL of the Lookout dashboard as people reach it, for links in messages (Slack buttons,
   * PagerDuty links, Alertmanager `generatorURL`). No trailing slash.
   * @defaultValue undefined (messages carry no links; Alertmanager gets no `generatorURL`)
   */
  dashboardUrl?: string;
}

/** What one `send` needs besides the request and the config. */
export interface SendContext {
  /** Aborted when the worker shuts down; `send` must stop promptly and report `ABORTED`. */
  signal: AbortSignal;
  /** The delivery's own HTTP connection pool, closed when delivery stops. */
  dispatcher: Dispatcher;
}

/**
 * Why an attempt failed, as a stable code.
 * - `RECEIVER_REJECTED`: the receiver refused the request for good (4xx other than 408/429; an SMTP
 *   5xx reply or failed authentication).
 * - `RECEIVER_UNAVAILABLE`: 5xx, 408 or 429 (an SMTP 4xx reply); worth retrying.
 * - `UNEXPECTED_REDIRECT`: 3xx; webhooks do not follow redirects (the body would be re-sent elsewhere).
 * - `TIMEOUT`: the attempt's own deadline passed.
 * - `NETWORK_ERROR`: DNS, connect, reset, TLS...; worth retrying.
 * - `ABORTED`: the worker is shutting down; the attempt does not count.
 */
export type SendFailureCode =
  | 'RECEIVER_REJECTED' | 'RECEIVER_UNAVAILABLE' | 'UNEXPECTED_REDIRECT' | 'TIMEOUT' | 'NETWORK_ERROR' | 'ABORTED';

export type SendOutcome =
  /** `status`: the HTTP status, or the SMTP reply code for email. */
  | { ok: true; status: number }
  | {
    ok: false;
    code: SendFailureCode;
    /** Whether another attempt could succeed. */
    retryable: boolean;
    /** Human-readable, with the status and the start of the response body when there is one. */
    message: string;
    status?: number;
    /** What the receiver asked for (`Retry-After`), in ms from now; the worker caps it. */
    retryAfterMs?: number;
  };

/**
 * How the delivery worker orders sends of one incident (or one agent's offline/online pair) to a channel.
 * - `every-event`: every event is a message of its own (webhook, Slack, email); each is sent, even late.
 * - `latest-state`: the receiver keeps the state of an alert keyed by its id (PagerDuty `dedup_key`,
 *   Alertmanager labels), so an older event must never land after a newer one: sends of one thread are
 *   serialised, and an event whose thread already has a newer one queued is skipped as superseded.
 */
export type ChannelOrdering = 'every-event' | 'latest-state';

/**
 * One alert channel. `Config` is the validated config, including `type` and the common options
 * ({@link ChannelCommonConfig}); `Request` is what one attempt sends ({@link ChannelRequest} for HTTP).
 */
export interface ChannelModule<Config extends { type: string; name: string; attempts: number; timeoutMs: number }, Request = ChannelRequest> {
  type: Config['type'];
  ordering: ChannelOrdering;
  /** Validates one config entry (input: what the user wrote; output: with defaults applied). */
  configSchema: z.ZodType<Config, unknown>;
  /**
   * Pure: the same event, config and context always give the same request. Any event type must be
   * accepted, including types added after the channel was written (rendered generically).
   */
  buildPayload(event: AnyAlertEvent, config: Config, context: PayloadContext): Request;
  /** One attempt. Never throws for anything the receiver or the network does: it reports an outcome. */
  send(request: Request, config: Config, context: SendContext): Promise<SendOutcome>;
}
