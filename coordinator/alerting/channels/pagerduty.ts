/**
 * PagerDuty channel: sends Events API v2 events (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/,
 * `POST https://events.pagerduty.com/v2/enqueue`).
 *
 * - An open incident is a `trigger` with `dedup_key` `lookout/<incident id>`, so every update of one
 *   Lookout incident updates one PagerDuty alert; its resolution is a `resolve` with the same key.
 * - `probe.offline` triggers `lookout/agent/<agent id>`; `probe.online` resolves it.
 * - Conditions (`check.flapping` started/ended, `check.degraded`/`check.recovered`, `slo.burn_rate`
 *   fired/resolved) trigger and resolve `lookout/<condition>:<check>:<region or sli:rule>`.
 * - Any other event type is a `trigger` with `dedup_key` `lookout/event/<event id>` (a notice).
 * - `payload.severity` is the event's severity (`critical` for a global incident, `warning` for a
 *   regional one, unless the event says otherwise); `payload.summary` is the one-line summary
 *   (at most 1024 characters); `payload.source` names the check (`lookout/<check id>`) or the agent.
 *
 * PagerDuty answers 202; 400 (invalid event) is permanent; 429 and 5xx are retried. Sends of one
 * incident are ordered (`latest-state`), so a late `trigger` can never re-open a resolved alert.
 */
import { isHttpUrl } from '../../../lib/urls.ts';
import { z } from 'zod';
import { distinctErrorCodes } from '../../events/summary.ts';
import { evidenceOf, regionRows, whyLine } from './evidence.ts';
import { summarize } from '../../events/catalog.ts';
import { flattenFields, viewEvent, type AnyAlertEvent, type Severity } from '../../events/view.ts';
import { truncate } from './facts.ts';
import { postOnce } from './http.ts';
import { ChannelCommonConfig, type ChannelModule, type ChannelRequest } from './types.ts';

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';
export const PAGERDUTY_USER_AGENT = 'Lookout-PagerDuty/1';

export const PagerDutyConfigSchema = z.strictObject({
  type: z.literal('pagerduty'),
  ...ChannelCommonConfig,
  /**
   * The integration key of an Events API v2 integration (or an event orchestration's routing key).
   * A secret: give it as `{ "env": "PAGERDUTY_ROUTING_KEY" }` in the alerting config.
   */
  routingKey: z.string().regex(/^\S{1,64}$/, 'must be the 32-character integration key, without spaces'),
  /**
   * Events API endpoint; change it for PagerDuty's EU service region (`https://events.eu.pagerduty.com/v2/enqueue`).
   * @defaultValue 'https://events.pagerduty.com/v2/enqueue'
   */
  url: z.string().refine(isHttpUrl, 'must be an http(s) URL').default(PAGERDUTY_EVENTS_URL),
});
export type PagerDutyConfig = z.infer<typeof PagerDutyConfigSchema>;

export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'resolve';
  dedup_key: string;
  /** Only on `trigger`. */
  payload?: {
    summary: string;
    source: string;
    severity: Severity;
    timestamp: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details: Record<string, unknown>;
  };
  client?: string;
  client_url?: string;
  links?: Array<{ href: string; text: string }>;
}

/** PagerDuty's limits. */
const MAX_SUMMARY = 1024;
const MAX_DEDUP_KEY = 255;

/** The Events API v2 event for one Lookout event. Pure. */
export function buildPagerDutyEvent(event: AnyAlertEvent, routingKey: string, dashboardUrl?: string): PagerDutyEvent {
  const view = viewEvent(event);
  let dedupKey: string;
  let source: string;
  let extra: Pick<NonNullable<PagerDutyEvent['payload']>, 'component' | 'group' | 'class'> = {};
  let details: Record<string, unknown>;

  if (view.kind === 'incident') {
    const { incident, check } = view.event;
    dedupKey = `lookout/${incident.id}`;
    source = `lookout/${check.id}`;
    const codes = distinctErrorCodes(view.event);
    extra = {
      component: check.id, group: incident.failingRegions.join(',') || undefined, class: codes.join(',') || undefined,
    };
    details = {
      check: check.name || check.id, checkId: check.id, scope: incident.scope,
      failingRegions: incident.failingRegions, passingRegions: incident.passingRegions, noDataRegions: incident.noDataRegions,
      errors: Object.fromEntries(incident.failingRegions.flatMap((region) => {
        const failure = incident.lastErrors[region];
        return failure ? [[region, `${failure.code}: ${failure.message}`]] : [];
      })),
      firstFailureAt: new Date(incident.firstFailureAt).toISOString(), incidentId: incident.id, eventId: event.id, eventType: event.type,
    };
    const evidence = evidenceOf(view);
    if (evidence) {
      // The top difference first, as its own line; then every difference and the per-region comparison.
      details = { why: whyLine(view), ...details, differences: evidence.differences.map((d) => d.text), regions: regionRows(evidence) };
    }
  } else if (view.kind === 'probe') {
    const { agent } = view.event;
    dedupKey = `lookout/agent/${agent.agentId}`;
    source = `lookout/agent/${agent.agentId}`;
    extra = { component: 'lookout-agent', group: agent.region };
    details = { agentId: agent.agentId, region: agent.region, lastSeenAt: new Date(agent.lastSeenAt).toISOString(), eventId: event.id, eventType: event.type };
  } else if (view.thread !== null) {
    // A condition (flapping, degraded, SLO burn rate): raised and cleared under one key.
    dedupKey = `lookout/${view.thread}`;
    source = view.check ? `lookout/${view.check.id}` : 'lookout';
    extra = { class: view.condition ?? event.type, ...(view.check ? { component: view.check.id } : {}), ...(view.identity.region ? { group: view.identity.region } : {}) };
    details = { eventId: event.id, eventType: event.type, ...Object.fromEntries(flattenFields(view.fields)) };
  } else {
    dedupKey = `lookout/event/${event.id}`;
    source = view.check ? `lookout/${view.check.id}` : 'lookout';
    extra = { class: event.type, ...(view.check ? { component: view.check.id } : {}) };
    details = { eventId: event.id, eventType: event.type, ...Object.fromEntries(flattenFields(view.fields)) };
  }

  const base = { routing_key: routingKey, dedup_key: truncate(dedupKey, MAX_DEDUP_KEY) };
  if (!view.firing) return { ...base, event_action: 'resolve' };
  const cleanExtra = Object.fromEntries(Object.entries(extra).filter(([, value]) => value !== undefined));
  return {
    ...base,
    event_action: 'trigger',
    payload: {
      summary: truncate(summarize(event), MAX_SUMMARY),
      source,
      severity: view.severity,
      timestamp: new Date(event.at).toISOString(),
      ...cleanExtra,
      custom_details: details,
    },
    client: 'Lookout',
    ...(dashboardUrl ? { client_url: dashboardUrl, links: [{ href: dashboardUrl, text: 'Lookout dashboard' }] } : {}),
  };
}

export const pagerDutyChannel: ChannelModule<PagerDutyConfig> = {
  type: 'pagerduty',
  ordering: 'latest-state',
  configSchema: PagerDutyConfigSchema,

  buildPayload(event, config, context): ChannelRequest {
    return {
      headers: { 'content-type': 'application/json', 'user-agent': PAGERDUTY_USER_AGENT },
      body: JSON.stringify(buildPagerDutyEvent(event, config.routingKey, context.dashboardUrl)),
    };
  },

  send(request, config, context) {
    return postOnce(config.url, request, context, { timeoutMs: config.timeoutMs });
  },
};
