import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChannelConfigs } from '../../../../coordinator/alerting/channels/index.ts';
import { classifyStatus, parseRetryAfter } from '../../../../coordinator/alerting/channels/http.ts';
import {
  buildWebhookPayload, verifyWebhookSignature, webhookChannel, WebhookConfigSchema, type WebhookConfig,
} from '../../../../coordinator/alerting/channels/webhook.ts';
import type { AlertEvent } from '../../../../coordinator/events/events.ts';
import type { Incident } from '../../../../coordinator/detection/incident.ts';

const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

function incident(patch: Partial<Incident>): Incident {
  return {
    id: 'inc-1', checkId: 'homepage', scope: 'regional', failingRegions: ['eu-west'], passingRegions: ['ap-south', 'us-east'],
    noDataRegions: [], firstFailureAt: T0 - 60_000, openedAt: T0, updatedAt: T0, resolvedAt: null,
    lastErrors: { 'eu-west': { code: 'CONNECT_REFUSED', message: 'connect ECONNREFUSED 10.0.0.1:443', at: T0 - 1_000 } }, seq: 1,
    ...patch,
  };
}
const check = { id: 'homepage', name: 'Homepage' };

const events: Record<string, AlertEvent> = {
  opened: { id: 'inc-1:1', type: 'incident.opened', at: T0, check, incident: incident({}) },
  updated: {
    id: 'inc-1:2', type: 'incident.updated', at: T0 + 30_000, check,
    incident: incident({
      scope: 'global', failingRegions: ['eu-west', 'us-east'], passingRegions: [], noDataRegions: ['ap-south'], updatedAt: T0 + 30_000, seq: 2,
      lastErrors: {
        'eu-west': { code: 'CONNECT_REFUSED', message: 'refused', at: T0 + 29_000 },
        'us-east': { code: 'TIMEOUT', message: 'no response within 5s', at: T0 + 28_000 },
      },
    }),
  },
  resolved: {
    id: 'inc-1:3', type: 'incident.resolved', at: T0 + 750_000, check,
    incident: incident({ failingRegions: [], passingRegions: ['ap-south', 'eu-west', 'us-east'], lastErrors: {}, resolvedAt: T0 + 750_000, updatedAt: T0 + 750_000, seq: 3 }),
  },
  offline: { id: 'probe.offline:agent-7:1736942400000', type: 'probe.offline', at: T0, agent: { agentId: 'agent-7', region: 'eu-west', lastSeenAt: T0 - 7_000 } },
  online: { id: 'probe.online:agent-7:1736942460000', type: 'probe.online', at: T0 + 60_000, agent: { agentId: 'agent-7', region: 'eu-west', lastSeenAt: T0 + 60_000 } },
};

const context = { deliveryId: 'ops.inc-1%3A1', now: T0 + 5_000 };
const config = (patch: Partial<WebhookConfig> = {}): WebhookConfig =>
  WebhookConfigSchema.parse({ type: 'webhook', name: 'ops', url: 'http://127.0.0.1:1/hook', ...patch });

describe('webhook payload', () => {
  it.each([
    ['opened', {
      event: 'incident.opened', eventId: 'inc-1:1',
      summary: 'Homepage is down in eu-west (regional; passing: ap-south, us-east) — CONNECT_REFUSED',
      incident: {
        id: 'inc-1', scope: 'regional', failingRegions: ['eu-west'], passingRegions: ['ap-south', 'us-east'], noDataRegions: [],
        firstFailureAt: iso(T0 - 60_000), openedAt: iso(T0), updatedAt: iso(T0), resolvedAt: null,
      },
      errors: [{ region: 'eu-west', code: 'CONNECT_REFUSED', message: 'connect ECONNREFUSED 10.0.0.1:443', at: iso(T0 - 1_000) }],
    }],
    ['updated', {
      event: 'incident.updated', eventId: 'inc-1:2',
      summary: 'Homepage is now down in all regions (global: eu-west, us-east; no data: ap-south) — CONNECT_REFUSED, TIMEOUT',
      incident: { scope: 'global', failingRegions: ['eu-west', 'us-east'], passingRegions: [], noDataRegions: ['ap-south'] },
      errors: [
        { region: 'eu-west', code: 'CONNECT_REFUSED', message: 'refused', at: iso(T0 + 29_000) },
        { region: 'us-east', code: 'TIMEOUT', message: 'no response within 5s', at: iso(T0 + 28_000) },
      ],
    }],
    ['resolved', {
      event: 'incident.resolved', eventId: 'inc-1:3', summary: 'Homepage has recovered after 13m30s',
      incident: { failingRegions: [], resolvedAt: iso(T0 + 750_000) }, errors: [],
    }],
    ['offline', {
      event: 'probe.offline', eventId: 'probe.offline:agent-7:1736942400000',
      summary: `Probe agent agent-7 in eu-west is offline (last seen ${iso(T0 - 7_000)})`,
      agent: { id: 'agent-7', region: 'eu-west', lastSeenAt: iso(T0 - 7_000) },
    }],
    ['online', {
      event: 'probe.online', eventId: 'probe.online:agent-7:1736942460000', summary: 'Probe agent agent-7 in eu-west is back online',
      agent: { id: 'agent-7', region: 'eu-west', lastSeenAt: iso(T0 + 60_000) },
    }],
  ])('%s', (name, expected) => {
    const event = events[name]!;
    const payload = buildWebhookPayload(event, context);
    expect(payload).toMatchObject({ schemaVersion: 1, deliveryId: context.deliveryId, at: iso(event.at), sentAt: iso(T0 + 5_000), ...expected });
    if ('incident' in event) {
      expect(payload).toHaveProperty('check', { id: 'homepage', name: 'Homepage' });
      expect(payload).not.toHaveProperty('agent');
    } else {
      expect(payload).not.toHaveProperty('incident');
      expect(payload).not.toHaveProperty('check');
    }
    // The request body is exactly this document.
    const request = webhookChannel.buildPayload(event, config(), context);
    expect(JSON.parse(request.body)).toEqual(payload);
  });

  it('passes an event type added later through generically, under data', () => {
    const future = {
      id: 'certificate.expiring:homepage:1', type: 'certificate.expiring', at: T0, check: { id: 'homepage', name: 'Homepage' },
      severity: 'error', message: 'the TLS certificate expires in 6 days', daysLeft: 6,
    };
    expect(buildWebhookPayload(future, context)).toEqual({
      schemaVersion: 1, event: 'certificate.expiring', eventId: 'certificate.expiring:homepage:1', deliveryId: context.deliveryId,
      at: iso(T0), sentAt: iso(T0 + 5_000), summary: '[certificate.expiring] Homepage: the TLS certificate expires in 6 days',
      data: { check: { id: 'homepage', name: 'Homepage' }, severity: 'error', message: 'the TLS certificate expires in 6 days', daysLeft: 6 },
    });
    // A type about an incident gets the incident shape, its other fields under data.
    const reminder = { ...events.opened!, id: 'inc-1:reminder:2', type: 'incident.reminder', reminder: 2 };
    expect(buildWebhookPayload(reminder, context)).toMatchObject({
      event: 'incident.reminder', summary: 'Reminder: Homepage is still down in eu-west (regional; passing: ap-south, us-east) — CONNECT_REFUSED',
      check, incident: { id: 'inc-1', scope: 'regional' }, errors: [{ region: 'eu-west', code: 'CONNECT_REFUSED' }], data: { reminder: 2 },
    });
    const acknowledged = { ...events.opened!, id: 'inc-1:ack', type: 'incident.acknowledged', by: 'alice' };
    expect(buildWebhookPayload(acknowledged, context)).toMatchObject({
      event: 'incident.acknowledged', summary: '[incident.acknowledged] Homepage is down in eu-west (regional; passing: ap-south, us-east) — CONNECT_REFUSED',
      data: { by: 'alice' },
    });
  });

  it('sets the delivery headers, and no signature without a secret', () => {
    const { headers } = webhookChannel.buildPayload(events.opened!, config(), context);
    expect(headers).toEqual({
      'content-type': 'application/json', 'user-agent': 'Lookout-Webhook/1',
      'x-lookout-event': 'incident.opened', 'x-lookout-delivery': 'ops.inc-1%3A1',
    });
  });
});

describe('webhook signature', () => {
  const secret = 'a-long-enough-shared-secret';
  const signed = webhookChannel.buildPayload(events.opened!, config({ secret }), context);

  /** The recipe from the TSDoc of coordinator/channels/webhook.ts, written out by hand. */
  function verifyByRecipe(body: string, timestamp: string, signature: string): boolean {
    if (Math.abs(context.now / 1_000 - Number(timestamp)) > 300) return false;
    const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`);
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  it('verifies with the documented recipe and with the helper', () => {
    const timestamp = signed.headers['x-lookout-timestamp']!;
    expect(timestamp).toBe(String(Math.floor(context.now / 1_000)));
    expect(signed.headers['x-lookout-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyByRecipe(signed.body, timestamp, signed.headers['x-lookout-signature']!)).toBe(true);
    expect(verifyWebhookSignature({
      rawBody: Buffer.from(signed.body), timestamp, signature: signed.headers['x-lookout-signature'], secret, nowMs: context.now,
    })).toEqual({ ok: true });
  });

  it.each([
    ['a tampered body', (b: string, t: string, s: string) => [b.replace('eu-west', 'us-west'), t, s]],
    ['a tampered timestamp', (b: string, t: string, s: string) => [b, String(Number(t) - 1), s]],
    ['a tampered signature', (b: string, t: string, s: string) => [b, t, s.replace(/.$/, (c) => (c === '0' ? '1' : '0'))]],
  ])('fails for %s', (_name, tamper) => {
    const [body, timestamp, signature] = tamper(signed.body, signed.headers['x-lookout-timestamp']!, signed.headers['x-lookout-signature']!);
    expect(verifyByRecipe(body!, timestamp!, signature!)).toBe(false);
    expect(verifyWebhookSignature({ rawBody: body!, timestamp, signature, secret, nowMs: context.now })).toEqual({ ok: false, reason: 'BAD_SIGNATURE' });
  });

  it('refuses a replay outside the tolerance, a wrong secret and missing headers', () => {
    const base = { rawBody: signed.body, timestamp: signed.headers['x-lookout-timestamp'], signature: signed.headers['x-lookout-signature'] };
    expect(verifyWebhookSignature({ ...base, secret, nowMs: context.now + 301_000 })).toEqual({ ok: false, reason: 'STALE_TIMESTAMP' });
    expect(verifyWebhookSignature({ ...base, secret: 'another-secret-of-length', nowMs: context.now })).toEqual({ ok: false, reason: 'BAD_SIGNATURE' });
    expect(verifyWebhookSignature({ ...base, signature: undefined, secret, nowMs: context.now })).toEqual({ ok: false, reason: 'MISSING_HEADERS' });
  });
});

describe('channel config validation', () => {
  it('applies defaults', () => {
    const parsed = parseChannelConfigs([{ type: 'webhook', name: 'ops', url: 'https://hooks.example.test/x' }]);
    expect(parsed).toEqual({ ok: true, channels: [{ type: 'webhook', name: 'ops', url: 'https://hooks.example.test/x', attempts: 8, timeoutMs: 10_000 }] });
  });

  it('reports every problem at once, each with where it is', () => {
    const parsed = parseChannelConfigs([
      { type: 'webhook', name: 'ops', url: 'ftp://x/' },
      { type: 'carrier-pigeon', name: 'p' },
      { type: 'webhook', name: 'ops', url: 'https://x.test/' },
      { type: 'webhook', name: 'Bad Name', url: 'https://x.test/', secret: 'short', attempts: 0, sercet: 'typo' },
    ]);
    expect(parsed.ok).toBe(false);
    const problems = parsed.ok ? [] : parsed.problems;
    expect(problems).toContain('channels[0].url: must be an http(s) URL, like https://example.com/hooks/lookout');
    expect(problems).toContain('channels[1].type: unknown channel type "carrier-pigeon" (known: webhook, slack, pagerduty, email, alertmanager)');
    expect(problems).toContain('channels[2].name: "ops" is already the name of channels[0]; names must be unique');
    for (const field of ['name', 'secret', 'attempts']) expect(problems.some((p) => p.startsWith(`channels[3].${field}: `))).toBe(true);
    expect(problems.some((p) => p.startsWith('channels[3]') && p.includes('sercet'))).toBe(true);
  });

  it('refuses something that is not a list', () => {
    expect(parseChannelConfigs({ webhook: {} }, 'alerting.channels')).toEqual({ ok: false, problems: ['alerting.channels: must be a list of channel configs'] });
  });
});

describe('response classification', () => {
  it.each([
    [200, { ok: true }], [204, { ok: true }],
    [301, { ok: false, code: 'UNEXPECTED_REDIRECT', retryable: false }],
    [400, { ok: false, code: 'RECEIVER_REJECTED', retryable: false }], [401, { ok: false, code: 'RECEIVER_REJECTED', retryable: false }],
    [404, { ok: false, code: 'RECEIVER_REJECTED', retryable: false }],
    [408, { ok: false, code: 'RECEIVER_UNAVAILABLE', retryable: true }], [429, { ok: false, code: 'RECEIVER_UNAVAILABLE', retryable: true }],
    [500, { ok: false, code: 'RECEIVER_UNAVAILABLE', retryable: true }], [503, { ok: false, code: 'RECEIVER_UNAVAILABLE', retryable: true }],
  ])('%i → %j', (status, expected) => {
    expect(classifyStatus(status)).toEqual(expected);
  });

  it.each([
    [undefined, undefined], ['', undefined], ['120', 120_000], ['0', 0], ['1.5', undefined], ['soon', undefined],
    [new Date(T0 + 30_000).toUTCString(), 30_000], [new Date(T0 - 30_000).toUTCString(), 0], [['7', '9'], 7_000],
  ])('Retry-After %j → %j ms', (value, expected) => {
    expect(parseRetryAfter(value, T0)).toBe(expected);
  });
});

describe('webhook send against a real receiver', () => {
  type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
  let handler: Handler = (_req, res) => res.end();
  let server: Server;
  let url: string;
  const dispatcher = new Agent();

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => handler(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('no address');
    url = `http://127.0.0.1:${address.port}/hook`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await dispatcher.destroy();
  });

  const send = (patch: Partial<WebhookConfig> = {}, signal = new AbortController().signal) => {
    const cfg = config({ url, secret: 'a-long-enough-shared-secret', ...patch });
    const request = webhookChannel.buildPayload(events.opened!, cfg, { deliveryId: 'ops.x', now: Date.now() });
    return webhookChannel.send(request, cfg, { signal, dispatcher });
  };

  it('POSTs the signed body and reports 2xx as sent', async () => {
    let seen: { method?: string; headers?: IncomingMessage['headers']; body?: string } = {};
    handler = (req, res, body) => { seen = { method: req.method, headers: req.headers, body }; res.writeHead(202).end('accepted'); };
    expect(await send()).toEqual({ ok: true, status: 202 });
    expect(seen.method).toBe('POST');
    expect(seen.headers?.['x-lookout-event']).toBe('incident.opened');
    expect(verifyWebhookSignature({
      rawBody: seen.body!, timestamp: seen.headers?.['x-lookout-timestamp'] as string,
      signature: seen.headers?.['x-lookout-signature'] as string, secret: 'a-long-enough-shared-secret',
    })).toEqual({ ok: true });
  });

  it('reports a 400 as permanent, with the start of the body', async () => {
    handler = (_req, res) => res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"unknown field"}');
    expect(await send()).toEqual({
      ok: false, code: 'RECEIVER_REJECTED', retryable: false, status: 400,
      message: 'receiver answered 400 Bad Request: {"error":"unknown field"}',
    });
  });

  it('reports a 429 as retryable with its Retry-After', async () => {
    handler = (_req, res) => res.writeHead(429, { 'retry-after': '30' }).end();
    expect(await send()).toMatchObject({ ok: false, code: 'RECEIVER_UNAVAILABLE', retryable: true, status: 429, retryAfterMs: 30_000 });
  });

  it('times out a receiver that never answers', async () => {
    handler = () => {};
    const started = Date.now();
    expect(await send({ timeoutMs: 200 })).toMatchObject({ ok: false, code: 'TIMEOUT', retryable: true });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('reports ABORTED, not TIMEOUT, when the caller aborts', async () => {
    const controller = new AbortController();
    // Aborted once the request is at the receiver (which never answers): in flight, well before the timeout.
    handler = () => controller.abort();
    const outcome = send({ timeoutMs: 5_000 }, controller.signal);
    expect(await outcome).toMatchObject({ ok: false, code: 'ABORTED', retryable: true });
  });

  it('reports a refused connection as a retryable network error', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as { port: number }).port;
    closed.close();
    await once(closed, 'close');
    const outcome = await send({ url: `http://127.0.0.1:${port}/hook` });
    expect(outcome).toMatchObject({ ok: false, code: 'NETWORK_ERROR', retryable: true });
    expect(outcome.ok ? '' : outcome.message).toMatch(/ECONNREFUSED/);
  });
});
