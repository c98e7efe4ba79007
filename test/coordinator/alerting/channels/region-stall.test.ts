/**
 * `probe.stalled` / `probe.recovered` (events.ts RegionStallEvent) on every channel: validated field by
 * field, summarised in words, routable by name or by the `probe.*` family, and one condition whose
 * clearing event resolves what the raising one opened (PagerDuty dedup key, Alertmanager labels).
 */
import { describe, expect, it } from 'vitest';
import { buildAlertmanagerAlerts } from '../../../../coordinator/alerting/channels/alertmanager.ts';
import { buildEmail } from '../../../../coordinator/alerting/channels/email.ts';
import { parseAlertEvent } from '../../../../coordinator/events/catalog.ts';
import { KNOWN_EVENT_TYPES } from '../../../../coordinator/events/catalog.ts';
import { viewEvent } from '../../../../coordinator/events/view.ts';
import { buildPagerDutyEvent } from '../../../../coordinator/alerting/channels/pagerduty.ts';
import { buildSlackMessage } from '../../../../coordinator/alerting/channels/slack.ts';
import { summarize } from '../../../../coordinator/events/catalog.ts';
import { buildWebhookPayload } from '../../../../coordinator/alerting/channels/webhook.ts';
import type { RegionStallEvent } from '../../../../coordinator/events/events.ts';
import { parseRoutes, route, routableEvent } from '../../../../coordinator/alerting/routing.ts';
import { iso, T0 } from '../support.ts';

const KEY = 'R0ABCDEFGHIJKLMNOPQRSTUVWXYZ0123';
const stalled: RegionStallEvent = {
  id: `probe.stalled:eu-west:${T0}`, type: 'probe.stalled', at: T0, region: 'eu-west',
  lastAnswerAt: T0 - 31_000, lastAnswerAgentId: 'agent-1', agents: ['agent-1', 'agent-2'], canaryIntervalMs: 10_000, stalledSince: T0,
};
const answered: RegionStallEvent = { ...stalled, id: `probe.recovered:eu-west:${T0 + 90_000}`, type: 'probe.recovered', at: T0 + 90_000, lastAnswerAt: T0 + 89_990, reason: 'answered' };
const agentsGone: RegionStallEvent = { ...answered, agents: [], reason: 'no-agents' };
const neverAnswered: RegionStallEvent = { ...stalled, lastAnswerAt: null, lastAnswerAgentId: null, agents: ['agent-9'] };

describe('region stall events', () => {
  it.each([
    [stalled, `Region eu-west is stalled: agents agent-1, agent-2 heartbeat but answered no canary since ${iso(T0 - 31_000)}; its checks show no data`],
    [neverAnswered, 'Region eu-west is stalled: agent agent-9 heartbeats but answered no canary yet; its checks show no data'],
    [answered, 'Region eu-west answers canaries again after 1m30s'],
    [agentsGone, 'Region eu-west is no longer stalled after 1m30s: no agent heartbeats there any more'],
  ])('%s: validated, summarised, rendered on every channel', (event, summary) => {
    expect(parseAlertEvent(event).success).toBe(true);
    expect(summarize(event)).toBe(summary);
    expect(buildSlackMessage(event).text).toBe(summary);
    expect(buildEmail(event, { from: 'a@example.com', to: ['b@example.com'], subjectPrefix: '' }, { deliveryId: 'd' }).subject).toBe(summary);
    // Webhooks carry the event's own fields under `data`, as for every type without a dedicated format.
    expect(buildWebhookPayload(event, { deliveryId: 'd', now: T0 })).toMatchObject({
      event: event.type, summary, data: { region: 'eu-west', agents: event.agents, stalledSince: T0 },
    });
  });

  it('is checked field by field on the delivery side', () => {
    const { region: _region, ...noRegion } = stalled;
    expect(parseAlertEvent(noRegion).success).toBe(false);
    expect(parseAlertEvent({ ...stalled, agents: 'agent-1' }).success).toBe(false);
    expect(parseAlertEvent({ ...answered, reason: 'because' }).success).toBe(false);
  });

  it('is one condition per region: the recovery resolves what the stall opened', () => {
    expect(buildPagerDutyEvent(stalled, KEY)).toMatchObject({ event_action: 'trigger', dedup_key: 'lookout/region_stalled:eu-west', payload: { severity: 'warning' } });
    expect(buildPagerDutyEvent(answered, KEY)).toEqual({ routing_key: KEY, event_action: 'resolve', dedup_key: 'lookout/region_stalled:eu-west' });
    const [raised] = buildAlertmanagerAlerts(stalled);
    const [cleared] = buildAlertmanagerAlerts(answered);
    const labels = { alertname: 'LookoutRegionStalled', region: 'eu-west', severity: 'warning' };
    expect(raised!.labels).toEqual(labels);
    expect(cleared!.labels).toEqual(labels);
    expect(cleared!.endsAt).toBe(iso(answered.at));
    expect(viewEvent(stalled)).toMatchObject({ kind: 'other', firing: true, thread: 'region_stalled:eu-west' });
    expect(viewEvent(agentsGone)).toMatchObject({ firing: false, thread: 'region_stalled:eu-west' });
  });

  it('can be routed by name or with the probe.* family', () => {
    expect(KNOWN_EVENT_TYPES).toEqual(expect.arrayContaining(['probe.stalled', 'probe.recovered']));
    const parsed = parseRoutes({
      rules: [
        { match: { events: ['probe.stalled', 'probe.recovered'] }, channels: ['ops'] },
        { match: { events: 'probe.*', severity: 'warning' }, channels: ['chat'] },
      ],
    }, ['ops', 'chat']);
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    expect([stalled, answered].map((e) => route(routableEvent(e), parsed.routes))).toEqual([['ops', 'chat'], ['ops', 'chat']]);
  });
});
