/**
 * The event catalog: every event type the coordinator emits, with what each one is (about an incident,
 * an agent, a condition that is raised and cleared, or a notice), the schema delivery validates it with,
 * and its one-line summary. The table is keyed by the emitted events' own `type` union (events.ts), so
 * adding an event type without its entry does not compile; schemas, views and summaries are derived
 * from it. A type delivery does not know (one added by a newer coordinator) still travels: it is
 * validated by the generic schema and rendered from its fields.
 *
 * To add an event type: its interface (and id builder) in events.ts, added to {@link EmittedEvent};
 * one entry here; its summary in summary.ts when the generic one is not enough.
 */
import type { z } from 'zod';
import type { AlertEvent, MonitoringAlertEvent, PolicyAlertEvent, RegionStallEvent } from './events.ts';
import {
  GenericAlertEventSchema, IncidentAlertEventSchema, MonitoringEventSchema, ProbeAlertEventSchema, RegionStallEventSchema, ReminderAlertEventSchema,
} from './schema.ts';
import {
  summarizeDegraded, summarizeFlapping, summarizeIncident, summarizeMonitoring, summarizeProbe, summarizeRegionStall, summarizeSloBurnRate,
} from './summary.ts';

/** Every event the coordinator puts in the outbox. */
export type EmittedEvent = AlertEvent | PolicyAlertEvent | RegionStallEvent | MonitoringAlertEvent;
export type EmittedEventType = EmittedEvent['type'];

/** Any event delivery carries: the emitted types, and any type added later. */
export interface AnyAlertEvent {
  readonly id: string;
  readonly type: string;
  readonly at: number;
}

/** Severities, most severe first; the same words PagerDuty uses. */
export const SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export type Severity = typeof SEVERITIES[number];

/**
 * A condition an event raises or clears: its name, the fields that identify one occurrence of it (the
 * check id is always added), whether this event raises it, and the severity both ends share (so that a
 * clearing event routes where the raising one went).
 */
export interface ConditionRule {
  condition: string;
  identity(event: Record<string, unknown>): Record<string, string>;
  firing(event: Record<string, unknown>): boolean;
  severity: Severity;
}

export type EventKind = 'incident' | 'probe' | 'condition' | 'notice';

export interface EventTypeEntry {
  kind: EventKind;
  /** Validates the event when it crosses Redis (outbox, deliveries queue). */
  schema: z.ZodType;
  /** For `condition` events. */
  condition?: ConditionRule;
  /** One line for people (chat messages, email subjects, PagerDuty summaries); input already validated by `schema`. */
  summarize(event: AnyAlertEvent, fields: Record<string, unknown>): string;
}

const str = (value: unknown): string => (typeof value === 'string' || typeof value === 'number' ? String(value) : '');
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const byRegion = (event: Record<string, unknown>) => ({ region: str(event.region) });
const checkName = (fields: Record<string, unknown>): string => {
  const check = isRecord(fields.check) ? fields.check : {};
  return typeof check.name === 'string' && check.name !== '' ? check.name : str(check.id);
};

const incident: EventTypeEntry = { kind: 'incident', schema: IncidentAlertEventSchema, summarize: (event) => summarizeIncident(event as never) };
const probe: EventTypeEntry = { kind: 'probe', schema: ProbeAlertEventSchema, summarize: (event) => summarizeProbe(event as never) };
const regionStalled: ConditionRule = { condition: 'region_stalled', identity: byRegion, firing: (e) => e.type === 'probe.stalled', severity: 'warning' };
const degraded: ConditionRule = { condition: 'degraded', identity: byRegion, firing: (e) => e.type === 'check.degraded', severity: 'warning' };
// The monitoring itself: about no check and no incident, so it can only reach channels by its own type
// (`monitoring.*`, the operators' route), never as a target's incident.
const monitoring: ConditionRule = {
  condition: 'monitoring_degraded', identity: (e) => ({ reason: str(e.reason) }), firing: (e) => e.type === 'monitoring.degraded', severity: 'warning',
};

export const EVENT_CATALOG: { readonly [T in EmittedEventType]: EventTypeEntry } = {
  'incident.opened': incident,
  'incident.updated': incident,
  'incident.resolved': incident,
  'incident.reminder': { kind: 'incident', schema: ReminderAlertEventSchema, summarize: (event) => summarizeIncident(event as never) },
  'probe.offline': probe,
  'probe.online': probe,
  // A region whose agents heartbeat but consume nothing; as severe as an agent going offline.
  'probe.stalled': { kind: 'condition', schema: RegionStallEventSchema, condition: regionStalled, summarize: (event, fields) => summarizeRegionStall(event.type, event.at, fields) },
  'probe.recovered': { kind: 'condition', schema: RegionStallEventSchema, condition: regionStalled, summarize: (event, fields) => summarizeRegionStall(event.type, event.at, fields) },
  'check.flapping': {
    kind: 'condition', schema: GenericAlertEventSchema,
    condition: { condition: 'flapping', identity: byRegion, firing: (e) => e.state !== 'ended', severity: 'warning' },
    summarize: (_event, fields) => summarizeFlapping(checkName(fields), fields),
  },
  'check.degraded': { kind: 'condition', schema: GenericAlertEventSchema, condition: degraded, summarize: (_event, fields) => summarizeDegraded('check.degraded', checkName(fields), fields) },
  'check.recovered': { kind: 'condition', schema: GenericAlertEventSchema, condition: degraded, summarize: (_event, fields) => summarizeDegraded('check.recovered', checkName(fields), fields) },
  'slo.burn_rate': {
    kind: 'condition', schema: GenericAlertEventSchema,
    condition: {
      condition: 'slo_burn_rate',
      identity: (e) => ({ sli: str(isRecord(e.slo) ? e.slo.sli : ''), rule: str(isRecord(e.rule) ? e.rule.name : '') }),
      firing: (e) => e.state !== 'resolved',
      severity: 'error',
    },
    summarize: (_event, fields) => summarizeSloBurnRate(checkName(fields), fields),
  },
  'monitoring.degraded': { kind: 'condition', schema: MonitoringEventSchema, condition: monitoring, summarize: (event, fields) => summarizeMonitoring(event.type, event.at, fields) },
  'monitoring.recovered': { kind: 'condition', schema: MonitoringEventSchema, condition: monitoring, summarize: (event, fields) => summarizeMonitoring(event.type, event.at, fields) },
};

/** Every event type the coordinator emits today (types added later still travel, rendered generically). */
export const KNOWN_EVENT_TYPES = Object.keys(EVENT_CATALOG) as EmittedEventType[];
/** The emitted types of one kind. */
export const eventTypesOf = (kind: EventKind): EmittedEventType[] => KNOWN_EVENT_TYPES.filter((type) => EVENT_CATALOG[type].kind === kind);

/** The catalog entry of a type, or undefined for a type this coordinator does not know. */
export function catalogEntry(type: string): EventTypeEntry | undefined {
  return Object.hasOwn(EVENT_CATALOG, type) ? EVENT_CATALOG[type as EmittedEventType] : undefined;
}

export type AlertEventParse = { success: true; data: AnyAlertEvent } | { success: false; error: z.ZodError };

/** Validates an event with its type's schema (the generic one for types added later). */
export function parseAlertEvent(input: unknown): AlertEventParse {
  const type = (input as { type?: unknown } | null)?.type;
  const schema = (typeof type === 'string' ? catalogEntry(type)?.schema : undefined) ?? GenericAlertEventSchema;
  const parsed = schema.safeParse(input);
  return parsed.success ? { success: true, data: parsed.data as AnyAlertEvent } : { success: false, error: parsed.error };
}

/**
 * The event's one-line summary: its type's own, or for a type this coordinator does not know,
 * `[type] <check>: <its summary, message or reason field>`.
 */
export function summarize(event: AnyAlertEvent): string {
  const { id: _id, type: _type, at: _at, ...fields } = event as unknown as Record<string, unknown>;
  const entry = catalogEntry(event.type);
  if (entry) return entry.summarize(event, fields);
  // A type added later that carries an incident reads like one, tagged with its type.
  if (isRecord(fields.incident) && isRecord(fields.check)) return summarizeIncident(event as never);
  const text = ['summary', 'message', 'reason'].map((key) => fields[key]).find((value) => typeof value === 'string' && value !== '');
  const name = isRecord(fields.check) ? checkName(fields) : '';
  const subject = name ? ` ${name}` : '';
  return `[${event.type}]${subject}${text ? `${subject ? ':' : ''} ${String(text)}` : ''}`;
}
