/**
 * One job signing key for the whole test run, as an installation has one: coordinators in tests read it
 * from a file (`jobSigningKeyFile`), agents get its public key, and tests that play a coordinator (adding
 * jobs by hand) or an agent (publishing results by hand) sign with it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCHEMA_VERSION, type CanaryJob, type CheckDefinition, type CheckJob, type RunResult, type RunTrigger, type SlotProof } from '../../checks/contract.ts';
import { JobSigner, definitionDigest, generateSigningKey } from '../../checks/signing.ts';

export const TEST_SIGNING_PEM = generateSigningKey();
export const testSigner = new JobSigner(TEST_SIGNING_PEM);
export const TEST_JOB_PUBLIC_KEY = testSigner.publicKey;
/** A file holding {@link TEST_SIGNING_PEM}, for coordinators' `jobSigningKeyFile`. */
export const TEST_SIGNING_KEY_FILE = (() => {
  const file = join(mkdtempSync(join(tmpdir(), 'lookout-signing-')), 'job-signing-key.pem');
  writeFileSync(file, TEST_SIGNING_PEM, { mode: 0o600 });
  return file;
})();

/** A job as a coordinator issues it: signed over its slot. */
export function signedJob(check: CheckDefinition, region: string, options: {
  version?: number; trigger?: RunTrigger; scheduledAt?: number; expiresAt?: number; signer?: JobSigner;
} = {}): CheckJob {
  const scheduledAt = options.scheduledAt ?? Date.now();
  const expiresAt = options.expiresAt ?? scheduledAt + 30_000;
  const checkVersion = options.version ?? 1;
  const trigger = options.trigger ?? 'manual';
  const digest = definitionDigest(check);
  const signature = (options.signer ?? testSigner).signRun({ region, checkId: check.id, checkVersion, trigger, scheduledAt, expiresAt, definitionDigest: digest });
  return { schemaVersion: SCHEMA_VERSION, region, checkVersion, check, trigger, scheduledAt, expiresAt, definitionDigest: digest, signature };
}

/** A canary as a coordinator sends it. */
export function signedCanary(region: string, slot: number, intervalMs: number, signer: JobSigner = testSigner): CanaryJob {
  return { schemaVersion: SCHEMA_VERSION, kind: 'canary', region, slot, intervalMs, sentAt: slot, signature: signer.signCanary({ region, slot, intervalMs }) };
}

/** The proof a result carries of the slot it answers, as if a coordinator had issued that slot. */
export function slotProofFor(result: Pick<RunResult, 'region' | 'checkId' | 'checkVersion' | 'trigger' | 'scheduledAt'>, signer: JobSigner = testSigner): SlotProof {
  const expiresAt = result.scheduledAt + 30_000;
  const digest = '0'.repeat(64);
  return {
    expiresAt, definitionDigest: digest,
    signature: signer.signRun({ region: result.region, checkId: result.checkId, checkVersion: result.checkVersion, trigger: result.trigger, scheduledAt: result.scheduledAt, expiresAt, definitionDigest: digest }),
  };
}

/** The environment that gives coordinators the test signing key and agents its public key. */
export const TEST_KEYS_ENV: Readonly<Record<string, string>> = {
  LOOKOUT_JOB_SIGNING_KEY_FILE: TEST_SIGNING_KEY_FILE,
  LOOKOUT_JOB_PUBLIC_KEY: TEST_JOB_PUBLIC_KEY,
};
