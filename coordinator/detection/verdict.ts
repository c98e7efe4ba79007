/**
 * The verdict of one (check, region) pair, as a pure state machine.
 *
 * - `up` / `down` speak of the target, and change only through target results (`pass` / `fail`),
 *   with hysteresis: `failureThreshold` consecutive failures make a region `down`, `successThreshold`
 *   consecutive passes make a `down` region `up` again.
 * - `degraded` is `up`, but the newest passing run was slow (`degradedAfterMs`) or failed a soft
 *   assertion. It is a pass for every purpose (streaks, uptime, incidents); the next clean pass makes the
 *   region `up` again, a degraded pass during recovery counts toward `successThreshold`.
 * - `no-data` means the monitoring itself cannot see: no live agent in the region, or no target result
 *   for two intervals. It never counts as a failure. Agent errors (`outcome: 'error'`) are not target
 *   results: they neither move the streaks nor keep a region from going `no-data`.
 */
import type { Outcome } from '../../checks/contract.ts';

export type VerdictStatus = 'up' | 'degraded' | 'down' | 'no-data';

export interface RegionVerdict {
  status: VerdictStatus;
  /** Epoch ms of the last status change. */
  since: number;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** Scheduled time of the newest target result (pass or fail) applied; older results are ignored. */
  lastResultAt: number | null;
  /** The last target state seen before any `no-data` (`degraded` counts as up), so a region that was down must prove recovery. */
  lastKnown: 'up' | 'down' | null;
  /** Newest target failure: code, message and when it ran. */
  lastFailure: { code: string; message: string; at: number } | null;
  /** Epoch ms of the first failure of the current failure streak (the start of an outage). */
  failingSince: number | null;
}

export interface VerdictPolicy {
  failureThreshold: number;
  successThreshold: number;
  /**
   * A result older than this when it arrives (see {@link staleAfterMs}) cannot bring a `no-data` region
   * back: it is history (streaks, last result), not news. @defaultValue none (every result counts as news)
   */
  staleAfterMs?: number;
}

/** How long a region may go without a target result before it is `no-data`: two intervals plus the run's own timeout. */
export const staleAfterMs = (timing: { frequencyMs: number; timeoutMs: number }): number => 2 * timing.frequencyMs + timing.timeoutMs;

export interface ResultInput {
  outcome: Outcome;
  scheduledAt: number;
  error: { code: string; message: string } | null;
  /** A pass that was slow or failed a soft assertion (see policy.ts `degradedReason`). @defaultValue false */
  degraded?: boolean;
}

export function initialVerdict(now: number): RegionVerdict {
  return {
    status: 'no-data', since: now, consecutiveFailures: 0, consecutiveSuccesses: 0,
    lastResultAt: null, lastKnown: null, lastFailure: null, failingSince: null,
  };
}

/**
 * Applies one run result. Returns the same object when nothing changed.
 *
 * A result that arrives already stale (a spooled one, flushed after an outage) updates the streaks and the
 * last result but leaves a `no-data` region `no-data`: it says how the target was, not how it is, and
 * lifting the region would only have the next sweep judge it stale again (up → no-data → up).
 */
export function applyResult(verdict: RegionVerdict, result: ResultInput, policy: VerdictPolicy, now: number): RegionVerdict {
  if (result.outcome === 'error') return verdict;
  if (verdict.lastResultAt !== null && result.scheduledAt <= verdict.lastResultAt) return verdict;
  if (verdict.status === 'no-data' && policy.staleAfterMs !== undefined && now - result.scheduledAt > policy.staleAfterMs) {
    const history = applyResult(verdict, result, { ...policy, staleAfterMs: undefined }, now);
    return { ...history, status: 'no-data', since: verdict.since, lastKnown: verdict.lastKnown };
  }

  if (result.outcome === 'pass') {
    const successes = verdict.consecutiveSuccesses + 1;
    const next: RegionVerdict = {
      ...verdict, consecutiveSuccesses: successes, consecutiveFailures: 0, lastResultAt: result.scheduledAt,
      failingSince: null,
    };
    // A region never seen down needs one pass; one that was down must pass `successThreshold` times.
    const passing: VerdictStatus = result.degraded === true ? 'degraded' : 'up';
    if (verdict.status === 'up' || verdict.status === 'degraded') {
      return verdict.status === passing ? { ...next, lastKnown: 'up' } : { ...next, status: passing, since: now, lastKnown: 'up' };
    }
    const mustProve = verdict.status === 'down' || (verdict.status === 'no-data' && verdict.lastKnown === 'down');
    if (!mustProve || successes >= policy.successThreshold) {
      return { ...next, status: passing, since: now, lastKnown: 'up' };
    }
    return next;
  }

  const failures = verdict.consecutiveFailures + 1;
  const next: RegionVerdict = {
    ...verdict, consecutiveFailures: failures, consecutiveSuccesses: 0, lastResultAt: result.scheduledAt,
    lastFailure: { code: result.error?.code ?? 'UNKNOWN', message: result.error?.message ?? '', at: result.scheduledAt },
    failingSince: verdict.failingSince ?? result.scheduledAt,
  };
  if (verdict.status !== 'down' && failures >= policy.failureThreshold) {
    return { ...next, status: 'down', since: now, lastKnown: 'down' };
  }
  return next;
}

/**
 * Whether a region should be `no-data` now: no live agent in the region, or no target result for
 * two intervals (plus the run's own timeout, since a run may legitimately take that long).
 *
 * `judgedFrom`: since when the monitoring itself could see (a coordinator judging after Redis or its own
 * connection was away): silence before then is the monitoring's, not the region's, so it counts only
 * from then. @defaultValue no such bound
 */
export function isStale(
  verdict: RegionVerdict, now: number, timing: { frequencyMs: number; timeoutMs: number; deployedAt: number }, agentAlive: boolean,
  judgedFrom = Number.NEGATIVE_INFINITY,
): boolean {
  if (!agentAlive) return true;
  const reference = Math.max(verdict.lastResultAt ?? timing.deployedAt, judgedFrom);
  return now - reference > staleAfterMs(timing);
}

/** Moves a region to `no-data`, remembering what was last known. Same object when already there. */
export function markNoData(verdict: RegionVerdict, now: number): RegionVerdict {
  if (verdict.status === 'no-data') return verdict;
  // The streaks end here. A down region keeps the start of its outage (an incident may still hold it);
  // an up region's partial failure streak is over, so a later failure starts a new one.
  return {
    ...verdict, status: 'no-data', since: now, consecutiveFailures: 0, consecutiveSuccesses: 0,
    failingSince: verdict.status === 'down' ? verdict.failingSince : null,
  };
}
