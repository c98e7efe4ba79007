/**
 * Incidents of one check, as pure functions over the per-region verdicts.
 *
 * Scope: `regional` while some reporting region still passes, `global` when every reporting region
 * fails (but an open regional incident does not turn global only because its passing regions went
 * silent). `no-data` regions never open or escalate an incident; a region that was failing in an open
 * incident and then goes silent stays counted as failing (we cannot claim it recovered) until it
 * reports `up` again. An incident resolves when none of its regions is failing any more.
 *
 * The alert policy (policy.ts) refines this:
 * - global quorum: with `globalRegions` N set, the incident is global once at least N regions (capped at
 *   the check's region count) fail, and only after they have for `globalForMs` (re-evaluated by every
 *   sweep); a regional incident that turns global is updated with `escalatedAt` set (the event says
 *   `escalated: true`);
 * - forced failing regions (flapping ones, see flapping.ts) count as failing whatever their verdict;
 * - awaited regions (a failure being confirmed, see confirmation.ts `awaitedRegions`): an incident does
 *   not open or change until their answers are in, so that it opens with the right scope. Resolving never waits.
 *
 * `degraded` regions pass.
 */
import type { IncidentEvidence } from './evidence.ts';
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
  /** Since when the global quorum has held (null: it does not). Absent on incidents stored before it existed. */
  quorumSince?: number | null;
  /** When the incident last turned from regional to global. */
  escalatedAt?: number | null;
  /** When a notification about it was last emitted (opened, updated or reminder). */
  lastNotifiedAt?: number;
  /** Reminders sent so far. */
  reminders?: number;
  /**
   * Why the failing regions fail: what their latest results saw differently from the passing regions'
   * (evidence.ts), and each region's latest facts. Recomputed as results come in (evidence-store.ts).
   */
  evidence?: IncidentEvidence;
}

/** How the scope is decided; the default is the historical rule (global when no reporting region passes, at once). */
export interface ScopePolicy {
  /** Failing regions that make an incident global; null: every reporting region. */
  globalRegions: number | null;
  globalForMs: number;
}

export interface IncidentOptions {
  /** @defaultValue `{ globalRegions: null, globalForMs: 0 }` */
  policy?: ScopePolicy;
  /** Regions that count as failing whatever their verdict (flapping). @defaultValue [] */
  forceFailing?: readonly string[];
  /** Regions whose confirmation is still out: opening and scope changes wait for them. @defaultValue [] */
  awaiting?: readonly string[];
}

export type IncidentEventType = 'incident.opened' | 'incident.updated' | 'incident.resolved';
export interface IncidentEvent {
  type: IncidentEventType;
  incident: Incident;
  /** Set on the update that turned a regional incident global. */
  escalated?: true;
}

export interface Classification {
  failing: string[];
  passing: string[];
  noData: string[];
  scope: IncidentScope | null;
}

/**
 * Classifies a check's regions. `heldFailing` are regions an open incident still counts as failing when
 * silent; `forceFailing` regions fail whatever their verdict.
 */
export function classify(verdicts: Record<string, RegionVerdict>, heldFailing: readonly string[] = [], forceFailing: readonly string[] = []): Classification {
  const failing: string[] = [];
  const passing: string[] = [];
  const noData: string[] = [];
  for (const [region, verdict] of Object.entries(verdicts)) {
    if (verdict.status === 'down') failing.push(region);
    else if (forceFailing.includes(region)) {
      failing.push(region);
      if (verdict.status === 'no-data') noData.push(region);
    } else if (verdict.status === 'up' || verdict.status === 'degraded') passing.push(region);
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
  options: IncidentOptions = {},
): { incident: Incident | null; event: IncidentEvent | null } {
  const policy = options.policy ?? { globalRegions: null, globalForMs: 0 };
  const held = open ? open.failingRegions.filter((region) => verdicts[region] !== undefined) : [];
  const c = classify(verdicts, held, (options.forceFailing ?? []).filter((region) => verdicts[region] !== undefined));
  const awaiting = (options.awaiting ?? []).length > 0;

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

  const regionCount = Object.keys(verdicts).length;
  const quorum = policy.globalRegions === null
    ? c.passing.length === 0
    : c.failing.length >= Math.min(policy.globalRegions, regionCount);
  // No data never escalates: when the last passing regions of a regional incident merely went silent, no
  // new region failed, and the quorum of "every reporting region" does not start. Only a newly failing
  // region can start it.
  const gainedFailing = open !== null && c.failing.some((region) => !open.failingRegions.includes(region));
  const silenceOnly = open !== null && open.scope === 'regional' && (open.quorumSince ?? null) === null && !gainedFailing && policy.globalRegions === null;
  // An incident stored before quorums were tracked that is already global keeps its scope.
  const heldSince = open?.quorumSince ?? (open?.scope === 'global' ? Math.min(open.updatedAt, now) : now);
  const quorumSince = !quorum || silenceOnly ? null : heldSince;
  const scope: IncidentScope = quorumSince !== null && now - quorumSince >= policy.globalForMs ? 'global' : 'regional';

  if (!open) {
    // Confirmation runs still out may change the scope: open once they are in (or expired).
    if (awaiting) return { incident: null, event: null };
    const incident: Incident = {
      id: newId(), checkId, scope, failingRegions: c.failing, passingRegions: c.passing, noDataRegions: c.noData,
      firstFailureAt, openedAt: now, updatedAt: now, resolvedAt: null, lastErrors, seq: 1, quorumSince, escalatedAt: null,
    };
    return { incident, event: { type: 'incident.opened', incident } };
  }

  const current: Incident = { ...open, passingRegions: c.passing, noDataRegions: c.noData, lastErrors, firstFailureAt, quorumSince };
  if (open.scope === scope && sameList(open.failingRegions, c.failing)) {
    return { incident: current, event: null };
  }
  if (awaiting) return { incident: open, event: null };
  const escalated = open.scope === 'regional' && scope === 'global';
  const updated: Incident = {
    ...current, scope, failingRegions: c.failing, updatedAt: now, seq: open.seq + 1,
    ...(escalated ? { escalatedAt: now } : {}),
  };
  return { incident: updated, event: { type: 'incident.updated', incident: updated, ...(escalated ? { escalated: true as const } : {}) } };
}
