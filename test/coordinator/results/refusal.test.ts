import { describe, expect, it } from 'vitest';
import { MAX_CLOCK_SKEW_MS, refusalOf } from '../../../coordinator/results/refusal.ts';
import { JobSigner, JobVerifier, generateSigningKey } from '../../../checks/signing.ts';
import type { RunResult } from '../../../checks/contract.ts';
import { TEST_JOB_PUBLIC_KEY, slotProofFor } from '../../support/signing.ts';
import { runResult } from '../support.ts';

describe('refusalOf: results that answer no issued slot', () => {
  const now = 1_000_000_000;
  const verifier = new JobVerifier(TEST_JOB_PUBLIC_KEY);
  const good = runResult({ checkId: 'web', region: 'eu-west', scheduledAt: now - 5_000 });
  const otherKey = new JobSigner(generateSigningKey());
  it.each<[string, RunResult, string | null]>([
    ['a result answering its signed slot', good, null],
    ['a result stamped up to the skew bound ahead', { ...good, startedAt: now + MAX_CLOCK_SKEW_MS, endedAt: now + MAX_CLOCK_SKEW_MS }, null],
    ['a result from another region\'s queue', { ...good, region: 'us-east' }, 'region_mismatch'],
    ['an unsigned result', { ...good, slot: null }, 'unsigned'],
    ['a slot signed by another key', { ...good, slot: slotProofFor(good, otherKey) }, 'bad_signature'],
    ['a moved slot (50 s in the future)', { ...good, scheduledAt: now + 50_000 }, 'bad_signature'],
    ['another check', { ...good, checkId: 'other' }, 'bad_signature'],
    ['another trigger', { ...good, trigger: 'confirmation' }, 'bad_signature'],
    ['a later version', { ...good, checkVersion: 2 }, 'bad_signature'],
    ['times an hour ahead of Redis time', { ...good, endedAt: now + 3_600_000 }, 'future'],
  ])('%s → %s', (_name, result, reason) => {
    expect(refusalOf(result, 'eu-west', verifier, now)?.reason ?? null).toBe(reason);
  });
});
