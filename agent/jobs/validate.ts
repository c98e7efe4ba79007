/**
 * What an agent accepts from its queue. A job crossed Redis, so it is untrusted twice over: it may be
 * malformed, and it may not come from a coordinator at all (anyone holding this region's credential can
 * add jobs to its queue). So a job runs only when it matches the contract, is for this agent's region,
 * carries a coordinator's signature over its slot (checks/signing.ts), and its definition is the one the
 * signature covers. Pure, given the verifier.
 */
import { CheckJob, SCHEMA_VERSION } from '../../checks/contract.ts';
import { definitionDigest, type JobVerifier } from '../../checks/signing.ts';
import { describeZodError } from '../../lib/zod-problems.ts';

/** Why a job was refused: it does not fit the contract, or no coordinator signed it as it is. */
export type JobRefusal = 'INVALID_JOB' | 'INVALID_JOB_SIGNATURE';

export type ParsedCheckJob =
  | { ok: true; job: CheckJob }
  | { ok: false; code: JobRefusal; message: string };

/** Validates `data` as a signed job for `region`'s queue. */
export function parseCheckJob(data: unknown, region: string, verifier: JobVerifier): ParsedCheckJob {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, code: 'INVALID_JOB', message: `job data must be an object, got ${describeKind(data)}` };
  }
  const record = data as Record<string, unknown>;
  if (record.schemaVersion !== SCHEMA_VERSION) {
    return { ok: false, code: 'INVALID_JOB', message: `schemaVersion: this agent understands version ${SCHEMA_VERSION}, got ${JSON.stringify(record.schemaVersion) ?? 'nothing'}` };
  }
  let parsed;
  try {
    parsed = CheckJob.safeParse(data);
  } catch (error) {
    // A refinement that throws on odd input is a contract bug; the job is still unusable, not fatal.
    return { ok: false, code: 'INVALID_JOB', message: `payload could not be validated: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!parsed.success) return { ok: false, code: 'INVALID_JOB', message: describeZodError(parsed.error).join('; ') };
  const job = parsed.data;
  if (job.region !== region) {
    return { ok: false, code: 'INVALID_JOB_SIGNATURE', message: `region: job is for region ${JSON.stringify(job.region)} but this agent serves ${JSON.stringify(region)}` };
  }
  const signed = verifier.verifyRun({
    region, checkId: job.check.id, checkVersion: job.checkVersion, trigger: job.trigger,
    scheduledAt: job.scheduledAt, expiresAt: job.expiresAt, definitionDigest: job.definitionDigest,
  }, job.signature);
  if (!signed) return { ok: false, code: 'INVALID_JOB_SIGNATURE', message: 'the job is not signed by a coordinator of this installation (or was altered)' };
  if (definitionDigest(job.check) !== job.definitionDigest) {
    return { ok: false, code: 'INVALID_JOB_SIGNATURE', message: 'the job\'s definition is not the one its signature covers (altered)' };
  }
  return { ok: true, job };
}

function describeKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
