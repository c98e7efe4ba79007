/**
 * Incidents of one check, as pure functions over the per-region verdicts.
 *
 * Scope: `regional` while some reporting region still passes, `global` when every reporting region
 * fails (but an open regional incident does not turn global only because its passing regions went
 * silent). `no-data` regions never open or escalate an incident; a region that was failing in an open
 * incident and then goes silent stays counted as failing (we cannot claim it recovered) until it
 * reports `up` again. An incident resolves when none of its regions is failing any more.
 */
import type { RegionVerdict } from './verdict.ts';

export type IncidentScope = 'regional' | 'global';

export interface RegionFailure { code: string; message: string; at: number }

export interface Incident {
  id: string;
  checkId: string;
  scope: IncidentScope;
  /** Regions failing now (down, or down before going silent), sorted. */
  failingRegions: string[];
  /** Regions passing now, sorted. */
  passingRegions: string[];
  /** Regions with no data now, sorted; informational only. */
  noDataRegions: string[];
  /** Start of the earliest failure streak among the failing regions. */
  firstFailureAt: number;
  openedAt: number;
  updatedAt: number;
  resolvedAt: number | null;
  /** Last error per failing region. */
  lastErrors: Record<string, RegionFailure>;
  /** Incremented on every transition; (id, seq) names one event exactly once. */
  seq: number;
}

export type IncidentEventType = 'incident.opened' | 'incident.updated' | 'incident.resolved';
export interface IncidentEvent { type: IncidentEventType; incident: Incident }

export interface Classification {
  failing: string[];
  passing: string[];
  noData: string[];
  scope: IncidentScope | null;
}

/** Classifies a check's regions. `heldFailing` are regions an open incident still counts as failing. */
export function classify(verdicts: Record<string, RegionVerdict>, heldFailing: readonly string[] = []): Classification {
  const failing: string[] = [];
  const passing: string[] = [];
  const noData: string[] = [];
  for (const [region, verdict] of Object.entries(verdicts)) {
    if (verdict.status === 'down') failing.push(region);
    else if (verdict.status === 'up') passing.push(region);
    else {
      noData.push(region);
      if (heldFailing.includes(region)) failing.push(region);
    }
  }
  failing.sort(); passing.sort(); noData.sort();
  const scope: IncidentScope | null = failing.length === 0 ? null : passing.length === 0 ? 'global' : 'regional';
  return { failing, passing, noData, scope };
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Decides the next state of a check's incident from its verdicts. Emits at most one event:
 * `opened` when failing starts, `updated` when the scope or the failing set changes, `resolved` when
 * no region fails any more. A change only in passing or no-data regions updates nothing.
 */
export function nextIncident(
  open: Incident | null,
  checkId: string,
  verdicts: Record<string, RegionVerdict>,
  now: number,
  newId: () => string,
): { incident: Incident | null; event: IncidentEvent | null } {
  const held = open ? open.failingRegions.filter((region) => verdicts[region] !== undefined) : [];
  const c = classify(verdicts, held);

  if (c.scope === null) {
    if (!open) return { incident: null, event: null };
    const resolved: Incident = { ...open, passingRegions: c.passing, noDataRegions: c.noData, failingRegions: [], resolvedAt: now, updatedAt: now, seq: open.seq + 1 };
    return { incident: null, event: { type: 'incident.resolved', incident: resolved } };
  }

  const lastErrors: Record<string, RegionFailure> = {};
  let firstFailureAt = Number.POSITIVE_INFINITY;
  for (const region of c.failing) {
    const failure = verdicts[region]?.lastFailure ?? open?.lastErrors[region];
    if (failure) lastErrors[region] = failure;
    const since = verdicts[region]?.failingSince ?? failure?.at ?? now;
    firstFailureAt = Math.min(firstFailureAt, since);
  }
  if (open) firstFailureAt = Math.min(firstFailureAt, open.firstFailureAt);
  if (!Number.isFinite(firstFailureAt)) firstFailureAt = now;

  if (!open) {
    const incident: Incident = {
      id: newId(), checkId, scope: c.scope, failingRegions: c.failing, passingRegions: c.passing, noDataRegions: c.noData,
      firstFailureAt, openedAt: now, updatedAt: now, resolvedAt: null, lastErrors, seq: 1,
    };
    return { incident, event: { type: 'incident.opened', incident } };
  }

  // No data never escalates: when the last passing regions merely went silent, no new region failed,
  // and a regional incident stays regional. Only a newly failing region can make it global.
  const gainedFailing = c.failing.some((region) => !open.failingRegions.includes(region));
  const scope: IncidentScope = open.scope === 'regional' && c.scope === 'global' && !gainedFailing ? 'regional' : c.scope;
  const current: Incident = { ...open, passingRegions: c.passing, noDataRegions: c.noData, lastErrors, firstFailureAt };
  if (open.scope === scope && sameList(open.failingRegions, c.failing)) {
    return { incident: current, event: null };
  }
  const updated: Incident = { ...current, scope, failingRegions: c.failing, updatedAt: now, seq: open.seq + 1 };
  return { incident: updated, event: { type: 'incident.updated', incident: updated } };
}
