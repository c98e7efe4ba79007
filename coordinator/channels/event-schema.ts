/**
 * A zod schema for {@link AlertEvent}: events cross Redis twice (the coordinator's outbox, then the
 * deliveries queue), so the delivery side validates them like any other input from outside.
 */
import { z } from 'zod';
import type { AlertEvent } from '../events.ts';

const Millis = z.number().int().nonnegative();
const Regions = z.array(z.string().min(1));

const RegionFailure = z.object({ code: z.string(), message: z.string(), at: Millis });

const Incident = z.object({
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

export const IncidentAlertEventSchema = z.object({
  id: z.string().min(1),
  type: z.enum(['incident.opened', 'incident.updated', 'incident.resolved']),
  at: Millis,
  check: z.object({ id: z.string().min(1), name: z.string() }),
  incident: Incident,
});

export const ProbeAlertEventSchema = z.object({
  id: z.string().min(1),
  type: z.enum(['probe.offline', 'probe.online']),
  at: Millis,
  agent: z.object({ agentId: z.string().min(1), region: z.string().min(1), lastSeenAt: Millis }),
});

export const AlertEventSchema = z.discriminatedUnion('type', [IncidentAlertEventSchema, ProbeAlertEventSchema]);

// Compile-time guard: the schema and the coordinator's type must describe the same thing.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesType: Same<z.infer<typeof AlertEventSchema>, AlertEvent> = true;
void schemaMatchesType;
