/**
 * Confirmation fan-out, pure. When a run fails, the coordinator does not wait for the next interval: it
 * runs the check again in the failing region (`retries`, the n-th after `backoffMs × 2^(n−1)`) and at
 * once in every other region of the check. Confirmation results are ordinary results: they count toward
 * the failure streak, and the other regions' ones give the incident its scope when it opens (opening
 * waits for regions whose failure is being confirmed, see {@link awaitedRegions}).
 *
 * No storm: at most one pending confirmation per (check, region), recorded in the check state (so the
 * optimistic transaction that plans it is the only one that can), none in a region that is already down
 * or silent, none during maintenance, retries only while the region's streak is shorter than `retries`,
 * and other regions only for a failure that was not itself a confirmation. A pending confirmation ends
 * when a result of its region at or after its slot arrives, or when it expires (its agent never answered).
 */
import type { RunResult } from '../../checks/contract.ts';
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

export interface PlannedConfirmation extends PendingConfirmation {
  region: string;
  /** Delay from now until it is due. */
  delayMs: number;
}

export interface ConfirmationInput {
  /** The result just applied. */
  result: Pick<RunResult, 'region' | 'outcome' | 'trigger'>;
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
  if (!input.applied || result.outcome !== 'fail' || input.inMaintenance) return [];
  const planned: PlannedConfirmation[] = [];
  const plan = (region: string, delayMs: number, reason: PendingConfirmation['reason']): void => {
    const scheduledAt = now + delayMs;
    planned.push({ region, delayMs, scheduledAt, expiresAt: scheduledAt + input.timeoutMs + CONFIRMATION_GRACE_MS, reason });
  };

  const own = verdicts[result.region];
  const streak = own?.consecutiveFailures ?? 0;
  if (own && own.status !== 'down' && pending[result.region] === undefined && streak >= 1 && streak <= policy.confirmation.retries) {
    plan(result.region, policy.confirmation.backoffMs * 2 ** (streak - 1), 'retry');
  }
  if (policy.confirmation.otherRegions && result.trigger !== 'confirmation') {
    for (const [region, verdict] of Object.entries(verdicts)) {
      if (region === result.region || pending[region] !== undefined) continue;
      // A down region has nothing to confirm; a silent one has no agent (or no result yet) to ask.
      if (verdict.status === 'down' || verdict.status === 'no-data') continue;
      plan(region, 0, 'other-region');
    }
  }
  return planned.sort((a, b) => a.region.localeCompare(b.region));
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

