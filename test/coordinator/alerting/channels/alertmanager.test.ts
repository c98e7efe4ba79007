import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alertmanagerChannel, AlertmanagerConfigSchema, alertsEndpoint, buildAlertmanagerAlerts, CLOCK_SKEW_MARGIN_MS, type AlertmanagerAlert,
} from '../../../../coordinator/alerting/channels/alertmanager.ts';
import { parseChannelConfigs } from '../../../../coordinator/alerting/channels/index.ts';
import type { AlertEvent } from '../../../../coordinator/events/events.ts';
import { iso, sampleEvents, startAlertmanager, T0, type TestAlertmanager } from '../support.ts';

const events = sampleEvents();
const DAY = 86_400_000;
const DASHBOARD = 'https://lookout.example.com';

/** The `postableAlert` shape of Alertmanager's API v2: string labels (valid names), annotations, RFC 3339 times. */
function expectPostable(alert: AlertmanagerAlert): void {
  expect(Object.keys(alert.labels).length).toBeGreaterThan(0);
  for (const [name, value] of Object.entries({ ...alert.labels, ...alert.annotations })) {
    expect(name).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
    expect(typeof value).toBe('string');
  }
  expect(new Date(alert.startsAt).toISOString()).toBe(alert.startsAt);
  expect(new Date(alert.endsAt).toISOString()).toBe(alert.endsAt);
  expect(Date.parse(alert.startsAt)).toBeLessThanOrEqual(Date.parse(alert.endsAt));
  if (alert.generatorURL !== undefined) expect(() => new URL(alert.generatorURL!)).not.toThrow();
}

const firing = (alerts: AlertmanagerAlert[], now: number) => alerts.filter((a) => Date.parse(a.endsAt) > now);
const key = (a: { labels: Record<string, string> }) => `${a.labels.region}/${a.labels.scope}`;

describe('Alertmanager v2 alerts', () => {
  it('an opened regional incident fires one alert per failing region, labelled with check, region and scope', () => {
    const alerts = buildAlertmanagerAlerts(events.opened, { dashboardUrl: DASHBOARD, labels: { team: 'web' } });
    alerts.forEach(expectPostable);
    // Every region in both scopes: only eu-west/regional fires.
    expect(alerts.map(key).sort()).toEqual(['ap-south/global', 'ap-south/regional', 'eu-west/global', 'eu-west/regional', 'us-east/global', 'us-east/regional']);
    expect(firing(alerts, T0)).toEqual([{
      labels: { team: 'web', alertname: 'LookoutCheckDown', check: 'homepage', region: 'eu-west', scope: 'regional', severity: 'warning', incident: 'inc-1' },
      annotations: {
        summary: 'Homepage is down in eu-west (regional; passing: ap-south, us-east) — CONNECT_REFUSED',
        check_name: 'Homepage', description: 'CONNECT_REFUSED: connect ECONNREFUSED 10.0.0.1:443', error_code: 'CONNECT_REFUSED',
      },
      startsAt: iso(T0 - 60_000),
      endsAt: iso(T0 + DAY),
      generatorURL: `${DASHBOARD}/api/checks/homepage`,
    }]);
    for (const resolved of alerts.filter((a) => !firing(alerts, T0).includes(a))) expect(resolved.endsAt).toBe(iso(T0));
  });

  it('turning global moves the firing alerts to the global scope and resolves the regional ones', () => {
    const alerts = buildAlertmanagerAlerts(events.updated, { firingTimeoutMs: 3_600_000 });
    alerts.forEach(expectPostable);
    expect(firing(alerts, events.updated.at).map((a) => [key(a), a.labels.severity, a.endsAt])).toEqual([
      ['eu-west/global', 'critical', iso(events.updated.at + 3_600_000)],
      ['us-east/global', 'critical', iso(events.updated.at + 3_600_000)],
    ]);
    expect(alerts.filter((a) => a.labels.scope === 'regional').every((a) => a.endsAt === iso(events.updated.at) && a.labels.severity === 'warning')).toBe(true);
    expect(alerts[0]).not.toHaveProperty('generatorURL');
  });

  it('the resolution ends every alert of the incident at its time, safely in Alertmanager\'s past', () => {
    const alerts = buildAlertmanagerAlerts(events.resolved);
    alerts.forEach(expectPostable);
    expect(alerts).toHaveLength(6);
    expect(alerts.every((a) => a.endsAt === iso(events.resolved.at))).toBe(true);
    // Sent right after the event: the end moves back by the clock-skew margin (never before the start).
    const sentAtOnce = buildAlertmanagerAlerts(events.resolved, { now: events.resolved.at + 1_000 });
    expect(new Set(sentAtOnce.map((a) => a.endsAt))).toEqual(new Set([iso(events.resolved.at + 1_000 - CLOCK_SKEW_MARGIN_MS)]));
    const shortLived = { ...events.resolved, incident: { ...events.resolved.incident, firstFailureAt: events.resolved.at - 5_000 } } as AlertEvent;
    expect(buildAlertmanagerAlerts(shortLived, { now: events.resolved.at })[0]!.endsAt).toBe(iso(events.resolved.at - 5_000));
  });

  it('probe agents fire while offline and resolve when back; other types fire as notices', () => {
    const [offline] = buildAlertmanagerAlerts(events.offline);
    expectPostable(offline!);
    expect(offline).toMatchObject({ labels: { alertname: 'LookoutProbeOffline', agent: 'agent-7', region: 'eu-west', severity: 'warning' }, endsAt: iso(T0 + DAY) });
    const [online] = buildAlertmanagerAlerts(events.online);
    expect(online!.labels).toEqual(offline!.labels);
    expect(online!.endsAt).toBe(iso(events.online.at));

    const [future] = buildAlertmanagerAlerts(events.future, { dashboardUrl: DASHBOARD });
    expectPostable(future!);
    expect(future).toMatchObject({
      labels: { alertname: 'LookoutEvent', event: 'certificate.expiring', check: 'homepage', severity: 'error' },
      annotations: { summary: '[certificate.expiring] Homepage: the TLS certificate expires in 6 days' },
      generatorURL: `${DASHBOARD}/api/checks/homepage`,
    });
  });

  it('validates its config', () => {
    expect(AlertmanagerConfigSchema.parse({ type: 'alertmanager', name: 'am', url: 'http://am:9093' })).toMatchObject({ labels: {}, firingTimeoutMs: DAY });
    expect(alertsEndpoint('http://am:9093/')).toBe('http://am:9093/api/v2/alerts');
    const parsed = parseChannelConfigs([{ type: 'alertmanager', name: 'am', url: 'am:9093', labels: { 'bad-name': 'x', region: 'y' }, firingTimeoutMs: 5 }]);
    expect(parsed.ok ? [] : parsed.problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^channels\[0\]\.url: /),
      expect.stringMatching(/^channels\[0\]\.labels\["bad-name"\]: must be a Prometheus label name/),
      expect.stringMatching(/^channels\[0\]\.labels\.region: is one of Lookout's own labels/),
      expect.stringMatching(/^channels\[0\]\.firingTimeoutMs: /),
    ]));
  });
});

describe('a real Alertmanager', () => {
  let am: TestAlertmanager;
  const dispatcher = new Agent();
  beforeAll(async () => { am = await startAlertmanager(); });
  afterAll(async () => { await am?.stop(); await dispatcher.close(); });

  /** Sends one event as the delivery worker would; Alertmanager must accept it. */
  async function post(event: AlertEvent): Promise<void> {
    const config = AlertmanagerConfigSchema.parse({ type: 'alertmanager', name: 'am', url: am.url, labels: { env: 'test' } });
    const request = alertmanagerChannel.buildPayload(event, config, { deliveryId: `am.${event.id}`, now: Date.now(), dashboardUrl: DASHBOARD });
    expect(await alertmanagerChannel.send(request, config, { signal: new AbortController().signal, dispatcher })).toEqual({ ok: true, status: 200 });
  }

  /** The incident's life moved to the last minute (Alertmanager ignores alerts that ended long ago). */
  function live(incidentId: string) {
    const now = Date.now();
    const shift = <E extends AlertEvent>(event: E, at: number): E => {
      if (!('incident' in event)) return event;
      const i = event.incident;
      return {
        ...event, id: `${incidentId}:${i.seq}`, at,
        incident: { ...i, id: incidentId, firstFailureAt: now - 60_000, openedAt: now - 3_000, updatedAt: at, resolvedAt: i.resolvedAt === null ? null : at },
      };
    };
    return { opened: shift(events.opened, now - 3_000), updated: shift(events.updated, now - 2_000), resolved: shift(events.resolved, now - 1_000) };
  }

  const activeFor = async (incidentId: string) =>
    (await am.alerts()).filter((a) => a.labels.incident === incidentId && a.status.state === 'active').map(key).sort();

  it('shows an opened incident as active, follows it to global, and drops it once resolved', async () => {
    const incident = live('inc-am-1');
    await post(incident.opened);
    const [active] = (await am.alerts()).filter((a) => a.labels.incident === 'inc-am-1');
    expect(active).toMatchObject({
      labels: { alertname: 'LookoutCheckDown', check: 'homepage', region: 'eu-west', scope: 'regional', severity: 'warning', env: 'test' },
      annotations: { check_name: 'Homepage', error_code: 'CONNECT_REFUSED' },
      generatorURL: `${DASHBOARD}/api/checks/homepage`,
      status: { state: 'active' },
    });
    expect(await activeFor('inc-am-1')).toEqual(['eu-west/regional']);

    await post(incident.updated);
    expect(await activeFor('inc-am-1')).toEqual(['eu-west/global', 'us-east/global']);

    await post(incident.resolved);
    // Resolved alerts are no longer listed: the incident's alerts are gone.
    expect((await am.alerts()).filter((a) => a.labels.incident === 'inc-am-1')).toEqual([]);
  });

  it('rejects what is not a valid alert, which the channel reports as permanent', async () => {
    const config = AlertmanagerConfigSchema.parse({ type: 'alertmanager', name: 'am', url: am.url });
    const outcome = await alertmanagerChannel.send({ headers: { 'content-type': 'application/json' }, body: '[{"annotations":{}}]' }, config, { signal: new AbortController().signal, dispatcher });
    expect(outcome).toMatchObject({ ok: false, code: 'RECEIVER_REJECTED', retryable: false, status: 422 });
  });
});
