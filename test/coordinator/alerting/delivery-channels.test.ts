/**
 * Delivery with every channel type, routing and ordering, against real Redis, real loopback receivers
 * (HTTP for webhook, Slack, PagerDuty and Alertmanager; SMTP for email), and two delivery instances
 * standing in for two coordinators.
 */
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALERTS_QUEUE } from '../../../checks/keys.ts';
import { createDelivery, deliveryJobId, type Delivery, type DeliveryOptions } from '../../../coordinator/alerting/delivery.ts';
import type { AlertEvent } from '../../../coordinator/events/events.ts';
import { silentLogger as silent } from '../../../lib/log.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../../support/redis.ts';
import { waitUntil } from '../../support/wait.ts';
import { decodeHeader, sampleEvents, startRecorder, startSmtp, type Recorder, type Reply, type TestSmtp } from './support.ts';

const KEY = 'R0ABCDEFGHIJKLMNOPQRSTUVWXYZ0123';

let redis: TestRedis;
let http: Recorder;
let smtp: TestSmtp;
/** Per-path reply rules, set by each test. */
let replyFor: (path: string, index: number) => Reply = () => ({ status: 200, body: 'ok' });
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  [redis, http, smtp] = await Promise.all([startRedis(), startRecorder((index, request) => replyFor(request.path, index)), startSmtp()]);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  replyFor = () => ({ status: 200, body: 'ok' });
});
afterAll(async () => { await Promise.all([redis?.stop(), http?.close(), smtp?.close()]); });

/** All five channel types, each at its own path of the HTTP recorder (or the SMTP server). */
function allChannels(namePrefix = '') {
  return [
    { type: 'webhook', name: `${namePrefix}hook`, url: `${http.base}/hook`, secret: 'a-secret-of-16-chars' },
    { type: 'slack', name: `${namePrefix}chat`, webhookUrl: `${http.base}/slack` },
    { type: 'pagerduty', name: `${namePrefix}page`, routingKey: KEY, url: `${http.base}/pagerduty` },
    { type: 'alertmanager', name: `${namePrefix}am`, url: `${http.base}/am` },
    { type: 'email', name: `${namePrefix}mail`, from: 'alerts@example.com', to: ['ops@example.com'], smtp: { host: '127.0.0.1', port: smtp.port } },
  ];
}

function setup(options: Partial<DeliveryOptions> = {}) {
  const prefix = uniquePrefix('dc');
  const inspect = new Queue(ALERTS_QUEUE, { connection: { url: redis.url }, prefix });
  cleanups.push(() => inspect.close());
  const make = (overrides: Partial<DeliveryOptions> = {}): Delivery => {
    const delivery = createDelivery({
      connection: redis.url, prefix, logger: silent, channels: allChannels(), retry: { baseDelayMs: 20, jitter: 0 }, ...options, ...overrides,
    });
    cleanups.push(() => delivery.stop());
    return delivery;
  };
  /** Waits until every job of the queue is completed or failed. */
  const settled = () => waitUntil('every delivery to finish', async () => {
    const counts = await inspect.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
    return Object.values(counts).every((n) => n === 0) || undefined;
  });
  return { prefix, inspect, make, settled };
}

const requestsTo = (path: string) => http.requests.filter((r) => r.path === path);
const bodiesTo = (path: string) => requestsTo(path).map((r) => JSON.parse(r.body) as Record<string, unknown>);
const PATHS = ['/hook', '/slack', '/pagerduty', '/am/api/v2/alerts'];

/** What each receiver got since `since`: the request bodies per HTTP path, and the mails. */
function receivedSince(since: { http: number; smtp: number }): Record<string, any[]> & { mail: TestSmtp['messages'] } {
  const byPath: Record<string, any[]> = Object.fromEntries(PATHS.map((path) => [path, http.requests.slice(since.http).filter((r) => r.path === path).map((r) => JSON.parse(r.body))]));
  return { ...byPath, mail: smtp.messages.slice(since.smtp) };
}
const mark = () => ({ http: http.requests.length, smtp: smtp.messages.length });

describe('every channel type, two coordinators', () => {
  it('one incident, handed over by two coordinators at once and again later: exactly one notification per channel', async () => {
    const { make, settled } = setup();
    const first = make();
    const second = make();
    await Promise.all([first.start(), second.start()]);
    const { opened } = sampleEvents('inc-once');
    const since = mark();

    await Promise.all([first.deliver(opened), second.deliver(opened), second.deliver(opened), first.deliver(opened)]);
    await settled();
    await first.deliver(opened);
    await second.deliver(opened);
    await settled();

    const got = receivedSince(since);
    expect(got['/hook']!.map((b) => b.eventId)).toEqual(['inc-once:1']);
    expect(got['/slack']!.map((b) => b.text)).toEqual(['Homepage is down in eu-west (regional; passing: ap-south, us-east) — CONNECT_REFUSED']);
    expect(got['/pagerduty']!.map((b) => `${b.event_action} ${b.dedup_key}`)).toEqual(['trigger lookout/inc-once']);
    expect(got['/am/api/v2/alerts']!.map((alerts) => alerts.filter((a: any) => a.labels.region === 'eu-west' && a.labels.scope === 'regional')[0].labels.incident)).toEqual(['inc-once']);
    expect(got.mail.map((m) => m.headers['message-id'])).toEqual(['<mail.inc-once%3A1@example.com>']);
  });

  it('a whole incident from two coordinators: every message channel gets each event once; PagerDuty and Alertmanager end resolved', async () => {
    const { make, settled } = setup();
    const first = make();
    const second = make();
    await Promise.all([first.start(), second.start()]);
    const { opened, updated, resolved } = sampleEvents('inc-life');
    const since = mark();
    for (const event of [opened, updated, resolved]) {
      await Promise.all([first.deliver(event), second.deliver(event), first.deliver(event)]);
    }
    await settled();

    const got = receivedSince(since);
    expect(got['/hook']!.map((b) => b.eventId).sort()).toEqual(['inc-life:1', 'inc-life:2', 'inc-life:3']);
    expect(got['/slack']!).toHaveLength(3);
    expect(got.mail.map((m) => decodeHeader(m.headers['x-lookout-event']!)).sort()).toEqual(['incident.opened', 'incident.resolved', 'incident.updated']);
    // The state channels may skip an event a newer one superseded while it waited, never send one twice,
    // and always end with the incident's last state.
    const pagerduty = got['/pagerduty']!.map((b) => JSON.stringify(b));
    expect(new Set(pagerduty).size).toBe(pagerduty.length);
    expect(got['/pagerduty']!.at(-1)).toEqual({ routing_key: KEY, event_action: 'resolve', dedup_key: 'lookout/inc-life' });
    const alertmanager = got['/am/api/v2/alerts']!.map((b) => JSON.stringify(b));
    expect(new Set(alertmanager).size).toBe(alertmanager.length);
    expect(got['/am/api/v2/alerts']!.at(-1).every((alert: any) => alert.annotations.summary === 'Homepage has recovered after 13m30s' && Date.parse(alert.endsAt) <= resolved.at)).toBe(true);
  });

  it('delivers an event type added after the channels were written, on every channel', async () => {
    const { make, settled } = setup();
    const delivery = make();
    await delivery.start();
    const { future } = sampleEvents();
    const since = mark();
    await delivery.deliver(future);
    await settled();
    const got = receivedSince(since);
    const summary = '[certificate.expiring] Homepage: the TLS certificate expires in 6 days';
    expect(got['/hook']!.map((b) => [b.event, b.summary, b.data.daysLeft])).toEqual([['certificate.expiring', summary, 6]]);
    expect(got['/slack']!.map((b) => b.text)).toEqual([summary]);
    expect(got['/pagerduty']!.map((b) => [b.event_action, b.payload.severity, b.payload.summary])).toEqual([['trigger', 'error', summary]]);
    expect(got['/am/api/v2/alerts']!.map((alerts) => alerts[0].labels)).toEqual([{ alertname: 'LookoutEvent', event: 'certificate.expiring', check: 'homepage', severity: 'error' }]);
    expect(got.mail.map((m) => decodeHeader(m.headers.subject!))).toEqual([`[Lookout] ${summary}`]);
  });

  it('sends every event to PagerDuty when they come one at a time', async () => {
    const { make, settled } = setup();
    const delivery = make();
    await delivery.start();
    const { opened, updated, resolved } = sampleEvents('inc-steps');
    const before = requestsTo('/pagerduty').length;
    for (const event of [opened, updated, resolved]) {
      await delivery.deliver(event);
      await settled();
    }
    expect(bodiesTo('/pagerduty').slice(before).map((b) => b.event_action)).toEqual(['trigger', 'trigger', 'resolve']);
  });
});

describe('routing', () => {
  const channels = () => [
    { type: 'slack', name: 'chat', webhookUrl: `${http.base}/slack` },
    { type: 'pagerduty', name: 'page', routingKey: KEY, url: `${http.base}/pagerduty` },
    { type: 'webhook', name: 'operators', url: `${http.base}/operators` },
  ];
  const routes = {
    rules: [
      { match: { events: 'incident.*', scope: 'regional' }, channels: ['chat'] },
      { match: { scope: 'global' }, channels: ['page'] },
      { match: { events: 'probe.offline' }, channels: ['operators'] },
      { match: { tags: 'payments' }, channels: ['page'] },
    ],
  };

  it('sends regional to chat and global to the pager, and keeps an incident\'s later events with everyone who heard of it', async () => {
    const { make, settled, inspect } = setup({ channels: channels(), routes });
    const delivery = make();
    await delivery.start();
    const { opened, updated, resolved } = sampleEvents('inc-routed');

    expect(await delivery.channelsFor(opened)).toEqual(['chat']);
    await delivery.deliver(opened);
    // Global now: routing says page; chat heard of the incident, so it hears of the change too.
    expect(await delivery.channelsFor(updated)).toEqual(['page', 'chat']);
    await delivery.deliver(updated);
    await delivery.deliver(resolved);
    await settled();

    for (const [channel, ids] of Object.entries({ chat: ['1', '2', '3'], page: ['2', '3'], operators: [] as string[] })) {
      for (const seq of ['1', '2', '3']) {
        const job = await inspect.getJob(deliveryJobId(channel, `inc-routed:${seq}`));
        expect(job ? channel + seq : null).toBe(ids.includes(seq) ? channel + seq : null);
      }
    }
  });

  it('routes a probe\'s return to whoever was told it went offline, and tags from the registry', async () => {
    const { make, prefix } = setup({ channels: channels(), routes });
    const delivery = make();
    const { offline, online, opened } = sampleEvents('inc-tags');
    expect(await delivery.channelsFor(online)).toEqual([]);
    await delivery.deliver(offline);
    expect(await delivery.channelsFor(online)).toEqual(['operators']);

    // Tags are looked up from the check's stored definition when the event does not carry them.
    const { Redis } = await import('ioredis');
    const client = new Redis(redis.url);
    cleanups.push(() => client.quit());
    await client.hset(`${prefix}:lookout:registry`, 'homepage', JSON.stringify({
      definition: { ...minimalDefinition, tags: ['payments'] }, version: 1, updatedAt: 1,
    }));
    expect(await delivery.channelsFor(opened)).toEqual(['chat', 'page']);
    expect(await delivery.channelsFor({ ...opened, check: { ...opened.check, tags: ['web'] } } as AlertEvent)).toEqual(['chat']);
  });

  it('refuses routes that name unknown channels', () => {
    expect(() => createDelivery({ connection: redis.url, logger: silent, channels: channels(), routes: { rules: [{ channels: ['pager'] }] } }))
      .toThrow(expect.objectContaining({ code: 'INVALID_ROUTES', problems: ['routes.rules[0].channels[0]: no channel named "pager" (channels: chat, page, operators)'] }));
  });
});

const minimalDefinition = {
  type: 'http', id: 'homepage', name: 'Homepage', url: 'http://127.0.0.1:9/', regions: ['eu-west'], frequencyMs: 60_000, timeoutMs: 5_000,
  failureThreshold: 2, successThreshold: 2, method: 'GET', headers: {}, assertions: [], followRedirects: true, maxRedirects: 5, maxBodyBytes: 1_048_576,
};

describe('ordering for latest-state channels', () => {
  const pagerOnly = () => [{ type: 'pagerduty', name: 'page', routingKey: KEY, url: `${http.base}/pagerduty`, attempts: 5 }];

  it('skips a failed trigger once the resolution was queued, so a late retry never re-opens the alert', async () => {
    const { make, settled, inspect } = setup({ channels: pagerOnly(), retry: { baseDelayMs: 300, jitter: 0 } });
    let pdRequests = 0;
    replyFor = (path) => (path === '/pagerduty' && pdRequests++ === 0 ? { status: 500 } : { status: 202, body: '{"status":"success"}' });
    const delivery = make();
    await delivery.start();
    const { opened, resolved } = sampleEvents('inc-late');
    const before = requestsTo('/pagerduty').length;
    await delivery.deliver(opened);
    await waitUntil('the first trigger to fail', () => pdRequests >= 1 || undefined);
    await delivery.deliver(resolved);
    await settled();

    expect(bodiesTo('/pagerduty').slice(before).map((b) => b.event_action)).toEqual(['trigger', 'resolve']);
    expect((await inspect.getJob(deliveryJobId('page', opened.id)))?.returnvalue).toEqual({ status: 'superseded', by: 3 });
    expect((await inspect.getJob(deliveryJobId('page', resolved.id)))?.returnvalue).toMatchObject({ status: 'sent', httpStatus: 202 });
  });

  it('holds the resolution back until the trigger in flight has been answered', async () => {
    const { make, settled } = setup({ channels: pagerOnly() });
    replyFor = (path, index) => (path === '/pagerduty' && JSON.parse(http.requests[index]!.body).event_action === 'trigger'
      ? { status: 202, delayMs: 400 } : { status: 202 });
    const first = make();
    const second = make();
    await Promise.all([first.start(), second.start()]);
    const { opened, resolved } = sampleEvents('inc-inflight');
    const before = requestsTo('/pagerduty').length;
    await first.deliver(opened);
    await waitUntil('the trigger to be in flight', () => requestsTo('/pagerduty').length > before || undefined);
    await second.deliver(resolved);
    await settled();

    const [trigger, resolve] = requestsTo('/pagerduty').slice(before);
    expect(JSON.parse(trigger!.body).event_action).toBe('trigger');
    expect(JSON.parse(resolve!.body).event_action).toBe('resolve');
    expect(resolve!.at).toBeGreaterThanOrEqual(trigger!.answeredAt!);
  });
});
