/**
 * The state of one check as the coordinators share it (per-region verdicts and the open incident), and
 * its transitions, as pure functions over the verdict and incident models. The I/O around them (WATCH,
 * read, decide here, MULTI/EXEC) lives in state-store.ts.
 */
import type { RunResult, StoredCheck } from '../checks/contract.ts';
import { canonicalJson } from './canonical-json.ts';
import { incidentEventId, type IncidentAlertEvent } from './events.ts';
import { nextIncident, type Incident, type IncidentEvent } from './incident.ts';
import { applyResult, initialVerdict, isStale, markNoData, type RegionVerdict, type VerdictStatus } from './verdict.ts';

export interface CheckState {
  checkId: string;
  /** The check's name when the state was last written, for events about a check that has been removed. */
  checkName: string;
  verdicts: Record<string, RegionVerdict>;
  incident: Incident | null;
}

export interface VerdictChange { region: string; from: VerdictStatus; to: VerdictStatus }

export interface Transition {
  state: CheckState;
  /** Whether anything differs from the input state (false: nothing to write). */
  changed: boolean;
  verdictChanges: VerdictChange[];
  /** At most one incident event; an array so callers handle every transition the same way. */
  events: IncidentAlertEvent[];
  /** The incident this transition resolved, if any. */
  resolved: Incident | null;
}

export function emptyCheckState(check: StoredCheck): CheckState {
  return { checkId: check.definition.id, checkName: check.definition.name, verdicts: {}, incident: null };
}

/**
 * The verdicts of exactly the check's regions: a region without one starts as `no-data` at the time its
 * version was deployed (the reference for staleness until a first result); regions no longer in the
 * check are dropped (so an incident stops holding them).
 */
export function alignRegions(state: CheckState, check: StoredCheck): CheckState {
  const verdicts: Record<string, RegionVerdict> = {};
  for (const region of check.definition.regions) {
    verdicts[region] = state.verdicts[region] ?? initialVerdict(check.updatedAt);
  }
  return { ...state, checkName: check.definition.name, verdicts };
}

/** Applies one run result of `result.region` (which must be one of the check's regions). */
export function ingestResult(state: CheckState, check: StoredCheck, result: RunResult, now: number, newIncidentId: () => string): Transition {
  const aligned = alignRegions(state, check);
  const verdict = aligned.verdicts[result.region];
  if (!verdict) return finish(state, aligned, now, newIncidentId);
  const next = applyResult(verdict, result, check.definition, now);
  return finish(state, { ...aligned, verdicts: { ...aligned.verdicts, [result.region]: next } }, now, newIncidentId);
}

/**
 * Moves to `no-data` every region of the check that has no live agent, or no target result for two
 * intervals plus the timeout. No data never opens or escalates an incident (see incident.ts).
 */
export function sweepCheck(state: CheckState, check: StoredCheck, liveRegions: ReadonlySet<string>, now: number, newIncidentId: () => string): Transition {
  const aligned = alignRegions(state, check);
  const verdicts: Record<string, RegionVerdict> = {};
  const timing = { frequencyMs: check.definition.frequencyMs, timeoutMs: check.definition.timeoutMs, deployedAt: check.updatedAt };
  for (const [region, verdict] of Object.entries(aligned.verdicts)) {
    verdicts[region] = isStale(verdict, now, timing, liveRegions.has(region)) ? markNoData(verdict, now) : verdict;
  }
  return finish(state, { ...aligned, verdicts }, now, newIncidentId);
}

/** A check was removed from the registry: its open incident (if any) resolves, and its state goes. */
export function retireCheck(state: CheckState, now: number): Transition {
  return finish(state, { ...state, verdicts: {} }, now, () => 'unused');
}

function finish(before: CheckState, after: CheckState, now: number, newIncidentId: () => string): Transition {
  const { incident, event } = nextIncident(after.incident, after.checkId, after.verdicts, now, newIncidentId);
  const state: CheckState = { ...after, incident };
  const verdictChanges: VerdictChange[] = [];
  for (const [region, verdict] of Object.entries(state.verdicts)) {
    // A region without a stored verdict was implicitly `no-data` (see alignRegions).
    const from = before.verdicts[region]?.status ?? 'no-data';
    if (from !== verdict.status) verdictChanges.push({ region, from, to: verdict.status });
  }
  return {
    state,
    changed: canonicalJson(before) !== canonicalJson(state),
    verdictChanges,
    events: event ? [toAlertEvent(event, state.checkName, now)] : [],
    resolved: event?.type === 'incident.resolved' ? event.incident : null,
  };
}

export function toAlertEvent(event: IncidentEvent, checkName: string, now: number): IncidentAlertEvent {
  return {
    id: incidentEventId(event.incident),
    type: event.type,
    at: now,
    check: { id: event.incident.checkId, name: checkName },
    incident: event.incident,
  };
}
