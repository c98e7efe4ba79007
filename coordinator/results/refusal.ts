/**
 * Which results ingest refuses before reading what they say; pure and table-tested. A result must answer
 * a slot a coordinator of this installation signed for the region of the queue it came through, so a
 * region's stolen credential cannot report for another region, invent runs or rewrite a slot's time.
 */
import type { RunResult } from '../../checks/contract.ts';
import type { JobVerifier } from '../../checks/signing.ts';

/**
 * How far in the future a result's times may be (Redis time, as agents report them). An agent whose
 * clock is wrong reports in Redis time anyway (lib/clock.ts); this bounds a result that lies about it.
 */
export const MAX_CLOCK_SKEW_MS = 60_000;

/** Why a result was refused before it was read for what it says (counted by reason). */
export type SlotRefusal = 'region_mismatch' | 'unsigned' | 'bad_signature' | 'future';

/**
 * Whether a result answers a slot a coordinator issued for the region of the queue it came through, and
 * is not from the future; pure. The region is the queue's, never the payload's: an agent can publish
 * only into its own region's results queue.
 */
export function refusalOf(result: RunResult, queueRegion: string, verifier: JobVerifier, now: number): { reason: SlotRefusal; message: string } | null {
  if (result.region !== queueRegion) {
    return { reason: 'region_mismatch', message: `result.region: ${JSON.stringify(result.region)} came through the results queue of ${JSON.stringify(queueRegion)}` };
  }
  if (result.slot === null) return { reason: 'unsigned', message: 'result.slot: missing; a result must answer a slot a coordinator issued' };
  const signed = verifier.verifyRun({
    region: queueRegion, checkId: result.checkId, checkVersion: result.checkVersion, trigger: result.trigger,
    scheduledAt: result.scheduledAt, expiresAt: result.slot.expiresAt, definitionDigest: result.slot.definitionDigest,
  }, result.slot.signature);
  if (!signed) return { reason: 'bad_signature', message: 'result.slot.signature: not a slot a coordinator of this installation issued' };
  for (const field of ['startedAt', 'endedAt'] as const) {
    if (result[field] > now + MAX_CLOCK_SKEW_MS) {
      return { reason: 'future', message: `result.${field}: ${new Date(result[field]).toISOString()} is more than ${MAX_CLOCK_SKEW_MS / 1000} s ahead of Redis time` };
    }
  }
  return null;
}
