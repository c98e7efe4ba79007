/**
 * The seam between the agent's worker and the check types. A runner executes one run of one check and
 * reports what it saw. It never throws for anything the target does: every target failure becomes
 * `outcome: 'fail'` with a stable code. It may throw for its own bugs; the worker turns that into
 * `outcome: 'error'` (`AGENT_INTERNAL`), which never counts against the target.
 */
import type { CheckDefinition, CheckType, RunResult } from '../../checks/contract.ts';

/** What a runner gets besides the definition. */
export interface RunContext {
  /** Region this agent probes from; sent to targets as `x-lookout-region`. */
  region: string;
  agentId: string;
  /**
   * Aborted at the run's deadline (check timeout) or when the agent shuts down. `signal.reason` is an
   * Error whose `code` says which: `'TIMEOUT'` (deadline: report the target's `TIMEOUT`) or
   * `'RUN_CANCELLED'` (shutdown: the worker reports `RUN_CANCELLED` whatever the runner returns, unless
   * it passed). A runner that ignores the signal is abandoned shortly after and reported `AGENT_INTERNAL`.
   */
  signal: AbortSignal;
  /** Epoch ms at which the run must be over; `signal` fires then too. */
  deadlineAt: number;
}

/**
 * The part of a result a runner decides; the worker adds ids, region, agent and schedule.
 * `browser` (optional) is set by browser runs only.
 */
export type RunReport = Pick<RunResult,
  'startedAt' | 'endedAt' | 'outcome' | 'error' | 'timings' | 'assertions' | 'statusCode' | 'responseBytes' | 'browser'>;

export type Runner<D extends CheckDefinition> = (definition: D, context: RunContext) => Promise<RunReport>;

/** One runner per check type: adding a type to the contract without a runner fails to compile. */
export type RunnerTable = { [T in CheckType]: Runner<Extract<CheckDefinition, { type: T }>> };
