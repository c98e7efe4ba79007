/**
 * The state of one check as the coordinators share it (per-region verdicts, the open incident, pending
 * confirmation runs, flapping), and its transitions, as pure functions over the verdict, incident,
 * confirmation and flapping models. The I/O around them (WATCH, read, decide here, MULTI/EXEC) lives in
 * state-store.ts.
 *
 * One transition, in order: apply the result (or the sweep) to the verdicts → settle and plan
 * confirmation runs → flapping → incident (held as it is during maintenance) → reminders → degraded
 * notices. During maintenance every notification is held back and no confirmation is planned.
 */
import type { RunResult, StoredCheck } from '../../checks/contract.ts';
import { sameCanonicalJson } from '../../lib/canonical-json.ts';
import {
  CONFIRMATION_GRACE_MS, awaitedRegions, nextAnswerMs, planConfirmations, planForUnanswered, settleConfirmations,
  type PendingConfirmation, type PlannedConfirmation, type UnansweredDecision, type UnansweredRun,
} from './confirmation.ts';
import {
  degradedEventId, flappingEventId, incidentEventId, reminderEventId,
  type DegradedAlertEvent, type FlappingAlertEvent, type IncidentAlertEvent, type PolicyAlertEvent,
} from '../events/events.ts';
import { initialFlapState, isTargetStateChange, nextFlapState, type FlapState } from './flapping.ts';
import { nextIncident, type Incident, type IncidentEvent } from './incident.ts';
import { degradedReason, resolvePolicy, type DegradedReason, type EffectivePolicy } from './policy.ts';
import { applyResult, initialVerdict, isStale, markNoData, staleAfterMs, type RegionVerdict, type VerdictStatus } from './verdict.ts';

export interface CheckState {
  checkId: string;
  /** The check's name when the state was last written, for events about a check that has been removed. */
  checkName: string;
  verdicts: Record<string, RegionVerdict>;
  incident: Incident | null;
  /** Confirmation runs out, per region (absent when none). */
  confirmations?: Record<string, PendingConfirmation>;
  /** Flapping detection, per region with recent changes (absent when none). */
  flapping?: Record<string, FlapState>;
  /**
   * Per region, the slot of a run whose confirmations were planned while it was unanswered
   * (confirmation.ts `planForUnanswered`); its failure, when it comes, plans nothing more. Absent when none.
   */
  earlyConfirmed?: Record<string, number>;
  /** Per region, the usual time from a run's slot to its passing result (confirmation.ts `nextAnswerMs`). */
  answerMs?: Record<string, number>;
}

export interface VerdictChange { region: string; from: VerdictStatus; to: VerdictStatus }

/** Events a check transition can emit (probe events come from the sweeper's agent step). */
export type CheckEvent = IncidentAlertEvent | PolicyAlertEvent;

export interface Transition {
  state: CheckState;
  /** Whether anything differs from the input state (false: nothing to write). */
  changed: boolean;
  verdictChanges: VerdictChange[];
  /** Incident event first (at most one), then reminders, flapping and degraded notices. */
  events: CheckEvent[];
  /** The incident this transition resolved, if any. */
  resolved: Incident | null;
  /** Confirmation runs planned (and recorded as pending); the caller starts them once committed. */
  confirmations: PlannedConfirmation[];
}

/** What a transition needs beyond the state and the definition. */
export interface TransitionContext {
  /** A maintenance window covers the check now. @defaultValue false */
  inMaintenance?: boolean;
  /** Confirmation runs can be started (the caller will enqueue the planned ones). @defaultValue false */
  confirmations?: boolean;
  /**
   * Since when the coordinator judging has seen Redis without a break: a sweep counts silence only from
   * then (verdict.ts `isStale`). @defaultValue no such bound
   */
  judgedFrom?: number;
}

export function emptyCheckState(check: StoredCheck): CheckState {
  return { checkId: check.definition.id, checkName: check.definition.name, verdicts: {}, incident: null };
}

/**
 * The verdicts of exactly the check's regions: a region without one starts as `no-data` at the time its
 * version was deployed (the reference for staleness until a first result); regions no longer in the
 * check are dropped (so an incident stops holding them), with their confirmations and flapping.
 */
export function alignRegions(state: CheckState, check: StoredCheck): CheckState {
  const verdicts: Record<string, RegionVerdict> = {};
  for (const region of check.definition.regions) {
    verdicts[region] = state.verdicts[region] ?? initialVerdict(check.updatedAt);
  }
  const keep = <T>(map: Record<string, T> | undefined): Record<string, T> | undefined =>
    map && Object.fromEntries(Object.entries(map).filter(([region]) => region in verdicts));
  return {
    ...state, checkName: check.definition.name, verdicts, confirmations: keep(state.confirmations), flapping: keep(state.flapping),
    earlyConfirmed: keep(state.earlyConfirmed), answerMs: keep(state.answerMs),
  };
}

/** The transition one run result of `result.region` (one of the check's regions) makes: pure, committed by store.ts. */
export function resultTransition(
  state: CheckState, check: StoredCheck, result: RunResult, now: number, newIncidentId: () => string, context: TransitionContext = {},
): Transition {
  const policy = resolvePolicy(check.definition);
  const aligned = alignRegions(state, check);
  const verdict = aligned.verdicts[result.region];
  if (!verdict) return finish(state, aligned, now, newIncidentId, policy, context);
  const reason = degradedReason(result, policy.degradedAfterMs);
  const next = applyResult(
    verdict, { outcome: result.outcome, scheduledAt: result.scheduledAt, error: result.error, degraded: reason !== null },
    { ...policy, staleAfterMs: staleAfterMs(check.definition) }, now,
  );
  const verdicts = { ...aligned.verdicts, [result.region]: next };

  const applied = next !== verdict;
  let pending = settleConfirmations(aligned.confirmations ?? {}, now, { region: result.region, scheduledAt: result.scheduledAt });
  const early = aligned.earlyConfirmed?.[result.region];
  const planned = context.confirmations === true
    ? planConfirmations({
      result, applied, verdicts, pending, policy, timeoutMs: check.definition.timeoutMs,
      inMaintenance: context.inMaintenance === true, now, earlyConfirmed: early === result.scheduledAt,
    })
    : [];
  // The mark has served once a result of its slot (or a later one) is in.
  const earlyConfirmed = early !== undefined && result.scheduledAt >= early ? without(aligned.earlyConfirmed, result.region) : aligned.earlyConfirmed;
  const answerMs = applied && result.outcome === 'pass'
    ? { ...aligned.answerMs, [result.region]: nextAnswerMs(aligned.answerMs?.[result.region], now - result.scheduledAt, check.definition.timeoutMs) }
    : aligned.answerMs;
  if (planned.length > 0) {
    pending = { ...pending };
    for (const { region, scheduledAt, expiresAt, reason: why } of planned) pending[region] = { scheduledAt, expiresAt, reason: why };
  }
  return finish(state, { ...aligned, verdicts, confirmations: pending, earlyConfirmed, answerMs }, now, newIncidentId, policy, context, {
    planned, degraded: reason ? { [result.region]: reason } : {},
  });
}

/**
 * The transition for a run that has had no result so far (see confirmation.ts `planForUnanswered`): when
 * its budget is over, its confirmation runs are planned (recorded as pending, the slot marked
 * early-confirmed) exactly as its failure would plan them, and nothing else changes: the run is not
 * counted as failed. `decision` tells the caller what to do with the run (start `transition.confirmations`,
 * look again at `until`, or forget it).
 */
export function unansweredTransition(
  state: CheckState, check: StoredCheck, run: UnansweredRun, now: number, newIncidentId: () => string, context: TransitionContext = {},
): { transition: Transition; decision: UnansweredDecision } {
  const policy = resolvePolicy(check.definition);
  const aligned = alignRegions(state, check);
  const pending = settleConfirmations(aligned.confirmations ?? {}, now);
  const decision = planForUnanswered({
    run, verdicts: aligned.verdicts, pending, earlyConfirmed: aligned.earlyConfirmed ?? {}, usualAnswerMs: aligned.answerMs?.[run.region],
    policy, timeoutMs: check.definition.timeoutMs, inMaintenance: context.inMaintenance === true, now,
  });
  if (decision.kind !== 'confirm') return { transition: finish(state, aligned, now, newIncidentId, policy, context), decision };
  const confirmations = { ...pending };
  for (const { region, scheduledAt, expiresAt, reason } of decision.planned) confirmations[region] = { scheduledAt, expiresAt, reason };
  const earlyConfirmed = { ...aligned.earlyConfirmed, [run.region]: run.scheduledAt };
  const transition = finish(state, { ...aligned, confirmations, earlyConfirmed }, now, newIncidentId, policy, context, { planned: decision.planned });
  return { transition, decision };
}

/**
 * Moves to `no-data` every region of the check that has no live agent, or no target result for two
 * intervals plus the timeout, and forgets expired confirmations. No data never opens or escalates an
 * incident (see incident.ts). Time-based rules (global quorum duration, reminders, flapping's end) are
 * decided here too, since a sweep runs every second.
 */
export function sweepCheck(
  state: CheckState, check: StoredCheck, liveRegions: ReadonlySet<string>, now: number, newIncidentId: () => string, context: TransitionContext = {},
): Transition {
  const aligned = alignRegions(state, check);
  const verdicts: Record<string, RegionVerdict> = {};
  const timing = { frequencyMs: check.definition.frequencyMs, timeoutMs: check.definition.timeoutMs, deployedAt: check.updatedAt };
  for (const [region, verdict] of Object.entries(aligned.verdicts)) {
    verdicts[region] = isStale(verdict, now, timing, liveRegions.has(region), context.judgedFrom) ? markNoData(verdict, now) : verdict;
  }
  const confirmations = settleConfirmations(aligned.confirmations ?? {}, now);
  // A mark outlives its run only until the run could no longer answer.
  const forgetBefore = now - check.definition.timeoutMs - CONFIRMATION_GRACE_MS;
  const earlyConfirmed = aligned.earlyConfirmed && Object.fromEntries(Object.entries(aligned.earlyConfirmed).filter(([, slot]) => slot >= forgetBefore));
  return finish(state, { ...aligned, verdicts, confirmations, earlyConfirmed }, now, newIncidentId, resolvePolicy(check.definition), context);
}

/** A check was removed from the registry: its open incident (if any) resolves, and its state goes. */
export function retireCheck(state: CheckState, now: number): Transition {
  return finish(state, { ...state, verdicts: {}, confirmations: {}, flapping: {}, earlyConfirmed: {}, answerMs: {} }, now, () => 'unused', null, {});
}

interface Extra {
  planned?: PlannedConfirmation[];
  /** Why the applied result degraded its region. */
  degraded?: Record<string, DegradedReason>;
}

function finish(
  before: CheckState, after: CheckState, now: number, newIncidentId: () => string,
  policy: EffectivePolicy | null, context: TransitionContext, extra: Extra = {},
): Transition {
  const inMaintenance = context.inMaintenance === true;
  const check = { id: after.checkId, name: after.checkName };
  const verdictChanges: VerdictChange[] = [];
  for (const [region, verdict] of Object.entries(after.verdicts)) {
    // A region without a stored verdict was implicitly `no-data` (see alignRegions).
    const from = before.verdicts[region]?.status ?? 'no-data';
    if (from !== verdict.status) verdictChanges.push({ region, from, to: verdict.status });
  }

  const notices: PolicyAlertEvent[] = [];
  const flapping: Record<string, FlapState> = {};
  if (policy?.flapping) {
    for (const [region, verdict] of Object.entries(after.verdicts)) {
      const previous = after.flapping?.[region] ?? initialFlapState();
      const change = verdictChanges.find((c) => c.region === region);
      const { state, transition } = nextFlapState(previous, policy.flapping, now, change !== undefined && isTargetStateChange(change.from, change.to));
      if (state.changes.length > 0 || state.flappingSince !== null) flapping[region] = state;
      if (transition && !inMaintenance) {
        const since = transition === 'started' ? state.flappingSince! : previous.flappingSince!;
        notices.push(flappingEvent(check, region, transition, since, verdict.status, now));
      }
    }
  }
  const flappingRegions = Object.keys(flapping).filter((region) => flapping[region]!.flappingSince !== null).sort();

  let incident = after.incident;
  let incidentEvent: IncidentEvent | null = null;
  if (!inMaintenance) {
    const next = nextIncident(after.incident, after.checkId, after.verdicts, now, newIncidentId, {
      ...(policy ? { policy: { globalRegions: policy.globalRegions, globalForMs: policy.globalForMs } } : {}),
      forceFailing: flappingRegions,
      awaiting: awaitedRegions(after.confirmations ?? {}, after.verdicts),
    });
    incident = next.incident;
    incidentEvent = next.event;
    if (incidentEvent && incident) {
      incident = { ...incident, lastNotifiedAt: now };
      incidentEvent = { ...incidentEvent, incident };
    }
  }
  const events: CheckEvent[] = incidentEvent ? [toAlertEvent(incidentEvent, after.checkName, now)] : [];

  if (incident && !incidentEvent && !inMaintenance && policy?.reminderEveryMs) {
    const quietFlapping = incident.failingRegions.some((region) => flappingRegions.includes(region));
    const lastNotified = incident.lastNotifiedAt ?? incident.updatedAt;
    if (!quietFlapping && now - lastNotified >= policy.reminderEveryMs) {
      const reminder = (incident.reminders ?? 0) + 1;
      incident = { ...incident, reminders: reminder, lastNotifiedAt: now };
      events.push({ id: reminderEventId(incident, reminder), type: 'incident.reminder', at: now, check, incident, reminder });
    }
  }
  events.push(...notices);

  if (policy?.notifyDegraded && !inMaintenance) {
    for (const change of verdictChanges) {
      if (flappingRegions.includes(change.region)) continue;
      const type = change.from === 'up' && change.to === 'degraded' ? 'check.degraded'
        : change.from === 'degraded' && change.to === 'up' ? 'check.recovered' : null;
      if (!type) continue;
      const event: DegradedAlertEvent = {
        id: degradedEventId(type, check.id, change.region, now), type, at: now, check, region: change.region,
        reason: type === 'check.degraded' ? extra.degraded?.[change.region] ?? null : null,
      };
      events.push(event);
    }
  }

  const state = compact({ ...after, incident, flapping });
  return {
    state,
    changed: !sameCanonicalJson(compact(before), state),
    verdictChanges,
    events,
    resolved: incidentEvent?.type === 'incident.resolved' ? incidentEvent.incident : null,
    confirmations: extra.planned ?? [],
  };
}

/** Leaves out empty maps, so that a state with nothing pending compares (and stores) as before they existed. */
function compact(state: CheckState): CheckState {
  const { confirmations, flapping, earlyConfirmed, answerMs, ...rest } = state;
  const some = <T>(map: Record<string, T> | undefined): map is Record<string, T> => map !== undefined && Object.keys(map).length > 0;
  return {
    ...rest,
    ...(some(confirmations) ? { confirmations } : {}),
    ...(some(flapping) ? { flapping } : {}),
    ...(some(earlyConfirmed) ? { earlyConfirmed } : {}),
    ...(some(answerMs) ? { answerMs } : {}),
  };
}

function without<T>(map: Record<string, T> | undefined, key: string): Record<string, T> | undefined {
  if (!map || !(key in map)) return map;
  const { [key]: _dropped, ...rest } = map;
  return rest;
}

function flappingEvent(check: { id: string; name: string }, region: string, state: 'started' | 'ended', since: number, status: string, now: number): FlappingAlertEvent {
  return { id: flappingEventId(check.id, region, since, state), type: 'check.flapping', at: now, check, region, state, flappingSince: since, status };
}

export function toAlertEvent(event: IncidentEvent, checkName: string, now: number): IncidentAlertEvent {
  return {
    id: incidentEventId(event.incident),
    type: event.type,
    at: now,
    check: { id: event.incident.checkId, name: checkName },
    incident: event.incident,
    ...(event.escalated ? { escalated: true as const } : {}),
  };
}
