/**
 * The alert-policy events (events.ts: reminders, flapping, degraded, SLO burn rates) on every channel:
 * readable summaries, and for the pairs that raise and clear a condition, one PagerDuty dedup key and
 * one Alertmanager label set shared by both ends, so the clearing event resolves what the raising one opened.
 */
import { describe, expect, it } from 'vitest';
import { buildAlertmanagerAlerts } from '../../../../coordinator/alerting/channels/alertmanager.ts';
import { buildEmail } from '../../../../coordinator/alerting/channels/email.ts';
import { viewEvent } from '../../../../coordinator/events/view.ts';
import { parseAlertEvent } from '../../../../coordinator/events/catalog.ts';
import { buildPagerDutyEvent } from '../../../../coordinator/alerting/channels/pagerduty.ts';
import { buildSlackMessage } from '../../../../coordinator/alerting/channels/slack.ts';
import { summarize } from '../../../../coordinator/events/catalog.ts';
import { buildWebhookPayload } from '../../../../coordinator/alerting/channels/webhook.ts';
import type { DegradedAlertEvent, FlappingAlertEvent, IncidentReminderEvent, SloBurnRateEvent } from '../../../../coordinator/events/events.ts';
import { parseRoutes, route, routableEvent } from '../../../../coordinator/alerting/routing.ts';
import { check, incident, iso, T0 } from '../support.ts';

const KEY = 'R0ABCDEFGHIJKLMNOPQRSTUVWXYZ0123';
const reminder: IncidentReminderEvent = { id: 'inc-1:reminder:2', type: 'incident.reminder', at: T0 + 3_600_000, check, incident: incident({ scope: 'global', failingRegions: ['eu-west', 'us-east'], passingRegions: [] }), reminder: 2 };
const flapping: FlappingAlertEvent = { id: 'check.flapping:homepage:eu-west:1:started', type: 'check.flapping', at: T0, check, region: 'eu-west', state: 'started', flappingSince: T0, status: 'down' };
const settled: FlappingAlertEvent = { ...flapping, id: 'check.flapping:homepage:eu-west:1:ended', at: T0 + 600_000, state: 'ended', status: 'up' };
const degraded: DegradedAlertEvent = { id: `check.degraded:homepage:eu-west:${T0}`, type: 'check.degraded', at: T0, check, region: 'eu-west', reason: { slowMs: 2_345, softFailures: ['expected header x-cache to equal HIT, got MISS'] } };
const recovered: DegradedAlertEvent = { id: `check.recovered:homepage:eu-west:${T0 + 60_000}`, type: 'check.recovered', at: T0 + 60_000, check, region: 'eu-west', reason: null };
const burning: SloBurnRateEvent = {
  id: `slo.burn_rate:homepage:availability:fast:${T0}:fired`, type: 'slo.burn_rate', at: T0, check, state: 'fired', firedAt: T0,
  slo: { sli: 'availability', objective: 0.999, windowMs: 30 * 86_400_000, thresholdMs: null },
  rule: { name: 'fast', longWindowMs: 3_600_000, shortWindowMs: 300_000, factor: 14.4 },
  burnRate: { long: 15.234, short: 20 },
};
const cooled: SloBurnRateEvent = { ...burning, id: `slo.burn_rate:homepage:availability:fast:${T0}:resolved`, at: T0 + 900_000, state: 'resolved', burnRate: { long: 3, short: null } };

describe('alert-policy events', () => {
  it.each([
    [reminder, 'Reminder: Homepage is still down in all regions (global: eu-west, us-east) — CONNECT_REFUSED'],
    [flapping, 'Homepage is flapping in eu-west (now down); further changes there are held back until it settles'],
    [settled, 'Homepage is no longer flapping in eu-west (now up)'],
    [degraded, 'Homepage is degraded in eu-west — slow: 2345 ms; expected header x-cache to equal HIT, got MISS'],
    [recovered, 'Homepage is no longer degraded in eu-west'],
    [burning, 'Homepage availability SLO (99.9% over 30d) is burning its error budget 15.2x (1h) / 20x (5m) too fast — rule fast'],
    [cooled, 'Homepage availability SLO (99.9% over 30d) is no longer burning its error budget faster than 14.4x — rule fast'],
  ])('%s: validated, summarised, rendered on every channel', (event, summary) => {
    expect(parseAlertEvent(event).success).toBe(true);
    expect(summarize(event)).toBe(summary);
    expect(buildSlackMessage(event).text).toBe(summary);
    expect(buildEmail(event, { from: 'a@example.com', to: ['b@example.com'], subjectPrefix: '' }, { deliveryId: 'd' }).subject).toBe(summary);
    expect(buildWebhookPayload(event, { deliveryId: 'd', now: T0 })).toMatchObject({ event: event.type, summary });
  });

  it.each([
    ['flapping', flapping, settled, 'lookout/flapping:homepage:eu-west', { alertname: 'LookoutFlapping', check: 'homepage', region: 'eu-west', severity: 'warning' }],
    ['degraded', degraded, recovered, 'lookout/degraded:homepage:eu-west', { alertname: 'LookoutDegraded', check: 'homepage', region: 'eu-west', severity: 'warning' }],
    ['SLO burn rate', burning, cooled, 'lookout/slo_burn_rate:homepage:availability:fast', { alertname: 'LookoutSloBurnRate', check: 'homepage', sli: 'availability', rule: 'fast', severity: 'error' }],
  ])('%s: the clearing event resolves what the raising one opened', (_name, raise, clear, dedupKey, labels) => {
    expect(buildPagerDutyEvent(raise, KEY)).toMatchObject({ event_action: 'trigger', dedup_key: dedupKey });
    expect(buildPagerDutyEvent(clear, KEY)).toEqual({ routing_key: KEY, event_action: 'resolve', dedup_key: dedupKey });
    const [raised] = buildAlertmanagerAlerts(raise);
    const [cleared] = buildAlertmanagerAlerts(clear);
    expect(raised!.labels).toEqual(labels);
    expect(cleared!.labels).toEqual(labels);
    expect(raised!.endsAt).toBe(iso(raise.at + 86_400_000));
    expect(cleared!.endsAt).toBe(iso(clear.at));
    // Both ends belong to one thread, so delivery orders them and routes the clearing one to whoever heard of the first.
    expect(viewEvent(raise).thread).toBe(viewEvent(clear).thread);
    expect(viewEvent(clear).firing).toBe(false);
  });

  it('a reminder is part of its incident: same PagerDuty alert, refreshes the firing Alertmanager alerts', () => {
    expect(buildPagerDutyEvent(reminder, KEY)).toMatchObject({ event_action: 'trigger', dedup_key: 'lookout/inc-1', payload: { severity: 'critical' } });
    expect(buildAlertmanagerAlerts(reminder).filter((a) => a.endsAt > iso(reminder.at)).map((a) => `${a.labels.region}/${a.labels.scope}`)).toEqual(['eu-west/global', 'us-east/global']);
    expect(viewEvent(reminder).thread).toBe('incident:inc-1');
  });

  it('can be routed by type, and both ends of a pair share a severity', () => {
    const parsed = parseRoutes({
      rules: [
        { match: { events: ['slo.*'] }, channels: ['page'] },
        { match: { events: ['check.degraded', 'check.recovered', 'check.flapping'] }, channels: ['chat'] },
        { match: { events: 'incident.reminder' }, channels: ['chat'] },
      ],
    }, ['page', 'chat']);
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    expect([burning, cooled, degraded, recovered, flapping, reminder].map((e) => route(routableEvent(e), parsed.routes))).toEqual([
      ['page'], ['page'], ['chat'], ['chat'], ['chat'], ['chat'],
    ]);
    expect(routableEvent(burning).severity).toBe(routableEvent(cooled).severity);
    expect(routableEvent(degraded).severity).toBe(routableEvent(recovered).severity);
  });
});
