/**
 * The job signing key of an installation: one Ed25519 key shared by every coordinator. Given by file
 * (`--job-signing-key`), or else kept in Redis under the coordinators' own namespace, made once by the
 * first coordinator (or `lookout region add`) that needs it (SET NX, so racing coordinators agree on
 * one). Agents never read it: their Redis role cannot reach that key, and they verify with the public key
 * they are given (`LOOKOUT_JOB_PUBLIC_KEY`, printed by `lookout region add`).
 */
import type { Redis } from 'ioredis';
import { signingKeyKey } from '../../checks/keys.ts';
import { JobSigner, generateSigningKey } from '../../checks/signing.ts';

/** The installation's signer: from `pem` when given, else from Redis (made there if absent). */
export async function loadJobSigner(redis: Redis, prefix: string, options: { pem?: string | undefined } = {}): Promise<JobSigner> {
  if (options.pem !== undefined) return new JobSigner(options.pem);
  const key = signingKeyKey(prefix);
  let pem = await redis.get(key);
  if (pem === null) {
    await redis.set(key, generateSigningKey(), 'NX');
    pem = await redis.get(key);
  }
  if (pem === null) throw new Error(`the job signing key ${key} vanished right after it was written`);
  return new JobSigner(pem);
}
