/**
 * Payloads the benchmark puts on Lookout's queues, built as the coordinator and the agent build them and
 * validated against the wire contracts (so that a benchmark never measures the rejection path by mistake).
 */
import { definitionDigest } from '../../checks/signing.ts';
import { benchSigner } from './signing.ts';
import { CheckJob, HttpCheckDefinition, RunResult, SCHEMA_VERSION, type RunTrigger } from '../../checks/contract.ts';

/** The BullMQ job id an agent gives a result. */
export { resultJobId } from '../../agent/results/result-id.ts';

/** An HTTP check definition with the contract's defaults applied. */
export function httpCheck(fields: { id: string; url: string; regions: string[]; frequencyMs?: number; timeoutMs?: number } & Record<string, unknown>): HttpCheckDefinition {
  return HttpCheckDefinition.parse({
    type: 'http', name: fields.id, frequencyMs: 60_000, timeoutMs: 5_000, ...fields,
  });
}

/**
 * A job for one region's queue, signed as a coordinator signs it; `scheduledAt` makes the result's id
 * unique. Its slot expires an hour on: a benchmark queues many at once and measures throughput, not lateness.
 */
export function checkJob(region: string, check: HttpCheckDefinition, scheduledAt: number, trigger: RunTrigger = 'manual'): CheckJob {
  const expiresAt = scheduledAt + 3_600_000;
  const digest = definitionDigest(check);
  const signature = benchSigner.signRun({ region, checkId: check.id, checkVersion: 1, trigger, scheduledAt, expiresAt, definitionDigest: digest });
  return CheckJob.parse({ schemaVersion: SCHEMA_VERSION, region, checkVersion: 1, check, trigger, scheduledAt, expiresAt, definitionDigest: digest, signature });
}

/** A result as an agent publishes it for a passing (or, with `fail`, failing) HTTP run. */
export function runResult(input: { checkId: string; region: string; scheduledAt: number; checkVersion?: number; fail?: boolean; agentId?: string }): RunResult {
  const startedAt = input.scheduledAt + 3;
  const status = input.fail ? 503 : 200;
  return RunResult.parse({
    schemaVersion: SCHEMA_VERSION,
    checkId: input.checkId,
    checkVersion: input.checkVersion ?? 1,
    region: input.region,
    agentId: input.agentId ?? `bench-${input.region}`,
    trigger: 'schedule',
    scheduledAt: input.scheduledAt,
    startedAt,
    endedAt: startedAt + 2,
    outcome: input.fail ? 'fail' : 'pass',
    error: input.fail ? { code: 'ASSERTION_FAILED', message: 'expected status 200, got 503' } : null,
    timings: { dnsMs: null, connectMs: 0.21, tlsMs: null, firstByteMs: 0.9, downloadMs: 0.05, totalMs: 1.4 },
    assertions: [{ assertion: { type: 'status', op: 'equals', value: 200 }, passed: !input.fail, expected: 'status 200', actual: `status ${status}` }],
    statusCode: status,
    responseBytes: 16,
    slot: slotProof(input.region, input.checkId, input.checkVersion ?? 1, input.scheduledAt),
  });
}

/** The proof of a slot as if a coordinator had issued it (signed with the benchmarks' key). */
export function slotProof(region: string, checkId: string, checkVersion: number, scheduledAt: number, trigger = 'schedule') {
  const expiresAt = scheduledAt + 30_000;
  const definitionDigest = '0'.repeat(64);
  return { expiresAt, definitionDigest, signature: benchSigner.signRun({ region, checkId, checkVersion, trigger, scheduledAt, expiresAt, definitionDigest }) };
}

/** The agent's publish options for result jobs (agent/results/publisher.ts), so the pushed jobs look the same. */
export const RESULT_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 3_600, count: 10_000 },
  removeOnFail: { age: 7 * 86_400, count: 10_000 },
} as const;
