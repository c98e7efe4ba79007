/**
 * What every channel needs to know about an event, whatever its type: is it about an incident, an
 * agent, or something else (a type added after the channels were written); does it raise or clear an
 * alert; how severe is it; which thread (incident, agent) does it belong to. Pure.
 *
 * Channels render the three kinds differently; an unknown type is never an error: it is rendered
 * generically from its fields, so a new event type reaches receivers before anyone writes a template.
 */
import { SEVERITIES, catalogEntry, type AnyAlertEvent, type ConditionRule, type Severity } from './catalog.ts';
import type { IncidentAlertEvent, ProbeAlertEvent } from './events.ts';

export { SEVERITIES, type AnyAlertEvent, type Severity } from './catalog.ts';

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The condition rule of a type (catalog.ts), if it raises or clears one. */
const conditionOf = (type: string): ConditionRule | undefined => catalogEntry(type)?.condition;
const isProbeType = (type: string): boolean => catalogEntry(type)?.kind === 'probe';

export type EventView =
  | {
    kind: 'incident';
    /** May be a type added later that carries an incident (e.g. `incident.reminder`). */
    event: IncidentAlertEvent;
    /** True while the incident is open: the alert should be raised (or kept raised). */
    firing: boolean;
    severity: Severity;
    /** Routing and ordering key: `incident:<id>`. */
    thread: string;
    /** Position in the thread: the incident's `seq`. */
    position: number;
  }
  | { kind: 'probe'; event: ProbeAlertEvent; firing: boolean; severity: Severity; thread: string; position: number }
  | {
    kind: 'other';
    event: AnyAlertEvent;
    /** True for notices and for events that raise a condition; false for those that clear one. */
    firing: boolean;
    severity: Severity;
    /** The condition (`flapping`, `degraded`, `slo_burn_rate`, `region_stalled`) for condition events of the catalog, else null (a notice). */
    condition: string | null;
    /** Identifying fields of the condition (`region`, or `sli` and `rule`); empty for notices. */
    identity: Record<string, string>;
    /** `<condition>:<check>:<identity...>` for conditions (`<condition>:<identity...>` for one about no check), null for notices. */
    thread: string | null;
    /** The event time for conditions. */
    position: number | null;
    check: { id: string; name: string } | null;
    /** The event's own fields other than id, type and at, for generic rendering. */
    fields: Record<string, unknown>;
  };


/** The event's own `severity` when it names one of {@link SEVERITIES}. */
export function explicitSeverity(event: AnyAlertEvent): Severity | null {
  const value = (event as unknown as Record<string, unknown>).severity;
  return typeof value === 'string' && (SEVERITIES as readonly string[]).includes(value) ? value as Severity : null;
}

/**
 * Severity of the state an event describes (a resolved global incident is still `critical`, so that
 * its resolution routes where its opening went): the event's own `severity` when it has one; else a
 * global incident is `critical`, a regional one `warning`, a probe event `warning`, anything else `info`.
 */
export function severityOf(event: AnyAlertEvent): Severity {
  const explicit = explicitSeverity(event);
  if (explicit) return explicit;
  const rule = conditionOf(event.type);
  if (rule) return rule.severity;
  const incident = (event as unknown as { incident?: unknown }).incident;
  if (isRecord(incident) && (incident.scope === 'global' || incident.scope === 'regional')) return incident.scope === 'global' ? 'critical' : 'warning';
  if (isProbeType(event.type)) return 'warning';
  return 'info';
}

/** Classifies an event (already validated by `parseAlertEvent`) for rendering. */
export function viewEvent(event: AnyAlertEvent): EventView {
  const record = event as unknown as Record<string, unknown>;
  const severity = severityOf(event);
  if (isRecord(record.incident) && isRecord(record.check)) {
    const incidentEvent = event as unknown as IncidentAlertEvent;
    return {
      kind: 'incident', event: incidentEvent, severity,
      firing: incidentEvent.incident.resolvedAt === null && event.type !== 'incident.resolved',
      thread: `incident:${incidentEvent.incident.id}`, position: incidentEvent.incident.seq,
    };
  }
  if (isProbeType(event.type) && isRecord(record.agent)) {
    const probe = event as unknown as ProbeAlertEvent;
    return { kind: 'probe', event: probe, severity, firing: probe.type === 'probe.offline', thread: `agent:${probe.agent.agentId}`, position: probe.at };
  }
  const { id: _id, type: _type, at: _at, ...fields } = record;
  const check = isRecord(record.check) && typeof record.check.id === 'string'
    ? { id: record.check.id, name: typeof record.check.name === 'string' && record.check.name !== '' ? record.check.name : record.check.id }
    : null;
  const rule = conditionOf(event.type);
  if (!rule) return { kind: 'other', event, severity, firing: true, condition: null, identity: {}, thread: null, position: null, check, fields };
  const identity = rule.identity(record);
  const thread = [rule.condition, ...(check ? [check.id] : []), ...Object.values(identity)].join(':');
  return { kind: 'other', event, severity, firing: rule.firing(record), condition: rule.condition, identity, thread, position: event.at, check, fields };
}

/** The check an event is about, if any (for tag look-ups and labels). */
export function checkIdOf(event: AnyAlertEvent): string | null {
  const record = event as unknown as Record<string, unknown>;
  if (isRecord(record.check) && typeof record.check.id === 'string') return record.check.id;
  if (isRecord(record.incident) && typeof record.incident.checkId === 'string') return record.incident.checkId;
  return typeof record.checkId === 'string' ? record.checkId : null;
}

/** The incident scope an event carries (`incident.scope`, or a top-level `scope`), if any. */
export function scopeOf(event: AnyAlertEvent): 'regional' | 'global' | null {
  const record = event as unknown as Record<string, unknown>;
  const scope = isRecord(record.incident) ? record.incident.scope : record.scope;
  return scope === 'regional' || scope === 'global' ? scope : null;
}

/** Tags the event itself carries (`check.tags`), or null when it carries none (they are then looked up). */
export function carriedTags(event: AnyAlertEvent): string[] | null {
  const check = (event as unknown as { check?: unknown }).check;
  if (!isRecord(check) || !Array.isArray(check.tags)) return null;
  return check.tags.filter((tag): tag is string => typeof tag === 'string');
}

/**
 * The event's own fields flattened to `key: value` lines for generic rendering, in a stable order:
 * scalars as they are, arrays of scalars comma-joined, nested objects one level deep (`check.name`).
 * Timestamps (numbers in fields ending in `At` or named `at`) are shown as ISO 8601.
 */
export function flattenFields(fields: Record<string, unknown>, maxEntries = 20): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const show = (key: string, value: unknown): string | null => {
    if (value === null || value === undefined) return null;
    if (typeof value === 'number' && /(^at|At)$/.test(key.split('.').pop() ?? '') && Number.isFinite(value)) return new Date(value).toISOString();
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (Array.isArray(value) && value.every((item) => ['string', 'number', 'boolean'].includes(typeof item))) return value.join(', ');
    return null;
  };
  for (const key of Object.keys(fields).sort()) {
    const value = fields[key];
    if (isRecord(value)) {
      for (const inner of Object.keys(value).sort()) {
        const shown = show(`${key}.${inner}`, value[inner]);
        if (shown !== null) out.push([`${key}.${inner}`, shown]);
      }
    } else {
      const shown = show(key, value);
      if (shown !== null) out.push([key, shown]);
    }
  }
  return out.slice(0, maxEntries);
}
