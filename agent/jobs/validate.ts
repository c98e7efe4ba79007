/**
 * Validation of a dequeued job's payload. Pure: turns `job.data` (untrusted: it crossed Redis) into a
 * {@link CheckJob}, or into a message naming every bad field plus, when enough of the payload is
 * readable, the identity of the check so that an `INVALID_JOB` result can be reported for it.
 */
import { describeZodError } from '../../lib/zod-problems.ts';
import { z } from 'zod';
import { CheckId, CheckJob, RunTrigger, SCHEMA_VERSION } from '../../checks/contract.ts';

/** Enough of a bad job to report an `INVALID_JOB` result against its check. */
export interface InvalidJobIdentity {
  checkId: string;
  checkVersion: number;
  trigger: RunTrigger;
  scheduledAt: number | undefined;
}

export type ParsedCheckJob =
  | { ok: true; job: CheckJob }
  | {
    ok: false;
    /** One line naming every problem, e.g. `check.url: Invalid URL; checkVersion: Too small: ...`. */
    message: string;
    /** `null` when the check cannot be named, or when the job is not this region's to report on. */
    identity: InvalidJobIdentity | null;
  };

const Identity = z.object({
  checkVersion: z.number().int().positive(),
  check: z.object({ id: CheckId }),
  trigger: RunTrigger.catch('schedule'),
  scheduledAt: z.number().int().nonnegative().optional().catch(undefined),
});

/** Validates `data` as a job for `region`'s queue. */
export function parseCheckJob(data: unknown, region: string): ParsedCheckJob {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, message: `job data must be an object, got ${describeKind(data)}`, identity: null };
  }
  const record = data as Record<string, unknown>;
  // A job for another region is a routing bug upstream; its check is not ours to report on.
  if (typeof record.region === 'string' && record.region !== region) {
    return { ok: false, message: `region: job is for region ${JSON.stringify(record.region)} but this agent serves ${JSON.stringify(region)}`, identity: null };
  }
  const identity = readIdentity(record);
  if (record.schemaVersion !== SCHEMA_VERSION) {
    return {
      ok: false,
      message: `schemaVersion: this agent understands version ${SCHEMA_VERSION}, got ${JSON.stringify(record.schemaVersion) ?? 'nothing'}`,
      identity,
    };
  }
  let parsed;
  try {
    parsed = CheckJob.safeParse(data);
  } catch (error) {
    // A refinement that throws on odd input is a contract bug; the job is still unusable, not fatal.
    return { ok: false, message: `payload could not be validated: ${error instanceof Error ? error.message : String(error)}`, identity };
  }
  if (!parsed.success) return { ok: false, message: describeZodError(parsed.error).join('; '), identity };
  return { ok: true, job: parsed.data };
}

function readIdentity(record: Record<string, unknown>): InvalidJobIdentity | null {
  const parsed = Identity.safeParse(record);
  if (!parsed.success) return null;
  const { check, checkVersion, trigger, scheduledAt } = parsed.data;
  return { checkId: check.id, checkVersion, trigger, scheduledAt };
}

function describeKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
