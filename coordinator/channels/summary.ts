/**
 * One-line human summaries of alert events, shared by every channel (webhook `summary`, chat
 * messages, email subjects). Pure.
 *
 * Examples:
 * - `Homepage is down in eu-west (regional; passing: ap-south, us-east) — CONNECT_REFUSED`
 * - `Homepage is down in all regions (global: eu-west, us-east) — TIMEOUT, CONNECT_REFUSED`
 * - `Homepage has recovered after 12m30s`
 * - `Probe agent agent-7 in eu-west is offline (last seen 2024-05-01T12:00:00.000Z)`
 */
import { formatDuration } from '../../checks/duration.ts';
import type { AlertEvent, IncidentAlertEvent, ProbeAlertEvent } from '../events.ts';

export function summarize(event: AlertEvent): string {
  return 'incident' in event ? summarizeIncident(event) : summarizeProbe(event);
}

function summarizeIncident(event: IncidentAlertEvent): string {
  const { incident } = event;
  const name = event.check.name || event.check.id;
  const noData = incident.noDataRegions.length > 0 ? `; no data: ${incident.noDataRegions.join(', ')}` : '';

  if (event.type === 'incident.resolved') {
    const duration = formatDuration(Math.max(0, (incident.resolvedAt ?? event.at) - incident.firstFailureAt));
    return `${name} has recovered after ${duration}`;
  }

  const verb = event.type === 'incident.updated' ? 'is now down' : 'is down';
  const where = incident.scope === 'global'
    ? `in all regions (global: ${incident.failingRegions.join(', ')}${noData})`
    : `in ${incident.failingRegions.join(', ')} (regional; passing: ${incident.passingRegions.join(', ')}${noData})`;
  const codes = distinctErrorCodes(event);
  return `${name} ${verb} ${where}${codes.length > 0 ? ` — ${codes.join(', ')}` : ''}`;
}

/** Error codes of the failing regions, each once, in region order. */
function distinctErrorCodes(event: IncidentAlertEvent): string[] {
  const codes: string[] = [];
  for (const region of event.incident.failingRegions) {
    const code = event.incident.lastErrors[region]?.code;
    if (code && !codes.includes(code)) codes.push(code);
  }
  return codes;
}

function summarizeProbe(event: ProbeAlertEvent): string {
  const { agentId, region, lastSeenAt } = event.agent;
  return event.type === 'probe.offline'
    ? `Probe agent ${agentId} in ${region} is offline (last seen ${new Date(lastSeenAt).toISOString()})`
    : `Probe agent ${agentId} in ${region} is back online`;
}
