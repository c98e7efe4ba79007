import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Registry, type Counter } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { retryDelayMs, DEFAULT_RETRY_POLICY } from '../../../coordinator/alerting/channels/retry.ts';
import { verifyWebhookSignature } from '../../../coordinator/alerting/channels/webhook.ts';
import { createDelivery, DELIVERIES_METRIC, DeliveryError, deliveryJobId, type DeliveryOptions } from '../../../coordinator/alerting/delivery.ts';
import { ALERTS_QUEUE, sentMarkerKey } from '../../../checks/keys.ts';
import type { AlertEvent } from '../../../coordinator/events/events.ts';
import { createLogger, silentLogger as silent } from '../../../lib/log.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../../support/redis.ts';
import { waitUntil } from '../../support/wait.ts';

const SECRET = 'test-secret-of-some-length';

// ---------------------------------------------------------------------------------------------
// Pure backoff policy
// ---------------------------------------------------------------------------------------------

describe('retryDelayMs', () => {
  const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1_000, maxDelayMs: 60_000, maxRetryAfterMs: 300_000, jitter: 0 };
  it.each([
    [1, undefined, 1_000], [2, undefined, 2_000], [4, undefined, 8_000], [7, undefined, 60_000], [30, undefined, 60_000],
    // Retry-After wins when longer, is capped, and never shortens the exponential delay.
    [1, 30_000, 30_000], [1, 3_600_000, 300_000], [4, 500, 8_000], [1, 0, 1_000],
  ])('after %i failed attempts, Retry-After %j → %i ms', (attempts, retryAfter, expected) => {
    expect(retryDelayMs(attempts, policy, retryAfter)).toBe(expected);
  });
  it('jitter only shortens, by at most the configured fraction', () => {
    const jittery = { ...policy, jitter: 0.2 };
    expect(retryDelayMs(3, jittery, undefined, () => 0)).toBe(4_000);
    expect(retryDelayMs(3, jittery, undefined, () => 0.999_999)).toBe(3_200);
  });
});

// ---------------------------------------------------------------------------------------------
// Delivery against real Redis and a real local receiver
// ---------------------------------------------------------------------------------------------

interface Received { at: number; headers: IncomingHttpHeaders; body: string }
type Reply = { status: number; headers?: Record<string, string> } | 'hang';

interface Receiver {
  url: string;
  requests: Received[];
  /** Decides the reply to the n-th request (0-based). */
  reply: (index: number) => Reply;
  close(): Promise<void>;
}

async function startReceiver(reply: (index: number) => Reply): Promise<Receiver> {
  const hanging: ServerResponse[] = [];
  const receiver: Receiver = { url: '', requests: [], reply, close: async () => {} };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const index = receiver.requests.length;
      receiver.requests.push({ at: Date.now(), headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const decided = receiver.reply(index);
      if (decided === 'hang') { hanging.push(res); return; }
      res.writeHead(decided.status, decided.headers).end(decided.status >= 400 ? 'receiver says no' : 'ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  receiver.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  receiver.close = async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  };
  return receiver;
}

async function deliveryCounts(registry: Registry): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(DELIVERIES_METRIC) as Counter | undefined;
  const counts: Record<string, number> = {};
  for (const { labels, value } of (await metric?.get())?.values ?? []) counts[`${labels.channel}/${labels.outcome}`] = value;
  return counts;
}

const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
let eventSeq = 0;
/** A fresh incident event per call, so that tests never share event ids. */
function incidentEvent(): AlertEvent {
  const seq = ++eventSeq;
  return {
    id: `inc-${seq}:1`, type: 'incident.opened', at: T0, check: { id: 'homepage', name: 'Homepage' },
    incident: {
      id: `inc-${seq}`, checkId: 'homepage', scope: 'regional', failingRegions: ['eu-west'], passingRegions: ['us-east'], noDataRegions: [],
      firstFailureAt: T0 - 60_000, openedAt: T0, updatedAt: T0, resolvedAt: null, seq: 1,
      lastErrors: { 'eu-west': { code: 'CONNECT_REFUSED', message: 'refused', at: T0 - 1_000 } },
    },
  };
}

describe('createDelivery', () => {
  let redis: TestRedis;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => { redis = await startRedis(); });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => { await redis?.stop(); });

  async function setup(reply: (index: number) => Reply, patch: Partial<DeliveryOptions> & { attempts?: number; timeoutMs?: number } = {}) {
    const receiver = await startReceiver(reply);
    cleanups.push(() => receiver.close());
    const prefix = uniquePrefix('dl');
    const inspect = new Queue(ALERTS_QUEUE, { connection: { url: redis.url }, prefix });
    cleanups.push(() => inspect.close());
    const make = (overrides: Partial<DeliveryOptions> = {}) => {
      const registry = new Registry();
      const delivery = createDelivery({
        connection: redis.url, prefix, logger: silent, registry,
        channels: [{ type: 'webhook', name: 'ops', url: receiver.url, secret: SECRET, attempts: patch.attempts ?? 8, timeoutMs: patch.timeoutMs ?? 10_000 }],
        retry: { baseDelayMs: 20, jitter: 0 },
        ...patch, ...overrides,
      });
      cleanups.push(() => delivery.stop());
      return { delivery, registry };
    };
    return { receiver, prefix, inspect, make };
  }

  const finished = (inspect: Queue, jobId: string) => waitUntil(`delivery ${jobId} to finish`, async () => {
    const state = await inspect.getJobState(jobId);
    return state === 'completed' || state === 'failed' ? state : undefined;
  }, 8_000);

  it('retries a failing receiver with growing delays and delivers exactly once', async () => {
    const { receiver, inspect, make } = await setup((n) => (n < 2 ? { status: 500 } : { status: 200 }));
    const { delivery, registry } = make();
    await delivery.start();
    const event = incidentEvent();
    await delivery.deliver(event);
    const jobId = deliveryJobId('ops', event.id);

    expect(await finished(inspect, jobId)).toBe('completed');
    expect(receiver.requests).toHaveLength(3);
    // Every attempt is the same delivery, validly signed.
    for (const request of receiver.requests) {
      expect(request.headers['x-lookout-delivery']).toBe(jobId);
      expect(verifyWebhookSignature({
        rawBody: request.body, timestamp: request.headers['x-lookout-timestamp'] as string,
        signature: request.headers['x-lookout-signature'] as string, secret: SECRET,
      })).toEqual({ ok: true });
      expect(JSON.parse(request.body)).toMatchObject({ event: 'incident.opened', eventId: event.id, deliveryId: jobId });
    }
    // Exponential backoff from 20 ms: at least 20 ms, then 40 ms between attempts.
    const [first, second, third] = receiver.requests.map((r) => r.at) as [number, number, number];
    expect(second - first).toBeGreaterThanOrEqual(20);
    expect(third - second).toBeGreaterThanOrEqual(40);
    expect(await deliveryCounts(registry)).toEqual({ 'ops/retry': 2, 'ops/sent': 1 });
    expect((await inspect.getJob(jobId))?.returnvalue).toMatchObject({ status: 'sent', httpStatus: 200 });
  });

  it('caps a long Retry-After instead of parking the alert', async () => {
    const { receiver, inspect, make } = await setup((n) => (n === 0 ? { status: 429, headers: { 'retry-after': '3600' } } : { status: 204 }));
    const { delivery } = make({ retry: { baseDelayMs: 10, jitter: 0, maxRetryAfterMs: 300 } });
    await delivery.start();
    const event = incidentEvent();
    await delivery.deliver(event);
    expect(await finished(inspect, deliveryJobId('ops', event.id))).toBe('completed');
    expect(receiver.requests).toHaveLength(2);
    const gap = receiver.requests[1]!.at - receiver.requests[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(300);
    expect(gap).toBeLessThan(3_000);
  });

  it('does not retry a 400: the delivery becomes a dead letter, and retrying it re-sends', async () => {
    let accept = false;
    const { receiver, inspect, make } = await setup(() => (accept ? { status: 200 } : { status: 400 }));
    const { delivery, registry } = make();
    await delivery.start();
    const event = incidentEvent();
    const jobId = deliveryJobId('ops', event.id);
    await delivery.deliver(event);

    expect(await finished(inspect, jobId)).toBe('failed');
    expect(receiver.requests).toHaveLength(1);
    const deadLetters = await delivery.listDeadLetters();
    expect(deadLetters).toEqual([{
      deliveryId: jobId, channel: 'ops', eventId: event.id, eventType: 'incident.opened', attemptsMade: 1,
      summary: 'Homepage is down in eu-west (regional; passing: us-east) — CONNECT_REFUSED',
      lastError: 'RECEIVER_REJECTED: receiver answered 400 Bad Request: receiver says no', failedAt: expect.any(Number),
    }]);
    expect(await deliveryCounts(registry)).toEqual({ 'ops/failed': 1 });
    // A duplicate hand-off does not revive a dead letter; only an explicit retry does.
    await delivery.deliver(event);
    expect(await inspect.getJobState(jobId)).toBe('failed');

    accept = true;
    await delivery.retryDeadLetter(jobId);
    expect(await finished(inspect, jobId)).toBe('completed');
    expect(receiver.requests).toHaveLength(2);
    expect(await delivery.listDeadLetters()).toEqual([]);
    await expect(delivery.retryDeadLetter(jobId)).rejects.toMatchObject({ code: 'NOT_A_DEAD_LETTER' });
    await expect(delivery.retryDeadLetter('ops.nope')).rejects.toMatchObject({ code: 'DEAD_LETTER_NOT_FOUND' });
  });

  it('makes a dead letter after the last attempt, with the last error', async () => {
    const { receiver, inspect, make } = await setup(() => ({ status: 503 }), { attempts: 3 });
    const { delivery, registry } = make();
    await delivery.start();
    const event = incidentEvent();
    await delivery.deliver(event);
    expect(await finished(inspect, deliveryJobId('ops', event.id))).toBe('failed');
    expect(receiver.requests).toHaveLength(3);
    expect(await delivery.listDeadLetters()).toMatchObject([{ attemptsMade: 3, lastError: expect.stringMatching(/^RECEIVER_UNAVAILABLE: receiver answered 503/) }]);
    expect(await deliveryCounts(registry)).toEqual({ 'ops/retry': 2, 'ops/failed': 1 });
  });

  it('sends once however often and from however many coordinators the event is handed over', async () => {
    const { receiver, prefix, inspect, make } = await setup(() => ({ status: 200 }));
    const first = make();
    const second = make();
    await Promise.all([first.delivery.start(), second.delivery.start()]);
    const event = incidentEvent();
    const jobId = deliveryJobId('ops', event.id);

    // Concurrent hand-offs from two coordinators.
    await Promise.all([first.delivery.deliver(event), second.delivery.deliver(event), first.delivery.deliver(event)]);
    expect(await finished(inspect, jobId)).toBe('completed');
    const finishedOn = (await inspect.getJob(jobId))?.finishedOn;

    // Late hand-offs while the completed job is still kept: nothing new is queued.
    await second.delivery.deliver(event);
    await first.delivery.deliver(event);
    expect(await inspect.getJobState(jobId)).toBe('completed');
    expect((await inspect.getJob(jobId))?.finishedOn).toBe(finishedOn);

    // Once the completed job has been trimmed, the sent-marker still recognises the event...
    await inspect.remove(jobId);
    await second.delivery.deliver(event);
    expect(await inspect.getJob(jobId)).toBeUndefined();

    // ...and so does the worker, for a job re-added in the gap between a hand-off's check and its add.
    await inspect.add('webhook', { schemaVersion: 1, channel: 'ops', event }, { jobId });
    expect(await finished(inspect, jobId)).toBe('completed');
    expect((await inspect.getJob(jobId))?.returnvalue).toEqual({ status: 'already-sent' });

    expect(receiver.requests).toHaveLength(1);
    const counts = { ...await deliveryCounts(first.registry) };
    for (const [key, value] of Object.entries(await deliveryCounts(second.registry))) counts[key] = (counts[key] ?? 0) + value;
    expect(counts).toEqual({ 'ops/sent': 1, 'ops/duplicate': 1 });
    const client = new Redis(redis.url);
    cleanups.push(() => client.quit());
    expect(await client.ttl(sentMarkerKey(prefix, jobId))).toBeGreaterThan(6 * 86_400);
  });

  it('stops within its bound while a send hangs, and hands the job back without using an attempt', async () => {
    const { receiver, inspect, make } = await setup((n) => (n === 0 ? 'hang' : { status: 200 }));
    const { delivery: stopping } = make({ stopGraceMs: 200 });
    await stopping.start();
    const event = incidentEvent();
    const jobId = deliveryJobId('ops', event.id);
    await stopping.deliver(event);
    await waitUntil('the first request to arrive', () => receiver.requests.length === 1, 8_000);

    const started = Date.now();
    await stopping.stop();
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(stopping.deliver(event)).rejects.toMatchObject({ code: 'DELIVERY_STOPPED' });
    const job = await inspect.getJob(jobId);
    expect(['delayed', 'waiting']).toContain(await job?.getState());
    expect(job?.attemptsMade).toBe(0);

    // Another coordinator picks it up and delivers it.
    const { delivery: next, registry } = make();
    await next.start();
    expect(await finished(inspect, jobId)).toBe('completed');
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests[1]!.headers['x-lookout-delivery']).toBe(jobId);
    expect(await deliveryCounts(registry)).toEqual({ 'ops/sent': 1 });
  });

  it('turns a delivery for a channel that is no longer configured into a dead letter', async () => {
    const { receiver, inspect, make } = await setup(() => ({ status: 200 }));
    const { delivery: before } = make();
    const event = incidentEvent();
    await before.deliver(event);
    const { delivery: after } = make({ channels: [{ type: 'webhook', name: 'other', url: receiver.url }] });
    await after.start();
    expect(await finished(inspect, deliveryJobId('ops', event.id))).toBe('failed');
    expect(await after.listDeadLetters()).toMatchObject([{ channel: 'ops', lastError: expect.stringMatching(/^CHANNEL_UNKNOWN: /) }]);
    expect(receiver.requests).toHaveLength(0);
  });

  it('refuses invalid channel configs with every problem named, and drops invalid events', async () => {
    let thrown: unknown;
    try {
      createDelivery({ connection: redis.url, channels: [{ type: 'webhook', name: 'ops', url: 'mailto:x@y' }, { type: 'sms' }], logger: silent });
    } catch (error) { thrown = error; }
    expect(thrown).toBeInstanceOf(DeliveryError);
    expect(thrown).toMatchObject({
      code: 'INVALID_CHANNEL_CONFIG',
      problems: ['channels[0].url: must be an http(s) URL, like https://example.com/hooks/lookout', 'channels[1].type: unknown channel type "sms" (known: webhook, slack, pagerduty, email, alertmanager)'],
    });

    // An invalid event is logged and dropped (a throw would block the coordinator's outbox behind it).
    const lines: string[] = [];
    const { inspect, make } = await setup(() => ({ status: 200 }));
    const { delivery } = make({ logger: createLogger((line) => lines.push(line)) });
    const bad = { ...incidentEvent(), type: 'Incident Exploded' } as unknown as AlertEvent;
    await delivery.deliver(bad);
    // A known type with a broken field is refused too, not passed off as a type added later.
    const broken = { ...incidentEvent(), incident: { scope: 'regional' } } as unknown as AlertEvent;
    await delivery.deliver(broken);
    expect(await inspect.getJob(deliveryJobId('ops', bad.id))).toBeUndefined();
    expect(await inspect.getJob(deliveryJobId('ops', broken.id))).toBeUndefined();
    expect(lines.map((line) => JSON.parse(line))).toMatchObject([
      { level: 'error', msg: 'delivery.invalid_event', eventId: bad.id, problems: [expect.stringMatching(/^event\.type: /)] },
      { level: 'error', msg: 'delivery.invalid_event', eventId: broken.id, problems: expect.arrayContaining([expect.stringMatching(/^event\.incident\.id: /)]) },
    ]);
  });
});
