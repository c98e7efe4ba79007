/**
 * Prometheus Alertmanager channel: posts alerts to the API v2 (`POST <url>/api/v2/alerts`, a JSON
 * array of `{ labels, annotations, startsAt, endsAt, generatorURL }`). Alertmanager identifies an
 * alert by its label set and treats one whose `endsAt` has passed as resolved.
 *
 * Incidents: one alert per (check, region, scope), labelled
 * `{ alertname: "LookoutCheckDown", check, region, scope, severity, incident, ...config.labels }`.
 * Every event of an incident posts the alerts of all its regions in both scopes: the failing regions
 * in the current scope fire (`endsAt` = event time + `firingTimeoutMs`), every other one is resolved
 * (`endsAt` = event time). So a region that recovers, an incident that turns from regional to global,
 * and the incident's resolution all leave exactly the right alerts active, without remembering what
 * was sent before. Resolved alerts that never fired notify nobody.
 *
 * Probe agents: `{ alertname: "LookoutProbeOffline", agent, region, severity }`, firing on
 * `probe.offline`, resolved on `probe.online`. Conditions: `LookoutFlapping` and `LookoutDegraded`
 * `{ check, region, severity }`, `LookoutSloBurnRate` `{ check, sli, rule, severity }`, raised and
 * cleared by their pair of events. Other event types: `{ alertname: "LookoutEvent", event, check?,
 * severity }`, firing for `firingTimeoutMs`.
 *
 * Alertmanager expects clients to re-send active alerts; Lookout sends on every change instead, so a
 * firing alert carries an explicit `endsAt` far enough ahead (`firingTimeoutMs`) that it does not
 * lapse while the incident lasts.
 *
 * Alertmanager only takes a shorter `endsAt` from an update when that time has already passed on its
 * own clock (otherwise the later explicit end wins), so a resolution's `endsAt` is the event time but
 * at least {@link CLOCK_SKEW_MARGIN_MS} before the send: the resolution lands even when Alertmanager's
 * clock is behind ours by up to that much.
 */
import { isHttpUrl } from '../../../lib/urls.ts';
import { z } from 'zod';
import { explicitSeverity, viewEvent, type AnyAlertEvent, type Severity } from '../../events/view.ts';
import { truncate } from './facts.ts';
import { evidenceOf, regionRows, whyLine } from './evidence.ts';
import { postOnce } from './http.ts';
import { summarize } from '../../events/catalog.ts';
import { ChannelCommonConfig, type ChannelModule, type ChannelRequest } from './types.ts';

export const ALERTMANAGER_USER_AGENT = 'Lookout-Alertmanager/1';
/** How far Alertmanager's clock may be behind the coordinator's without losing a resolution. */
export const CLOCK_SKEW_MARGIN_MS = 30_000;
const DAY_MS = 86_400_000;

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RESERVED_LABELS = ['alertname', 'check', 'region', 'scope', 'severity', 'incident', 'agent', 'event', 'sli', 'rule'];

export const AlertmanagerConfigSchema = z.strictObject({
  type: z.literal('alertmanager'),
  ...ChannelCommonConfig,
  /** Base URL of Alertmanager (or of a load balancer in front of its cluster), e.g. `http://alertmanager:9093`. */
  url: z.string().refine(isHttpUrl, 'must be an http(s) URL, like http://alertmanager:9093'),
  /**
   * Labels added to every alert (for Alertmanager routing), e.g. `{ "team": "web" }`. They cannot
   * replace Lookout's own labels.
   * @defaultValue {}
   */
  labels: z.record(z.string(), z.string())
    .superRefine((labels, ctx) => {
      for (const name of Object.keys(labels)) {
        const problem = !LABEL_NAME.test(name) ? 'must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)'
          : RESERVED_LABELS.includes(name) ? `is one of Lookout's own labels (${RESERVED_LABELS.join(', ')})` : null;
        if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
      }
    })
    .default({}),
  /**
   * How long a firing alert stays active in Alertmanager without another event (its `endsAt`).
   * Every change of the incident refreshes it; choose it longer than your incidents last.
   * @defaultValue 86400000 (24 hours)
   */
  firingTimeoutMs: z.number().int().min(60_000).max(30 * DAY_MS).default(DAY_MS),
  /**
   * Sent as `authorization: Bearer <token>` (for an Alertmanager behind an authenticating proxy).
   * A secret: give it as `{ "env": "ALERTMANAGER_TOKEN" }`.
   * @defaultValue undefined (no authorization header)
   */
  bearerToken: z.string().min(1).optional(),
});
export type AlertmanagerConfig = z.infer<typeof AlertmanagerConfigSchema>;

/** One alert as Alertmanager's API v2 takes it (`postableAlert`). */
export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Severity of an incident alert in one scope: the event's own, else critical when global, warning when regional. */
function scopeSeverity(explicit: Severity | null, scope: 'regional' | 'global'): Severity {
  return explicit ?? (scope === 'global' ? 'critical' : 'warning');
}

/** The alerts one event posts. Pure. */
export function buildAlertmanagerAlerts(
  event: AnyAlertEvent,
  options: {
    labels?: Record<string, string>;
    firingTimeoutMs?: number;
    dashboardUrl?: string;
    /** When the alerts are sent; resolutions end at least {@link CLOCK_SKEW_MARGIN_MS} before it. @defaultValue the event time */
    now?: number;
  } = {},
): AlertmanagerAlert[] {
  const view = viewEvent(event);
  const extra = options.labels ?? {};
  const firingEnd = iso(event.at + (options.firingTimeoutMs ?? DAY_MS));
  const resolvedAt = Math.min(event.at, (options.now ?? event.at + CLOCK_SKEW_MARGIN_MS) - CLOCK_SKEW_MARGIN_MS);
  /** A resolution's end, never before the alert's start (Alertmanager refuses that). */
  const resolvedEnd = (startsAt: number): string => iso(Math.max(startsAt, resolvedAt));
  const summary = truncate(summarize(event), 1024);
  const ownSeverity = explicitSeverity(event);

  if (view.kind === 'incident') {
    const { incident, check } = view.event;
    const evidence = evidenceOf(view);
    // Annotations are strings: the top difference as one, the evidence as JSON (regions as compact rows).
    const evidenceAnnotations = evidence && view.firing ? {
      ...(whyLine(view) ? { why: truncate(whyLine(view)!, 1024) } : {}),
      evidence: truncate(JSON.stringify({ differences: evidence.differences, regions: regionRows(evidence) }), 16_384),
    } : {};
    const generatorURL = options.dashboardUrl ? `${options.dashboardUrl}/api/checks/${encodeURIComponent(check.id)}` : undefined;
    const regions = [...new Set([...incident.failingRegions, ...incident.passingRegions, ...incident.noDataRegions])].sort();
    const alerts: AlertmanagerAlert[] = [];
    const startsAt = Math.min(incident.firstFailureAt, event.at);
    for (const scope of ['regional', 'global'] as const) {
      for (const region of regions) {
        const firing = view.firing && scope === incident.scope && incident.failingRegions.includes(region);
        const failure = incident.lastErrors[region];
        alerts.push({
          labels: {
            ...extra, alertname: 'LookoutCheckDown', check: check.id, region, scope,
            severity: scopeSeverity(ownSeverity, scope), incident: incident.id,
          },
          annotations: {
            summary,
            check_name: check.name || check.id,
            ...(firing && failure ? { description: truncate(`${failure.code}: ${failure.message}`, 1024), error_code: failure.code } : {}),
            ...(firing ? evidenceAnnotations : {}),
          },
          startsAt: iso(startsAt),
          endsAt: firing ? firingEnd : resolvedEnd(startsAt),
          ...(generatorURL ? { generatorURL } : {}),
        });
      }
    }
    return alerts;
  }

  if (view.kind === 'probe') {
    const { agent } = view.event;
    const startsAt = Math.min(agent.lastSeenAt, event.at);
    return [{
      labels: { ...extra, alertname: 'LookoutProbeOffline', agent: agent.agentId, region: agent.region, severity: view.severity },
      annotations: { summary },
      startsAt: iso(startsAt),
      endsAt: view.firing ? firingEnd : resolvedEnd(startsAt),
      ...(options.dashboardUrl ? { generatorURL: `${options.dashboardUrl}/api/agents` } : {}),
    }];
  }

  if (view.condition !== null) {
    const startsAt = event.at;
    const name = `Lookout${view.condition.split('_').map((word) => word[0]!.toUpperCase() + word.slice(1)).join('')}`;
    return [{
      labels: { ...extra, alertname: name, ...(view.check ? { check: view.check.id } : {}), ...view.identity, severity: view.severity },
      annotations: { summary },
      startsAt: iso(startsAt),
      endsAt: view.firing ? firingEnd : resolvedEnd(startsAt),
      ...(options.dashboardUrl ? { generatorURL: view.check ? `${options.dashboardUrl}/api/checks/${encodeURIComponent(view.check.id)}` : `${options.dashboardUrl}/` } : {}),
    }];
  }

  return [{
    labels: { ...extra, alertname: 'LookoutEvent', event: event.type, ...(view.check ? { check: view.check.id } : {}), severity: view.severity },
    annotations: { summary },
    startsAt: iso(event.at),
    endsAt: firingEnd,
    ...(options.dashboardUrl ? { generatorURL: view.check ? `${options.dashboardUrl}/api/checks/${encodeURIComponent(view.check.id)}` : `${options.dashboardUrl}/` } : {}),
  }];
}

/** `<url>/api/v2/alerts`, whether or not the configured URL ends with a slash. */
export function alertsEndpoint(url: string): string {
  return `${url.replace(/\/+$/, '')}/api/v2/alerts`;
}

export const alertmanagerChannel: ChannelModule<AlertmanagerConfig> = {
  type: 'alertmanager',
  ordering: 'latest-state',
  configSchema: AlertmanagerConfigSchema,

  buildPayload(event, config, context): ChannelRequest {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': ALERTMANAGER_USER_AGENT };
    if (config.bearerToken !== undefined) headers.authorization = `Bearer ${config.bearerToken}`;
    const alerts = buildAlertmanagerAlerts(event, {
      labels: config.labels, firingTimeoutMs: config.firingTimeoutMs, now: context.now,
      ...(context.dashboardUrl ? { dashboardUrl: context.dashboardUrl } : {}),
    });
    return { headers, body: JSON.stringify(alerts) };
  },

  send(request, config, context) {
    return postOnce(alertsEndpoint(config.url), request, context, { timeoutMs: config.timeoutMs });
  },
};
