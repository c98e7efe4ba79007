/**
 * Answers canary jobs (see `CanaryJob` in the contract): validate the payload, then write a
 * {@link CanaryAnswer} to `canaryAnswerKey(prefix, region)` with an expiry of `CANARY_STALL_FACTOR ×
 * intervalMs`. No network, no runner: the answer only proves that this region's queue is consumed, which
 * a heartbeat cannot (a worker can stop fetching while its process keeps heartbeating).
 */
import { describeZodError } from '../../lib/zod-problems.ts';
import type { Redis } from 'ioredis';
import { CANARY_STALL_FACTOR, CanaryAnswer, CanaryJob, SCHEMA_VERSION } from '../../checks/contract.ts';
import { canaryAnswerKey } from '../../checks/keys.ts';
import type { JobVerifier } from '../../checks/signing.ts';
import { withTimeout } from '../../lib/bounded.ts';
import { CodedError } from '../../lib/errors.ts';

/** What a completed canary job returns (stored by BullMQ as the job's return value). */
export interface CanaryOutcome {
  canary: 'answered';
  slot: number;
}

/** Why a canary could not be answered: the payload is unusable, not signed by a coordinator, or Redis did not take the answer. */
export type CanaryErrorCode = 'INVALID_JOB' | 'INVALID_JOB_SIGNATURE' | 'CANARY_WRITE_FAILED';

/**
 * A canary the agent cannot answer. The message starts with the code, because BullMQ keeps only the
 * message as the job's `failedReason`, where operators read it.
 */
export class CanaryError extends CodedError<CanaryErrorCode> {
  constructor(code: CanaryErrorCode, message: string) {
    super(code, `${code}: ${message}`);
  }
}

export interface CanaryResponderOptions {
  redis: Redis;
  prefix: string;
  region: string;
  agentId: string;
  /** Checks that a coordinator signed the canary. */
  verifier: JobVerifier;
  /** Bound on the answer's write, so a canary never holds a worker slot through an outage. @defaultValue 1500 */
  writeTimeoutMs?: number;
  now?: () => number;
}

export interface CanaryResponder {
  /**
   * Validates `data` as a canary for this agent's region, signed by a coordinator, and records the
   * answer. Rejects with a {@link CanaryError}: `INVALID_JOB` or `INVALID_JOB_SIGNATURE` (the caller must
   * not retry) or `CANARY_WRITE_FAILED`.
   */
  answer(data: unknown): Promise<CanaryOutcome>;
}

export function createCanaryResponder(options: CanaryResponderOptions): CanaryResponder {
  const { redis, prefix, region, agentId } = options;
  const now = options.now ?? Date.now;
  const writeTimeoutMs = options.writeTimeoutMs ?? 1_500;
  const key = canaryAnswerKey(prefix, region);
  return {
    async answer(data) {
      const parsed = CanaryJob.safeParse(data);
      if (!parsed.success) throw new CanaryError('INVALID_JOB', `invalid canary: ${describeZodError(parsed.error).join('; ')}`);
      const canary = parsed.data;
      if (canary.region !== region) {
        throw new CanaryError('INVALID_JOB', `region: canary is for region ${JSON.stringify(canary.region)} but this agent serves ${JSON.stringify(region)}`);
      }
      if (!options.verifier.verifyCanary({ region, slot: canary.slot, intervalMs: canary.intervalMs }, canary.signature)) {
        throw new CanaryError('INVALID_JOB_SIGNATURE', 'the canary is not signed by a coordinator of this installation');
      }
      const answer = CanaryAnswer.parse({ schemaVersion: SCHEMA_VERSION, region, agentId, slot: canary.slot, at: now() });
      try {
        await withTimeout(redis.set(key, JSON.stringify(answer), 'PX', CANARY_STALL_FACTOR * canary.intervalMs), writeTimeoutMs, 'canary answer');
      } catch (error) {
        throw new CanaryError('CANARY_WRITE_FAILED', error instanceof Error ? error.message : String(error));
      }
      return { canary: 'answered', slot: canary.slot };
    },
  };
}
