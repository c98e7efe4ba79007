/**
 * zod schemas for alert events: events cross Redis twice (the coordinator's outbox, then the
 * deliveries queue), so the delivery side validates them like any other input from outside.
 *
 * The known types (`incident.*`, `probe.*`, the region ones `probe.stalled` / `probe.recovered` included)
 * are checked field by field. Any other type (one added after
 * this file was written) is accepted when it has an id, a dotted type and a time, and whatever
 * `check`, `incident` or `agent` it carries is checked with the same shapes, so channels can render it
 * generically. Objects are loose: fields added to an event later travel through unchanged.
 */
import { z } from 'zod';
import type { IncidentAlertEvent, ProbeAlertEvent, RegionStallEvent } from './events.ts';
import { INCIDENT_EVENT_TYPES, PROBE_EVENT_TYPES, REGION_STALL_EVENT_TYPES, type AnyAlertEvent } from './view.ts';

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

export const ProbeAlertEventSchema = z.looseObject({
  id: z.string().min(1),
  type: z.enum(PROBE_EVENT_TYPES),
  at: Millis,
  agent: Agent,
});

/** A region whose agents heartbeat but answer no canary (`probe.stalled`), or that ended (`probe.recovered`). */
export const RegionStallEventSchema = z.looseObject({
  id: z.string().min(1),
  type: z.enum(REGION_STALL_EVENT_TYPES),
  at: Millis,
  region: z.string().min(1),
  lastAnswerAt: Millis.nullable(),
  lastAnswerAgentId: z.string().min(1).nullable(),
  agents: z.array(z.string().min(1)),
  canaryIntervalMs: Millis,
  stalledSince: Millis,
  reason: z.enum(['answered', 'no-agents', 'canaries-off']).optional(),
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

const KNOWN_SCHEMAS: Record<string, z.ZodType> = {
  ...Object.fromEntries(INCIDENT_EVENT_TYPES.map((type) => [type, IncidentAlertEventSchema])),
  ...Object.fromEntries(PROBE_EVENT_TYPES.map((type) => [type, ProbeAlertEventSchema])),
  ...Object.fromEntries(REGION_STALL_EVENT_TYPES.map((type) => [type, RegionStallEventSchema])),
};

export type AlertEventParse = { success: true; data: AnyAlertEvent } | { success: false; error: z.ZodError };

/** Validates an event with its type's schema (the generic one for types added later). */
export function parseAlertEvent(input: unknown): AlertEventParse {
  const type = (input as { type?: unknown } | null)?.type;
  const schema = (typeof type === 'string' && Object.hasOwn(KNOWN_SCHEMAS, type) ? KNOWN_SCHEMAS[type] : GenericAlertEventSchema)!;
  const parsed = schema.safeParse(input);
  return parsed.success ? { success: true, data: parsed.data as AnyAlertEvent } : { success: false, error: parsed.error };
}

// Compile-time guards: every event the coordinator builds passes its schema's shape (a field the
// schema requires cannot silently disappear from the coordinator's types).
// Index signatures (from loose objects and records) are dropped before comparing.
type Plain<T> = T extends ReadonlyArray<infer U> ? Array<Plain<U>>
  : T extends object ? { [K in keyof T as string extends K ? never : K]: Plain<T[K]> } : T;
type Fits<A, B> = [Plain<A>] extends [Plain<B>] ? true : false;
const incidentFits: Fits<IncidentAlertEvent, z.infer<typeof IncidentAlertEventSchema>> = true;
const probeFits: Fits<ProbeAlertEvent, z.infer<typeof ProbeAlertEventSchema>> = true;
const regionStallFits: Fits<RegionStallEvent, z.infer<typeof RegionStallEventSchema>> = true;
void incidentFits; void probeFits; void regionStallFits;
