/**
 * Generic webhook channel: POSTs a versioned JSON document ({@link WebhookPayload}) to a URL,
 * signed with HMAC-SHA256 when a secret is configured.
 *
 * ## Headers
 * - `content-type: application/json`, `user-agent: Lookout-Webhook/1`
 * - `x-lookout-event`: the event type, e.g. `incident.opened`
 * - `x-lookout-delivery`: the delivery id, the same for every retry of one (event, channel); receivers
 *   can use it (or `eventId` in the body) to drop the rare duplicate that no sender can rule out
 *   (a response lost after the receiver processed the request)
 * - with a secret: `x-lookout-timestamp` (unix seconds) and `x-lookout-signature: sha256=<hex>`
 *
 * ## Verifying a delivery (receiver side)
 * 1. Read the raw request body as bytes, before any JSON parsing.
 * 2. `signed = x-lookout-timestamp + "." + rawBody`
 * 3. `expected = "sha256=" + hex(HMAC_SHA256(key = secret, message = signed))`
 * 4. Compare `expected` with `x-lookout-signature` in constant time (`crypto.timingSafeEqual`).
 * 5. Reject when the timestamp is more than 5 minutes away from your clock: the timestamp is signed,
 *    so this stops an attacker from replaying a captured delivery later.
 *
 * {@link verifyWebhookSignature} does exactly this in Node.
 */
import { isHttpUrl } from '../../../lib/urls.ts';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { AlertEventType } from '../../events/events.ts';
import { INCIDENT_EVENT_TYPES } from '../../events/events.ts';
import { viewEvent, type AnyAlertEvent } from '../../events/view.ts';
import { postOnce } from './http.ts';
import { evidenceOf, whyLine } from './evidence.ts';
import type { IncidentEvidence } from '../../detection/evidence.ts';
import { summarize } from '../../events/catalog.ts';
import { ChannelCommonConfig, type ChannelModule, type ChannelRequest, type PayloadContext } from './types.ts';

export const WEBHOOK_SCHEMA_VERSION = 1 as const;
export const WEBHOOK_USER_AGENT = 'Lookout-Webhook/1';
/** Default replay window of {@link verifyWebhookSignature}. */
export const DEFAULT_SIGNATURE_TOLERANCE_S = 300;

export const WebhookConfigSchema = z.strictObject({
  type: z.literal('webhook'),
  ...ChannelCommonConfig,
  /** Where deliveries are POSTed. */
  url: z.string().refine(isHttpUrl, 'must be an http(s) URL, like https://example.com/hooks/lookout'),
  /**
   * Shared secret for the HMAC-SHA256 signature; without it, deliveries are unsigned.
   * @defaultValue undefined (unsigned)
   */
  secret: z.string().min(16, 'must be at least 16 characters').optional(),
});
export type WebhookConfig = z.infer<typeof WebhookConfigSchema>;

interface WebhookPayloadBase {
  schemaVersion: typeof WEBHOOK_SCHEMA_VERSION;
  event: string;
  eventId: string;
  /** Same as the `x-lookout-delivery` header, but covered by the signature. */
  deliveryId: string;
  /** When the event happened (ISO 8601). */
  at: string;
  /** When this attempt was sent (ISO 8601). */
  sentAt: string;
  /** One line for people, e.g. `Homepage is down in eu-west (regional; passing: us-east) — TIMEOUT`. */
  summary: string;
}

export interface WebhookIncidentPayload extends WebhookPayloadBase {
  /** `incident.opened`, `incident.updated`, `incident.resolved`, or another type about an incident (`incident.reminder`). */
  event: string;
  check: { id: string; name: string };
  incident: {
    id: string;
    scope: 'regional' | 'global';
    failingRegions: string[];
    passingRegions: string[];
    noDataRegions: string[];
    firstFailureAt: string;
    openedAt: string;
    updatedAt: string;
    resolvedAt: string | null;
  };
  /** Last error of each failing region, in region order; empty once resolved. */
  errors: Array<{ region: string; code: string; message: string; at: string }>;
  /** Why the failing regions fail, in one line (the top difference); null when resolved or not known. */
  why: string | null;
  /**
   * What the failing regions saw differently from the passing ones, most telling first, and each region's
   * latest network facts (addresses, edge, certificate, path trace of a failing region). Null when the
   * incident carries none (checks whose agents report no facts).
   */
  evidence: IncidentEvidence | null;
  /** The event's other fields, for types besides opened/updated/resolved (e.g. `{ reminder: 2 }`). */
  data?: Record<string, unknown>;
}

export interface WebhookProbePayload extends WebhookPayloadBase {
  event: 'probe.offline' | 'probe.online';
  agent: { id: string; region: string; lastSeenAt: string };
}

/**
 * An event type added after this payload format was written: its own fields (besides id, type and at)
 * are passed through unchanged under `data`, so receivers get it before a dedicated format exists.
 */
export interface WebhookGenericPayload extends WebhookPayloadBase {
  event: string;
  data: Record<string, unknown>;
}

export type WebhookPayload = WebhookIncidentPayload | WebhookProbePayload | WebhookGenericPayload;
/** The event names this format has a dedicated shape for. */
export type WebhookKnownEvent = AlertEventType;

const iso = (ms: number): string => new Date(ms).toISOString();

/** The JSON document for one event. Pure. */
export function buildWebhookPayload(anyEvent: AnyAlertEvent, context: PayloadContext): WebhookPayload {
  const base = {
    schemaVersion: WEBHOOK_SCHEMA_VERSION, eventId: anyEvent.id, deliveryId: context.deliveryId,
    at: iso(anyEvent.at), sentAt: iso(context.now), summary: summarize(anyEvent),
  };
  const view = viewEvent(anyEvent);
  if (view.kind === 'other') {
    const { id: _id, type: _type, at: _at, ...data } = anyEvent as unknown as Record<string, unknown>;
    return { ...base, event: anyEvent.type, data };
  }
  if (view.kind === 'incident') {
    const { event } = view;
    const { incident } = event;
    const { id: _id, type: _type, at: _at, check: _check, incident: _incident, ...extra } = anyEvent as unknown as Record<string, unknown>;
    const known = (INCIDENT_EVENT_TYPES as readonly string[]).includes(anyEvent.type);
    return {
      ...base,
      event: anyEvent.type,
      ...(known ? {} : { data: extra }),
      check: { id: event.check.id, name: event.check.name },
      incident: {
        id: incident.id, scope: incident.scope,
        failingRegions: incident.failingRegions, passingRegions: incident.passingRegions, noDataRegions: incident.noDataRegions,
        firstFailureAt: iso(incident.firstFailureAt), openedAt: iso(incident.openedAt), updatedAt: iso(incident.updatedAt),
        resolvedAt: incident.resolvedAt === null ? null : iso(incident.resolvedAt),
      },
      errors: incident.failingRegions.flatMap((region) => {
        const failure = incident.lastErrors[region];
        return failure ? [{ region, code: failure.code, message: failure.message, at: iso(failure.at) }] : [];
      }),
      why: whyLine(view),
      evidence: evidenceOf(view),
    };
  }
  const { event } = view;
  return {
    ...base,
    event: event.type,
    agent: { id: event.agent.agentId, region: event.agent.region, lastSeenAt: iso(event.agent.lastSeenAt) },
  };
}

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, the value of `x-lookout-signature`. */
export function signWebhook(body: string | Buffer, secret: string, timestampSeconds: number): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampSeconds}.`).update(body).digest('hex')}`;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'MISSING_HEADERS' | 'BAD_TIMESTAMP' | 'STALE_TIMESTAMP' | 'BAD_SIGNATURE' };

/** Receiver-side check of a delivery's signature: the recipe in this module's comment. */
export function verifyWebhookSignature(input: {
  rawBody: string | Buffer;
  timestamp: string | undefined;
  signature: string | undefined;
  secret: string;
  /** @defaultValue 300 */
  toleranceSeconds?: number;
  /** @defaultValue Date.now() */
  nowMs?: number;
}): SignatureCheck {
  const { timestamp, signature } = input;
  if (!timestamp || !signature) return { ok: false, reason: 'MISSING_HEADERS' };
  if (!/^\d+$/.test(timestamp)) return { ok: false, reason: 'BAD_TIMESTAMP' };
  const skew = Math.abs((input.nowMs ?? Date.now()) / 1_000 - Number(timestamp));
  if (skew > (input.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_S)) return { ok: false, reason: 'STALE_TIMESTAMP' };
  const expected = Buffer.from(signWebhook(input.rawBody, input.secret, Number(timestamp)));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given) ? { ok: true } : { ok: false, reason: 'BAD_SIGNATURE' };
}

export const webhookChannel: ChannelModule<WebhookConfig> = {
  type: 'webhook',
  ordering: 'every-event',
  configSchema: WebhookConfigSchema,

  buildPayload(event, config, context): ChannelRequest {
    const body = JSON.stringify(buildWebhookPayload(event, context));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': WEBHOOK_USER_AGENT,
      'x-lookout-event': event.type,
      'x-lookout-delivery': context.deliveryId,
    };
    if (config.secret !== undefined) {
      const timestamp = Math.floor(context.now / 1_000);
      headers['x-lookout-timestamp'] = String(timestamp);
      headers['x-lookout-signature'] = signWebhook(body, config.secret, timestamp);
    }
    return { headers, body };
  },

  send(request, config, context) {
    return postOnce(config.url, request, context, { timeoutMs: config.timeoutMs });
  },
};
