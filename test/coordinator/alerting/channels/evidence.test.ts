/**
 * Every channel shows why the region fails: the incident's top difference in one line (Slack, PagerDuty,
 * email, the webhook's `why` and Alertmanager's `why` annotation), and the webhook and Alertmanager carry
 * the whole evidence. A resolved incident shows none; a malformed evidence is shown as none, never an error.
 */
import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../../../coordinator/events/events.ts';
import { incidentEvidence, type RegionEvidence } from '../../../../coordinator/detection/evidence.ts';
import { buildAlertmanagerAlerts } from '../../../../coordinator/alerting/channels/alertmanager.ts';
import { buildEmail } from '../../../../coordinator/alerting/channels/email.ts';
import { buildPagerDutyEvent } from '../../../../coordinator/alerting/channels/pagerduty.ts';
import { buildSlackMessage } from '../../../../coordinator/alerting/channels/slack.ts';
import { buildWebhookPayload, type WebhookIncidentPayload } from '../../../../coordinator/alerting/channels/webhook.ts';
import { summarize } from '../../../../coordinator/events/catalog.ts';
import { check, incident, T0 } from '../support.ts';

const region = (outcome: 'pass' | 'fail', addresses: string[], code: string | null = null): RegionEvidence => ({
  at: T0, outcome, code, message: code, statusCode: outcome === 'pass' ? 200 : null, evidence: null,
  network: { url: 'https://shop.example.com/', host: 'shop.example.com', resolver: 'system', addresses, connectedAddress: null, port: 443, tls: null, httpVersion: outcome === 'pass' ? '1.1' : null, edge: [] },
});
const evidence = incidentEvidence({ failingRegions: ['eu-west'], passingRegions: ['ap-south', 'us-east'], noDataRegions: [] }, {
  'eu-west': region('fail', ['203.0.113.9'], 'CONNECT_REFUSED'), 'us-east': region('pass', ['198.51.100.7']), 'ap-south': region('pass', ['198.51.100.7']),
});
const WHY = 'eu-west resolves shop.example.com to 203.0.113.9, the passing regions to 198.51.100.7';
const opened: AlertEvent = { id: 'inc-1:1', type: 'incident.opened', at: T0, check, incident: incident({ evidence }) };
const resolved: AlertEvent = {
  id: 'inc-1:2', type: 'incident.resolved', at: T0 + 60_000, check,
  incident: incident({ evidence, failingRegions: [], passingRegions: ['ap-south', 'eu-west', 'us-east'], resolvedAt: T0 + 60_000, seq: 2 }),
};
const context = { deliveryId: 'd-1', now: T0 + 1_000 };

describe('why a region fails, in every channel', () => {
  it('the webhook carries the top difference and the whole evidence', () => {
    const payload = buildWebhookPayload(opened, context) as WebhookIncidentPayload;
    expect(payload.why).toBe(WHY);
    expect(payload.evidence).toEqual(evidence);
    const after = buildWebhookPayload(resolved, context) as WebhookIncidentPayload;
    expect(after.why).toBeNull();
  });

  it('Slack shows it as its own line under the summary', () => {
    const message = buildSlackMessage(opened);
    expect(message.blocks[2]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: `*Why:* ${WHY}` } });
    expect(JSON.stringify(buildSlackMessage(resolved))).not.toContain('Why:');
  });

  it('PagerDuty puts it first in the custom details, with every difference and a row per region', () => {
    const details = buildPagerDutyEvent(opened, 'key').payload!.custom_details;
    expect(Object.keys(details)[0]).toBe('why');
    expect(details).toMatchObject({ why: WHY, differences: [WHY, 'eu-west gets CONNECT_REFUSED, the passing regions status 200'] });
    expect((details.regions as Array<{ region: string; addresses: string }>).map((r) => `${r.region} ${r.addresses}`)).toEqual(['ap-south 198.51.100.7', 'eu-west 203.0.113.9', 'us-east 198.51.100.7']);
  });

  it('email says it under the summary, in text and HTML', () => {
    const email = buildEmail(opened, { from: 'Lookout <a@example.com>', to: ['ops@example.com'], subjectPrefix: '' }, { deliveryId: 'd-1' });
    expect(email.text.split('\n')[1]).toBe(`Why: ${WHY}`);
    expect(email.html).toContain(`<p><b>Why:</b> ${WHY}</p>`);
  });

  it('Alertmanager annotates the failing region\'s firing alert with it and the evidence as JSON', () => {
    const alerts = buildAlertmanagerAlerts(opened, { now: T0 + 1_000 });
    const firing = alerts.filter((a) => a.labels.region === 'eu-west' && a.labels.scope === 'regional');
    expect(firing).toHaveLength(1);
    expect(firing[0]!.annotations.why).toBe(WHY);
    expect(JSON.parse(firing[0]!.annotations.evidence!)).toMatchObject({ differences: evidence.differences, regions: expect.any(Array) });
    const passing = alerts.find((a) => a.labels.region === 'us-east' && a.labels.scope === 'regional')!;
    expect(passing.annotations.why).toBeUndefined();
  });

  it('a malformed evidence (from another version, say) is shown as none', () => {
    const odd: AlertEvent = { ...opened, incident: { ...opened.incident, evidence: { differences: 'nope' } as never } } as AlertEvent;
    expect((buildWebhookPayload(odd, context) as WebhookIncidentPayload).evidence).toBeNull();
    expect(buildSlackMessage(odd).blocks.some((b) => JSON.stringify(b).includes('Why:'))).toBe(false);
  });
});

describe('blocked, not down', () => {
  it('says the probes of the region are being blocked by the target', () => {
    const blocked: AlertEvent = {
      id: 'inc-2:1', type: 'incident.opened', at: T0, check,
      incident: incident({ id: 'inc-2', lastErrors: { 'eu-west': { code: 'BLOCKED_BY_TARGET', message: 'the target blocked this probe: Cloudflare challenge (cf-mitigated: challenge); …', at: T0 } } }),
    };
    expect(summarize(blocked)).toBe('Homepage: the target is blocking the probes of eu-west (regional; passing: ap-south, us-east) — BLOCKED_BY_TARGET');
  });
});
