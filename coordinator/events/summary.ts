/**
 * One-line human summaries of alert events (the event catalog, catalog.ts, names each type's), shared by every channel (webhook `summary`, chat
 * messages, email subjects, PagerDuty summaries, Alertmanager annotations). Pure.
 *
 * Examples:
 * - `Homepage is down in eu-west (regional; passing: ap-south, us-east) — CONNECT_REFUSED`
 * - `Homepage is down in all regions (global: eu-west, us-east) — TIMEOUT, CONNECT_REFUSED`
 * - `Homepage has recovered after 12m30s`
 * - `Homepage: the target is blocking the probes of eu-west (regional; passing: us-east) — BLOCKED_BY_TARGET`
 * - `Probe agent agent-7 in eu-west is offline (last seen 2024-05-01T12:00:00.000Z)`
 * - `Reminder: Homepage is still down in eu-west (regional; passing: us-east) — TIMEOUT`
 * - `Homepage is flapping in eu-west (now down)`, `Homepage is degraded in eu-west — slow: 2300 ms`
 * - `Region eu-west is stalled: agent agent-7 heartbeats but answered no canary since 2024-05-01T12:00:00.000Z; its checks show no data`
 * - `Homepage availability SLO (99.9% over 30d) is burning its error budget 14.4x (1h) / 15x (5m) too fast — rule fast`
 * - a type added later: `[incident.acknowledged] Homepage is down in eu-west (...)`, or
 *   `[some.notice] Homepage: <the event's summary or message field>`
 */
import { formatDuration } from '../../checks/duration.ts';
import { INCIDENT_EVENT_TYPES, type IncidentAlertEvent, type ProbeAlertEvent } from './events.ts';

/** Whether this is one of the incident types the summaries have words for. */
const isKnownIncidentType = (type: string): boolean => (INCIDENT_EVENT_TYPES as readonly string[]).includes(type);

export function summarizeIncident(event: IncidentAlertEvent): string {
  const { incident } = event;
  const name = event.check.name || event.check.id;
  const noData = incident.noDataRegions.length > 0 ? `; no data: ${incident.noDataRegions.join(', ')}` : '';
  // Reminders carry an incident too (events.ts IncidentReminderEvent); compared as a string for types the union lacks.
  const reminder = (event.type as string) === 'incident.reminder' && incident.resolvedAt === null;
  const tag = isKnownIncidentType(event.type) || reminder ? '' : `[${event.type}] `;

  if (event.type === 'incident.resolved' || incident.resolvedAt !== null) {
    const duration = formatDuration(Math.max(0, (incident.resolvedAt ?? event.at) - incident.firstFailureAt));
    return `${tag}${name} has recovered after ${duration}`;
  }

  const verb = reminder ? 'is still down' : event.type === 'incident.updated' ? 'is now down' : 'is down';
  const where = incident.scope === 'global'
    ? `in all regions (global: ${incident.failingRegions.join(', ')}${noData})`
    : `in ${incident.failingRegions.join(', ')} (regional; passing: ${incident.passingRegions.join(', ')}${noData})`;
  const codes = distinctErrorCodes(event);
  const lead = reminder ? 'Reminder: ' : tag;
  // Blocked, not down: the probes of these regions are refused by the target, which needs another fix.
  const blocked = incident.failingRegions.length > 0 && incident.failingRegions.every((region) => incident.lastErrors[region]?.code === 'BLOCKED_BY_TARGET');
  if (blocked) {
    const scope = incident.scope === 'global' ? 'global' : `regional; passing: ${incident.passingRegions.join(', ')}${noData}`;
    return `${lead}${name}: the target is blocking the probes of ${incident.failingRegions.join(', ')} (${scope}) — BLOCKED_BY_TARGET`;
  }
  return `${lead}${name} ${verb} ${where}${codes.length > 0 ? ` — ${codes.join(', ')}` : ''}`;
}

const record = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null ? value as Record<string, unknown> : {});
const times = (rate: unknown): string => (typeof rate === 'number' ? `${Math.round(rate * 10) / 10}x` : 'n/a');
/** SLO windows read best in days (`30d`), rule windows as durations (`1h`, `5m`). */
const window = (ms: unknown): string => {
  if (typeof ms !== 'number' || ms <= 0) return '?';
  return ms >= 86_400_000 && ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : formatDuration(ms);
};

export function summarizeFlapping(name: string, fields: Record<string, unknown>): string {
  const region = typeof fields.region === 'string' ? fields.region : 'a region';
  const now = typeof fields.status === 'string' ? ` (now ${fields.status})` : '';
  return fields.state === 'ended'
    ? `${name} is no longer flapping in ${region}${now}`
    : `${name} is flapping in ${region}${now}; further changes there are held back until it settles`;
}

export function summarizeDegraded(type: 'check.degraded' | 'check.recovered', name: string, fields: Record<string, unknown>): string {
  const region = typeof fields.region === 'string' ? fields.region : 'a region';
  if (type === 'check.recovered') return `${name} is no longer degraded in ${region}`;
  const reason = record(fields.reason);
  const parts = [
    ...(typeof reason.slowMs === 'number' ? [`slow: ${Math.round(reason.slowMs)} ms`] : []),
    ...(Array.isArray(reason.softFailures) ? reason.softFailures.filter((f): f is string => typeof f === 'string') : []),
  ];
  return `${name} is degraded in ${region}${parts.length > 0 ? ` — ${parts.join('; ')}` : ''}`;
}

export function summarizeSloBurnRate(name: string, fields: Record<string, unknown>): string {
  const slo = record(fields.slo);
  const rule = record(fields.rule);
  const burn = record(fields.burnRate);
  const objective = typeof slo.objective === 'number' ? `${Math.round(slo.objective * 100_000) / 1_000}%` : '?';
  const what = `${name} ${typeof slo.sli === 'string' ? `${slo.sli} ` : ''}SLO (${objective} over ${window(slo.windowMs)})`;
  const ruleName = typeof rule.name === 'string' ? ` — rule ${rule.name}` : '';
  if (fields.state === 'resolved') return `${what} is no longer burning its error budget faster than ${times(rule.factor)}${ruleName}`;
  return `${what} is burning its error budget ${times(burn.long)} (${window(rule.longWindowMs)}) / ${times(burn.short)} (${window(rule.shortWindowMs)}) too fast${ruleName}`;
}

/** Summaries of `probe.stalled` / `probe.recovered` (events.ts RegionStallEvent). */
export function summarizeRegionStall(type: string, at: number, fields: Record<string, unknown>): string {
  const region = typeof fields.region === 'string' ? fields.region : 'a region';
  if (type === 'probe.stalled') {
    const agents = Array.isArray(fields.agents) ? fields.agents.filter((a): a is string => typeof a === 'string') : [];
    const since = typeof fields.lastAnswerAt === 'number' ? `since ${new Date(fields.lastAnswerAt).toISOString()}` : 'yet';
    const who = agents.length === 0 ? 'its agents heartbeat' : agents.length === 1 ? `agent ${agents[0]} heartbeats` : `agents ${agents.join(', ')} heartbeat`;
    return `Region ${region} is stalled: ${who} but answered no canary ${since}; its checks show no data`;
  }
  const lasted = typeof fields.stalledSince === 'number' ? ` after ${formatDuration(Math.max(0, at - fields.stalledSince))}` : '';
  if (fields.reason === 'no-agents') return `Region ${region} is no longer stalled${lasted}: no agent heartbeats there any more`;
  if (fields.reason === 'canaries-off') return `Region ${region} is no longer watched for stalls${lasted}: no canaries are sent`;
  return `Region ${region} answers canaries again${lasted}`;
}

/** Error codes of the failing regions, each once, in region order. */
export function distinctErrorCodes(event: IncidentAlertEvent): string[] {
  const codes: string[] = [];
  for (const region of event.incident.failingRegions) {
    const code = event.incident.lastErrors[region]?.code;
    if (code && !codes.includes(code)) codes.push(code);
  }
  return codes;
}

export function summarizeProbe(event: ProbeAlertEvent): string {
  const { agentId, region, lastSeenAt } = event.agent;
  return event.type === 'probe.offline'
    ? `Probe agent ${agentId} in ${region} is offline (last seen ${new Date(lastSeenAt).toISOString()})`
    : `Probe agent ${agentId} in ${region} is back online`;
}

/** Summaries of `monitoring.degraded` / `monitoring.recovered` (events.ts MonitoringAlertEvent). */
export function summarizeMonitoring(type: string, at: number, fields: Record<string, unknown>): string {
  const what: Record<string, string> = {
    'redis-failover': 'Redis has a new primary',
    'ingest-backlog': 'results are waiting to be ingested',
    'results-lag': 'results reach the coordinators late',
    'delivery-backlog': 'alert deliveries are waiting',
  };
  const reason = typeof fields.reason === 'string' ? what[fields.reason] ?? fields.reason : 'the monitoring is degraded';
  const detail = typeof fields.detail === 'string' && fields.detail !== '' ? ` (${fields.detail})` : '';
  if (type === 'monitoring.recovered') {
    const over: Record<string, string> = {
      'redis-failover': 'the new Redis primary has settled',
      'ingest-backlog': 'the results backlog is cleared',
      'results-lag': 'results reach the coordinators in time again',
      'delivery-backlog': 'alert deliveries caught up',
    };
    const lasted = typeof fields.since === 'number' ? ` after ${formatDuration(Math.max(0, at - fields.since))}` : '';
    const what = typeof fields.reason === 'string' ? over[fields.reason] ?? `${fields.reason} is over` : 'it recovered';
    return `Lookout is no longer degraded${lasted}: ${what}${detail}`;
  }
  return `Lookout itself is degraded: ${reason}${detail}; verdicts may lag, targets are not blamed`;
}
