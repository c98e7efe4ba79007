/**
 * zod schemas for alert events: events cross Redis twice (the coordinator's outbox, then the
 * deliveries queue), so the delivery side validates them like any other input from outside. The event
 * catalog (catalog.ts) names the schema of each type.
 *
 * Incident, probe and region-stall events are checked field by field. Other types (the alert-policy
 * events, and any type added after this file was written) are accepted when they have an id, a dotted
 * type and a time, and whatever `check`, `incident` or `agent` they carry is checked with the same
 * shapes, so channels can render them generically. Objects are loose: fields added to an event later
 * travel through unchanged.
 */
import { z } from 'zod';
import {
  INCIDENT_EVENT_TYPES, type IncidentAlertEvent, type IncidentReminderEvent, type MonitoringAlertEvent, type ProbeAlertEvent, type RegionStallEvent,
} from './events.ts';

const Millis = z.number().int().nonnegative();
const Regions = z.array(z.string().min(1));

const RegionFailure = z.looseObject({ code: z.string(), message: z.string(), at: Millis });

const Incident = z.looseObject({
  id: z.string().min(1),
  checkId: z.string().min(1),
  scope: z.enum(['regional', 'global']),
  failingRegions: Regions,
  passingRegions: Regions,
  noDataRegions: Regions,
  firstFailureAt: Millis,
  openedAt: Millis,
  updatedAt: Millis,
  resolvedAt: Millis.nullable(),
  lastErrors: z.record(z.string(), RegionFailure),
  seq: z.number().int().positive(),
});

const Check = z.looseObject({ id: z.string().min(1), name: z.string() });
const Agent = z.looseObject({ agentId: z.string().min(1), region: z.string().min(1), lastSeenAt: Millis });

export const IncidentAlertEventSchema = z.looseObject({
  id: z.string().min(1),
  type: z.enum(INCIDENT_EVENT_TYPES),
  at: Millis,
  check: Check,
  incident: Incident,
});

/** `incident.reminder`: an incident event that also says which reminder it is. */
export const ReminderAlertEventSchema = IncidentAlertEventSchema.extend({
  type: z.literal('incident.reminder'),
  reminder: z.number().int().positive(),
});

export const ProbeAlertEventSchema = z.looseObject({
  id: z.string().min(1),
  type: z.enum(['probe.offline', 'probe.online']),
  at: Millis,
  agent: Agent,
});

/** A region whose agents heartbeat but answer no canary (`probe.stalled`), or that ended (`probe.recovered`). */
export const RegionStallEventSchema = z.looseObject({
  id: z.string().min(1),
  type: z.enum(['probe.stalled', 'probe.recovered']),
  at: Millis,
  region: z.string().min(1),
  lastAnswerAt: Millis.nullable(),
  lastAnswerAgentId: z.string().min(1).nullable(),
  agents: z.array(z.string().min(1)),
  canaryIntervalMs: Millis,
  stalledSince: Millis,
  reason: z.enum(['answered', 'no-agents', 'canaries-off']).optional(),
});

/** The monitoring itself degraded (`monitoring.degraded`) or recovered (`monitoring.recovered`). */
export const MonitoringEventSchema = z.looseObject({
  id: z.string().min(1),
  type: z.enum(['monitoring.degraded', 'monitoring.recovered']),
  at: Millis,
  reason: z.enum(['redis-failover', 'ingest-backlog', 'results-lag', 'delivery-backlog']),
  since: Millis,
  detail: z.string().max(500),
});

/** An event type: dotted lower-case words, like `incident.opened` or `slo.burn_rate`. */
export const EventType = z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'must be dotted lower-case words, like "incident.opened"');

/** A type this file does not know: only the common fields are required. */
export const GenericAlertEventSchema = z.looseObject({
  id: z.string().min(1),
  type: EventType,
  at: Millis,
  check: Check.optional(),
  incident: Incident.optional(),
  agent: Agent.optional(),
});

// Compile-time guards: every event the coordinator builds passes its schema's shape (a field the
// schema requires cannot silently disappear from the coordinator's types).
// Index signatures (from loose objects and records) are dropped before comparing.
type Plain<T> = T extends ReadonlyArray<infer U> ? Array<Plain<U>>
  : T extends object ? { [K in keyof T as string extends K ? never : K]: Plain<T[K]> } : T;
type Fits<A, B> = [Plain<A>] extends [Plain<B>] ? true : false;
const incidentFits: Fits<IncidentAlertEvent, z.infer<typeof IncidentAlertEventSchema>> = true;
const probeFits: Fits<ProbeAlertEvent, z.infer<typeof ProbeAlertEventSchema>> = true;
const regionStallFits: Fits<RegionStallEvent, z.infer<typeof RegionStallEventSchema>> = true;
const reminderFits: Fits<IncidentReminderEvent, z.infer<typeof ReminderAlertEventSchema>> = true;
const monitoringFits: Fits<MonitoringAlertEvent, z.infer<typeof MonitoringEventSchema>> = true;
void incidentFits; void probeFits; void regionStallFits; void reminderFits; void monitoringFits;
