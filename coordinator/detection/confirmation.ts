/**
 * Confirmation fan-out, pure. When a run fails, the coordinator does not wait for the next interval: it
 * runs the check again in the failing region (`retries`, the n-th after `backoffMs × 2^(n−1)`) and at
 * once in every other region of the check. Confirmation results are ordinary results: they count toward
 * the failure streak, and the other regions' ones give the incident its scope when it opens (opening
 * waits for regions whose failure is being confirmed, see {@link awaitedRegions}).
 *
 * The back-off of a retry counts from when the failing run started: a run that failed by timing out has
 * already waited longer than the back-off, so its retry starts at once.
 *
 * Silent runs (a target that drops packets) cannot be judged before their timeout, so waiting for their
 * failure to plan the confirmations costs a whole timeout more. {@link planForUnanswered} plans them as
 * soon as a run has gone unanswered for a short budget ({@link unansweredBudgetMs}), as if it had failed,
 * without counting it as a failure: the confirmations then end about when the silent run does. The
 * failure of such a run, when it arrives, plans nothing more (its slot is marked early-confirmed).
 *
 * No storm: at most one pending confirmation per (check, region), recorded in the check state (so the
 * optimistic transaction that plans it is the only one that can), none in a region that is already down
 * or silent, none during maintenance, retries only while the region's streak is shorter than `retries`,
 * and other regions only for a failure that was not itself a confirmation. A pending confirmation ends
 * when a result of its region at or after its slot arrives, or when it expires (its agent never answered).
 */
import type { RunResult, RunTrigger } from '../../checks/contract.ts';
import type { EffectivePolicy } from './policy.ts';
import type { RegionVerdict } from './verdict.ts';

/** How long after its due time (plus the check's timeout) a confirmation is given up. */
export const CONFIRMATION_GRACE_MS = 10_000;

export interface PendingConfirmation {
  /** When the run is due: the job's `scheduledAt`, which its result carries back. */
  scheduledAt: number;
  /** After this, the confirmation is forgotten (and no longer holds an incident back). */
  expiresAt: number;
  /** Why it runs: a retry in the failing region, or a check of another region. */
  reason: 'retry' | 'other-region';
}

/** What a confirmation follows: a failed run, or a run still unanswered after its budget. */
export type ConfirmationCause = 'failure' | 'silence';

export interface PlannedConfirmation extends PendingConfirmation {
  region: string;
  /** Delay from now until it is due. */
  delayMs: number;
  /** What it follows. */
  after: ConfirmationCause;
}

export interface ConfirmationInput {
  /**
   * The result just applied. `startedAt` (the agent's clock): the retry's back-off counts from it; without
   * it, from now.
   */
  result: Pick<RunResult, 'region' | 'outcome' | 'trigger'> & { startedAt?: number };
  /**
   * The result's slot already had its confirmations planned while it was unanswered
   * ({@link planForUnanswered}): its failure plans nothing more. @defaultValue false
   */
  earlyConfirmed?: boolean;
  /** Whether the result changed its region's verdict (false: it was stale or an agent error). */
  applied: boolean;
  /** Every region's verdict after the result was applied. */
  verdicts: Readonly<Record<string, RegionVerdict>>;
  /** Pending confirmations after the result's own region was cleared. */
  pending: Readonly<Record<string, PendingConfirmation>>;
  policy: Pick<EffectivePolicy, 'confirmation'>;
  timeoutMs: number;
  inMaintenance: boolean;
  now: number;
}

/** The confirmation runs to start for one applied result (sorted by region). */
export function planConfirmations(input: ConfirmationInput): PlannedConfirmation[] {
  const { result, verdicts, pending, policy, now } = input;
  if (!input.applied || result.outcome !== 'fail' || input.inMaintenance || input.earlyConfirmed === true) return [];
  const planned: PlannedConfirmation[] = [];
  const plan = planner(planned, now, input.timeoutMs, 'failure');

  const own = verdicts[result.region];
  const streak = own?.consecutiveFailures ?? 0;
  if (own && own.status !== 'down' && pending[result.region] === undefined && streak >= 1 && streak <= policy.confirmation.retries) {
    const backoffMs = policy.confirmation.backoffMs * 2 ** (streak - 1);
    plan(result.region, retryDelayMs(backoffMs, result.startedAt, now), 'retry');
  }
  if (policy.confirmation.otherRegions && result.trigger !== 'confirmation') planOtherRegions(plan, result.region, verdicts, pending);
  return planned.sort((a, b) => a.region.localeCompare(b.region));
}

/**
 * The delay of a retry whose back-off counts from when the failing run started (`startedAt`, the agent's
 * clock, so clamped to [0, back-off]: a skewed clock shortens or lengthens the back-off, never more). A run
 * that timed out has waited longer than the back-off: its retry starts at once.
 */
export function retryDelayMs(backoffMs: number, startedAt: number | undefined, now: number): number {
  if (startedAt === undefined) return backoffMs;
  return Math.min(backoffMs, Math.max(0, backoffMs - (now - startedAt)));
}

type Plan = (region: string, delayMs: number, reason: PendingConfirmation['reason']) => void;

function planner(into: PlannedConfirmation[], now: number, timeoutMs: number, after: ConfirmationCause): Plan {
  return (region, delayMs, reason) => {
    const scheduledAt = now + delayMs;
    into.push({ region, delayMs, scheduledAt, expiresAt: scheduledAt + timeoutMs + CONFIRMATION_GRACE_MS, reason, after });
  };
}

function planOtherRegions(plan: Plan, failingRegion: string, verdicts: Readonly<Record<string, RegionVerdict>>, pending: Readonly<Record<string, PendingConfirmation>>): void {
  for (const [region, verdict] of Object.entries(verdicts)) {
    if (region === failingRegion || pending[region] !== undefined) continue;
    // A down region has nothing to confirm; a silent one has no agent (or no result yet) to ask.
    if (verdict.status === 'down' || verdict.status === 'no-data') continue;
    plan(region, 0, 'other-region');
  }
}

// ---------------------------------------------------------------------------------------------
// Silent runs: confirmation before the timeout
// ---------------------------------------------------------------------------------------------

/** A run issued for slot `scheduledAt` of (check, region) that has no result yet. */
export interface UnansweredRun {
  checkId: string;
  region: string;
  scheduledAt: number;
  trigger: RunTrigger;
}

/** The shortest budget a run gets before its silence starts confirmation runs. */
export const UNANSWERED_MIN_BUDGET_MS = 300;
/** A run's budget is this many times its region's usual answer time (plus {@link UNANSWERED_SLACK_MS}). */
export const UNANSWERED_FACTOR = 2;
export const UNANSWERED_SLACK_MS = 150;

/**
 * How long after its slot a run may stay unanswered before its confirmation runs start:
 * {@link UNANSWERED_FACTOR} × the region's usual answer time (slot to result ingested, see
 * {@link nextAnswerMs}) + {@link UNANSWERED_SLACK_MS}, at least {@link UNANSWERED_MIN_BUDGET_MS}, at most
 * half the timeout (later, the confirmations would no longer end with the silent run). A target that is
 * usually slow gets a longer budget, so its normal runs do not start confirmations.
 */
export function unansweredBudgetMs(timeoutMs: number, usualAnswerMs: number | null | undefined): number {
  const wanted = UNANSWERED_FACTOR * Math.max(0, usualAnswerMs ?? 0) + UNANSWERED_SLACK_MS;
  return Math.round(Math.min(Math.max(UNANSWERED_MIN_BUDGET_MS, timeoutMs / 2), Math.max(UNANSWERED_MIN_BUDGET_MS, wanted)));
}

/** Weight of the newest answer time in the moving average. */
const ANSWER_WEIGHT = 0.2;

/**
 * The region's usual answer time after one more passing run answered `answerMs` after its slot: an
 * exponentially weighted average (whole milliseconds, capped at the timeout), so one slow run moves it a
 * little and a lasting change moves it within a few runs.
 */
export function nextAnswerMs(previous: number | undefined, answerMs: number, timeoutMs: number): number {
  const sample = Math.min(timeoutMs, Math.max(0, answerMs));
  return Math.round(previous === undefined ? sample : previous + ANSWER_WEIGHT * (sample - previous));
}

export interface UnansweredInput {
  run: UnansweredRun;
  /** Every region's verdict now. */
  verdicts: Readonly<Record<string, RegionVerdict>>;
  /** Pending confirmations now (expired ones already dropped). */
  pending: Readonly<Record<string, PendingConfirmation>>;
  /** The slot whose confirmations were planned early, per region. */
  earlyConfirmed: Readonly<Record<string, number>>;
  /** The region's usual answer time (see {@link nextAnswerMs}); unknown: the shortest budget. */
  usualAnswerMs: number | undefined;
  policy: Pick<EffectivePolicy, 'confirmation'>;
  timeoutMs: number;
  inMaintenance: boolean;
  now: number;
}

/** Why an unanswered run needs nothing (more): the caller forgets it. */
export type UnansweredDoneReason =
  /** A result of the region for this slot or a later one is in. */
  | 'answered'
  /** Past its timeout and grace: lost (staleness turns its region `no-data` if nothing comes). */
  | 'expired'
  /** Its confirmations were planned already (by this or another coordinator). */
  | 'already-confirmed'
  /** Nothing to confirm: maintenance, a confirmation run, a region down or silent, or not a region of the check. */
  | 'not-applicable';

export type UnansweredDecision =
  | { kind: 'confirm'; planned: PlannedConfirmation[] }
  | { kind: 'wait'; until: number }
  | { kind: 'done'; reason: UnansweredDoneReason };

/**
 * What to do about a run that has had no result so far: plan its confirmation runs now, as its failure
 * would (a retry in its region, every other region once; all at once, without back-off), or look again
 * when its budget ends, or nothing. Only scheduled (and manual) runs: a silent confirmation run has
 * nothing left to confirm early. Planning does not count the run as failed: its own result decides that.
 */
export function planForUnanswered(input: UnansweredInput): UnansweredDecision {
  const { run, verdicts, pending, policy, now } = input;
  const verdict = verdicts[run.region];
  if (!verdict) return { kind: 'done', reason: 'not-applicable' };
  if (verdict.lastResultAt !== null && verdict.lastResultAt >= run.scheduledAt) return { kind: 'done', reason: 'answered' };
  if (now > run.scheduledAt + input.timeoutMs + CONFIRMATION_GRACE_MS) return { kind: 'done', reason: 'expired' };
  if (input.earlyConfirmed[run.region] !== undefined && input.earlyConfirmed[run.region]! >= run.scheduledAt) {
    return { kind: 'done', reason: 'already-confirmed' };
  }
  if (input.inMaintenance || run.trigger === 'confirmation' || verdict.status === 'down' || verdict.status === 'no-data') {
    return { kind: 'done', reason: 'not-applicable' };
  }
  const until = run.scheduledAt + unansweredBudgetMs(input.timeoutMs, input.usualAnswerMs);
  if (now < until) return { kind: 'wait', until };

  const planned: PlannedConfirmation[] = [];
  const plan = planner(planned, now, input.timeoutMs, 'silence');
  if (policy.confirmation.retries >= 1 && pending[run.region] === undefined) plan(run.region, 0, 'retry');
  if (policy.confirmation.otherRegions) planOtherRegions(plan, run.region, verdicts, pending);
  return { kind: 'confirm', planned: planned.sort((a, b) => a.region.localeCompare(b.region)) };
}

/**
 * Pending confirmations without the ones a result of `region` (due at `scheduledAt`) answers, and
 * without the expired ones. Same object when nothing is dropped.
 */
export function settleConfirmations(
  pending: Readonly<Record<string, PendingConfirmation>>,
  now: number,
  answered?: { region: string; scheduledAt: number },
): Record<string, PendingConfirmation> {
  let changed = false;
  const out: Record<string, PendingConfirmation> = {};
  for (const [region, confirmation] of Object.entries(pending)) {
    const isAnswered = answered !== undefined && answered.region === region && answered.scheduledAt >= confirmation.scheduledAt;
    if (isAnswered || now > confirmation.expiresAt) { changed = true; continue; }
    out[region] = confirmation;
  }
  return changed ? out : (pending as Record<string, PendingConfirmation>);
}

/**
 * Regions whose failure is being confirmed: a confirmation is out, a failure streak is in progress, and the
 * region is not down yet. An incident's opening (and scope changes) wait for them, since they may be about
 * to fail too. A passing region with a confirmation out is not waited for: if it fails, its own streak
 * starts, and the incident escalates then. So a regional outage opens as soon as its region is down.
 */
export function awaitedRegions(pending: Readonly<Record<string, PendingConfirmation>>, verdicts: Readonly<Record<string, RegionVerdict>>): string[] {
  return Object.keys(pending).filter((region) => {
    const verdict = verdicts[region];
    return verdict !== undefined && verdict.status !== 'down' && verdict.consecutiveFailures > 0;
  }).sort();
}

