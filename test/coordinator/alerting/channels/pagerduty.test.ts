import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChannelConfigs } from '../../../../coordinator/alerting/channels/index.ts';
import {
  buildPagerDutyEvent, PAGERDUTY_EVENTS_URL, pagerDutyChannel, PagerDutyConfigSchema, type PagerDutyEvent,
} from '../../../../coordinator/alerting/channels/pagerduty.ts';
import { sampleEvents, startRecorder, T0, type Recorder } from '../support.ts';

const KEY = 'R0ABCDEFGHIJKLMNOPQRSTUVWXYZ0123';
const events = sampleEvents();
const DASHBOARD = 'https://lookout.example.com';

/** The fields and value sets the Events API v2 documents for trigger and resolve events. */
function expectValidEventsV2(event: PagerDutyEvent): void {
  expect(event.routing_key).toBe(KEY);
  expect(['trigger', 'acknowledge', 'resolve']).toContain(event.event_action);
  expect(event.dedup_key.length).toBeGreaterThan(0);
  expect(event.dedup_key.length).toBeLessThanOrEqual(255);
  if (event.event_action === 'trigger') {
    const payload = event.payload!;
    expect(payload.summary.length).toBeGreaterThan(0);
    expect(payload.summary.length).toBeLessThanOrEqual(1024);
    expect(payload.source.length).toBeGreaterThan(0);
    expect(['critical', 'error', 'warning', 'info']).toContain(payload.severity);
    expect(new Date(payload.timestamp).toISOString()).toBe(payload.timestamp);
  } else {
    expect(event).not.toHaveProperty('payload');
  }
}

describe('PagerDuty Events API v2 event', () => {
  it('an opened regional incident triggers with the incident as dedup key and warning severity', () => {
    const event = buildPagerDutyEvent(events.opened, KEY, DASHBOARD);
    expectValidEventsV2(event);
    expect(event).toEqual({
      routing_key: KEY,
      event_action: 'trigger',
      dedup_key: 'lookout/inc-1',
      payload: {
        summary: 'Homepage is down in eu-west (regional; passing: ap-south, us-east) — CONNECT_REFUSED',
        source: 'lookout/homepage',
        severity: 'warning',
        timestamp: '2025-01-15T12:00:00.000Z',
        component: 'homepage',
        group: 'eu-west',
        class: 'CONNECT_REFUSED',
        custom_details: {
          check: 'Homepage', checkId: 'homepage', scope: 'regional',
          failingRegions: ['eu-west'], passingRegions: ['ap-south', 'us-east'], noDataRegions: [],
          errors: { 'eu-west': 'CONNECT_REFUSED: connect ECONNREFUSED 10.0.0.1:443' },
          firstFailureAt: '2025-01-15T11:59:00.000Z', incidentId: 'inc-1', eventId: 'inc-1:1', eventType: 'incident.opened',
        },
      },
      client: 'Lookout',
      client_url: DASHBOARD,
      links: [{ href: DASHBOARD, text: 'Lookout dashboard' }],
    });
  });

  it('the global update re-triggers the same alert as critical; the resolution resolves it', () => {
    const updated = buildPagerDutyEvent(events.updated, KEY);
    expectValidEventsV2(updated);
    expect(updated).toMatchObject({ event_action: 'trigger', dedup_key: 'lookout/inc-1', payload: { severity: 'critical', group: 'eu-west,us-east', class: 'CONNECT_REFUSED,TIMEOUT' } });
    expect(updated).not.toHaveProperty('links');

    const resolved = buildPagerDutyEvent(events.resolved, KEY);
    expectValidEventsV2(resolved);
    expect(resolved).toEqual({ routing_key: KEY, event_action: 'resolve', dedup_key: 'lookout/inc-1' });
  });

  it('a probe offline triggers per agent and its return resolves it', () => {
    const offline = buildPagerDutyEvent(events.offline, KEY);
    expectValidEventsV2(offline);
    expect(offline).toMatchObject({
      event_action: 'trigger', dedup_key: 'lookout/agent/agent-7',
      payload: { source: 'lookout/agent/agent-7', severity: 'warning', component: 'lookout-agent', group: 'eu-west' },
    });
    expect(buildPagerDutyEvent(events.online, KEY)).toEqual({ routing_key: KEY, event_action: 'resolve', dedup_key: 'lookout/agent/agent-7' });
  });

  it('a type added later triggers a notice of its own, with its fields as details', () => {
    const future = buildPagerDutyEvent(events.future, KEY);
    expectValidEventsV2(future);
    expect(future).toMatchObject({
      event_action: 'trigger', dedup_key: 'lookout/event/certificate.expiring:homepage:1',
      payload: {
        summary: '[certificate.expiring] Homepage: the TLS certificate expires in 6 days', severity: 'error', source: 'lookout/homepage',
        class: 'certificate.expiring', component: 'homepage', custom_details: { daysLeft: '6', issuer: 'Example CA', eventType: 'certificate.expiring' },
      },
    });
  });

  it('an event that names its own severity keeps it', () => {
    expect(buildPagerDutyEvent({ ...events.opened, severity: 'info' } as never, KEY).payload?.severity).toBe('info');
  });
});

describe('PagerDuty channel', () => {
  let pagerduty: Recorder;
  const dispatcher = new Agent();
  beforeAll(async () => {
    pagerduty = await startRecorder((_n, request) => {
      const body = JSON.parse(request.body) as { routing_key?: string };
      return body.routing_key === KEY
        ? { status: 202, body: JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: 'x' }), headers: { 'content-type': 'application/json' } }
        : { status: 400, body: JSON.stringify({ status: 'invalid event', message: 'Event object is invalid', errors: ['Invalid routing key'] }) };
    });
  });
  afterAll(async () => { await pagerduty.close(); await dispatcher.close(); });

  it('validates its config, defaulting to the PagerDuty endpoint', () => {
    expect(PagerDutyConfigSchema.parse({ type: 'pagerduty', name: 'page', routingKey: KEY })).toMatchObject({ url: PAGERDUTY_EVENTS_URL, attempts: 8 });
    expect(parseChannelConfigs([{ type: 'pagerduty', name: 'page', routingKey: 'has spaces in it', url: 'ftp://x' }])).toEqual({
      ok: false,
      problems: ['channels[0].routingKey: must be the 32-character integration key, without spaces', 'channels[0].url: must be an http(s) URL'],
    });
  });

  it('POSTs the event; 202 is success, 400 is a permanent rejection', async () => {
    const config = PagerDutyConfigSchema.parse({ type: 'pagerduty', name: 'page', routingKey: KEY, url: `${pagerduty.base}/v2/enqueue` });
    const context = { deliveryId: 'page.inc-1%3A1', now: T0 };
    const send = { signal: new AbortController().signal, dispatcher };
    expect(await pagerDutyChannel.send(pagerDutyChannel.buildPayload(events.opened, config, context), config, send)).toEqual({ ok: true, status: 202 });
    const received = pagerduty.requests.at(-1)!;
    expect(received.path).toBe('/v2/enqueue');
    expect(received.headers['content-type']).toBe('application/json');
    expect(JSON.parse(received.body)).toEqual(buildPagerDutyEvent(events.opened, KEY));

    const wrongKey = { ...config, routingKey: 'not-the-key' };
    expect(await pagerDutyChannel.send(pagerDutyChannel.buildPayload(events.opened, wrongKey, context), wrongKey, send)).toMatchObject({
      ok: false, code: 'RECEIVER_REJECTED', retryable: false, status: 400,
    });
  });
});
