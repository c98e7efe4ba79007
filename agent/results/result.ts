/**
 * Assembles a {@link RunResult} from what the worker knows (ids, region, agent, schedule) and what the
 * runner reported, and validates it against the wire contract before it leaves the process. A result
 * that fails validation is a runner bug: it is replaced by an `AGENT_INTERNAL` result that says why,
 * so the coordinator still hears about the slot and the target is never blamed.
 */
import { describeZodError } from '../../lib/zod-problems.ts';
import { RunResult, SCHEMA_VERSION, type RunTrigger, type SlotProof } from '../../checks/contract.ts';
import type { RunReport } from '../runners/types.ts';
import { agentErrorReport } from '../runs/execute.ts';

/** The part of a result that the worker decides. */
export interface ResultMeta {
  checkId: string;
  checkVersion: number;
  region: string;
  agentId: string;
  trigger: RunTrigger;
  scheduledAt: number;
  /** The signed slot the run answers, copied from its job; null for local runs. */
  slot: SlotProof | null;
}

export function buildRunResult(meta: ResultMeta, report: RunReport): RunResult {
  return {
    schemaVersion: SCHEMA_VERSION,
    checkId: meta.checkId,
    checkVersion: meta.checkVersion,
    region: meta.region,
    agentId: meta.agentId,
    trigger: meta.trigger,
    scheduledAt: meta.scheduledAt,
    startedAt: report.startedAt,
    endedAt: report.endedAt,
    outcome: report.outcome,
    error: report.error,
    timings: report.timings,
    assertions: report.assertions,
    statusCode: report.statusCode,
    responseBytes: report.responseBytes,
    ...(report.browser !== undefined ? { browser: report.browser } : {}),
    slot: meta.slot,
    ...(report.network !== undefined ? { network: report.network } : {}),
    ...(report.evidence !== undefined ? { evidence: report.evidence } : {}),
  };
}

/**
 * Builds and validates a result. Returns `{ result }` ready to publish, with `replaced` set to the
 * validation problems when the runner's report had to be swapped for an `AGENT_INTERNAL` one, or
 * `{ problems }` when even that is invalid (the meta itself is bad; nothing can be published).
 */
export function validResult(meta: ResultMeta, report: RunReport):
  { result: RunResult; replaced?: string[] } | { problems: string[] } {
  const parsed = RunResult.safeParse(buildRunResult(meta, report));
  if (parsed.success) return { result: parsed.data };
  const problems = describeZodError(parsed.error);
  // Network facts and evidence only explain a run: when they are what does not fit, the run's own verdict still counts.
  if (report.network !== undefined || report.evidence !== undefined) {
    const { network: _network, evidence: _evidence, ...plain } = report;
    const without = RunResult.safeParse(buildRunResult(meta, plain));
    if (without.success) return { result: without.data, replaced: problems };
  }
  const fallback = RunResult.safeParse(buildRunResult(meta, agentErrorReport(
    safeMillis(report.startedAt), safeMillis(report.endedAt), 'AGENT_INTERNAL', `runner returned an invalid report: ${problems.join('; ')}`,
  )));
  if (fallback.success) return { result: fallback.data, replaced: problems };
  return { problems: describeZodError(fallback.error) };
}

function safeMillis(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : Date.now();
}
