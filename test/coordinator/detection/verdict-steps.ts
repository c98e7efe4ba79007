/** Plays a region's history through the verdict state machine, written as one letter per step. */
import { applyResult, initialVerdict, markNoData, type RegionVerdict, type VerdictPolicy } from '../../../coordinator/detection/verdict.ts';

export const DEFAULT_VERDICT_POLICY: VerdictPolicy = { failureThreshold: 2, successThreshold: 2 };

/**
 * Steps at t = 1000, 2000, …: `P` clean pass, `D` degraded pass, `F` fail (`TIMEOUT`, message `m<i>`),
 * `E` agent error, `N` no-data. Returns every status seen, space-separated, and the last verdict.
 */
export function playVerdict(steps: string, policy: VerdictPolicy = DEFAULT_VERDICT_POLICY, start: RegionVerdict = initialVerdict(0)): { statuses: string; verdict: RegionVerdict } {
  let verdict = start;
  const statuses: string[] = [];
  [...steps].forEach((step, i) => {
    const at = (i + 1) * 1_000;
    if (step === 'N') verdict = markNoData(verdict, at);
    else if (step === 'P' || step === 'D') verdict = applyResult(verdict, { outcome: 'pass', scheduledAt: at, error: null, degraded: step === 'D' }, policy, at);
    else if (step === 'F') verdict = applyResult(verdict, { outcome: 'fail', scheduledAt: at, error: { code: 'TIMEOUT', message: `m${i}` } }, policy, at);
    else if (step === 'E') verdict = applyResult(verdict, { outcome: 'error', scheduledAt: at, error: { code: 'AGENT_INTERNAL', message: `m${i}` } }, policy, at);
    else throw new Error(`unknown step ${JSON.stringify(step)} (use P, D, F, E or N)`);
    statuses.push(verdict.status);
  });
  return { statuses: statuses.join(' '), verdict };
}
