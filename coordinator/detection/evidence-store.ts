/**
 * The latest facts of each (check, region) in Redis: one hash per check ({@link regionEvidenceKey}), field
 * `<region>` the latest result's facts, field `<region>:deep` the newest deep evidence (path trace, second
 * resolver) of that region. Written in the check's transaction with every applied result (no extra round
 * trip), read in the transaction only while the check has an open incident, whose evidence is then
 * recomputed (evidence.ts) and stored with it.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import type { RunResult } from '../../checks/contract.ts';
import { regionEvidenceKey } from '../../checks/keys.ts';
import type { Transition } from './check-state.ts';
import { incidentEvidence, mergeRegionEvidence, RegionEvidence, regionEvidenceOf, type KeptDeepEvidence } from './evidence.ts';
import { DeepEvidence } from '../../checks/contract.ts';

export interface StoredEvidence {
  latest: Record<string, RegionEvidence>;
  deep: Record<string, KeptDeepEvidence>;
}

/** What one result adds to the stored evidence (null: nothing, e.g. an agent error). */
export function evidenceWrite(result: RunResult): { region: string; facts: RegionEvidence } | null {
  const facts = regionEvidenceOf(result);
  return facts ? { region: result.region, facts } : null;
}

/** Queues the writes of one result's evidence into a MULTI. */
export function writeEvidence(multi: ChainableCommander, prefix: string, checkId: string, write: { region: string; facts: RegionEvidence }): void {
  const key = regionEvidenceKey(prefix, checkId);
  multi.hset(key, write.region, JSON.stringify({ ...write.facts, evidence: null }));
  if (write.facts.evidence) multi.hset(key, `${write.region}:deep`, JSON.stringify({ at: write.facts.at, evidence: write.facts.evidence }));
}

/** Reads a check's stored evidence (through the transaction's connection); malformed entries are skipped. */
export async function readEvidence(conn: Redis, prefix: string, checkId: string): Promise<StoredEvidence> {
  const hash = await conn.hgetall(regionEvidenceKey(prefix, checkId));
  const stored: StoredEvidence = { latest: {}, deep: {} };
  for (const [field, raw] of Object.entries(hash)) {
    let value: unknown;
    try { value = JSON.parse(raw); } catch { continue; }
    if (field.endsWith(':deep')) {
      const region = field.slice(0, -':deep'.length);
      const record = value as { at?: unknown; evidence?: unknown };
      const evidence = DeepEvidence.safeParse(record?.evidence);
      if (typeof record?.at === 'number' && evidence.success) stored.deep[region] = { at: record.at, evidence: evidence.data };
    } else {
      const parsed = RegionEvidence.safeParse(value);
      if (parsed.success) stored.latest[field] = parsed.data;
    }
  }
  return stored;
}

/**
 * The transition with its open incident's evidence recomputed from what is stored plus the result being
 * applied (not stored yet), in the state and in the events about that incident (not in a resolution:
 * that keeps the evidence of the outage it ends). Pure.
 */
export function attachEvidence(transition: Transition, stored: StoredEvidence, current: { region: string; facts: RegionEvidence } | null): Transition {
  const incident = transition.state.incident;
  if (!incident) return transition;
  const latest = { ...stored.latest };
  const deep = { ...stored.deep };
  if (current) {
    latest[current.region] = { ...current.facts, evidence: null };
    if (current.facts.evidence) deep[current.region] = { at: current.facts.at, evidence: current.facts.evidence };
  }
  const failingSince = Object.fromEntries(Object.entries(transition.state.verdicts).map(([region, verdict]) => [region, verdict.failingSince]));
  const evidence = incidentEvidence(incident, mergeRegionEvidence(latest, deep, failingSince));
  const withEvidence = { ...incident, evidence };
  return {
    ...transition,
    state: { ...transition.state, incident: withEvidence },
    events: transition.events.map((event) => ('incident' in event && event.incident.id === incident.id && event.type !== 'incident.resolved'
      ? { ...event, incident: { ...event.incident, evidence } }
      : event)),
  };
}
