/**
 * How a browser run ended, from what its sandbox sent (or did not) and what the agent saw: pure, so that
 * each case is table-tested. What a sandbox sends is the check's own code's to shape, so an outcome only
 * stands with a code of its kind (a target code for `fail`, an agent code for `error`), and a browser that
 * went away during the run makes it the agent's error whatever the sandbox said.
 */
import { AgentErrorCode, TargetErrorCode, type BrowserRunDetails, type ErrorCode, type Outcome } from '../../../checks/contract.ts';
import type { Artifact } from '../../artifacts/sink.ts';
import { withStep } from './errors.ts';
import { harFromTrace } from './har.ts';
import type { FailingRequest } from './network.ts';
import type { RunEnd } from './sandbox/process.ts';
import type { SandboxMessage } from './sandbox/protocol.ts';

/** The agent ended the run by killing its sandbox; `sofar`: what the sandbox said when its script ended. */
export type Killed = { kind: 'killed'; why: 'blocked' | 'deadline' | 'cancelled'; sofar?: Extract<SandboxMessage, { type: 'ended' }> };

export interface RunEnding {
  outcome: Outcome;
  error: { code: ErrorCode; message: string } | null;
  details: Omit<BrowserRunDetails, 'runId' | 'artifacts' | 'artifactNotes'> | null;
  scriptMs: number | undefined;
  /** What the sandbox spent before the script started (bundle, connection). */
  setupMs: number;
  artifacts: Artifact[];
  notes: string[];
  /** The sandbox's context close hung: replace the browser. */
  closeHung: boolean;
  /** The process may serve its check's next run (its run ended cleanly, nothing of it still runs). */
  reusable: boolean;
  /** The failing request the sandbox reported, on a failed run (network.ts). */
  network?: FailingRequest;
}

const base = { details: null, scriptMs: undefined, setupMs: 0, artifacts: [], notes: [], closeHung: false, reusable: false };

export function endOfRun(end: RunEnd | Killed, seen: { crashed: boolean; budgetMs: number }): RunEnding {
  const crash = (detail: string): RunEnding => ({ ...base, outcome: 'error', error: { code: 'BROWSER_CRASHED', message: detail } });
  if (end.kind === 'killed') {
    if (end.why === 'cancelled') return { ...base, outcome: 'error', error: { code: 'RUN_CANCELLED', message: 'run cancelled: the agent is shutting down' } };
    if (seen.crashed) return crash('the browser disconnected during the run');
    if (end.sofar && consistent(end.sofar)) {
      // The script had ended; its teardown (screenshot, trace, closes) did not finish in time.
      const { outcome, error, details, scriptMs, setupMs } = end.sofar;
      return { ...base, outcome, error, details, scriptMs, setupMs, notes: ['no artifacts: the run\'s teardown did not finish by its deadline (its sandbox process was killed)'] };
    }
    const message = end.why === 'blocked'
      ? `script did not finish within ${Math.round(seen.budgetMs)}ms and kept its process from stopping it (a synchronous loop?): its sandbox process was killed`
      : `the run did not end by its deadline: its sandbox process was killed`;
    return { ...base, outcome: 'fail', error: { code: 'TIMEOUT', message }, notes: ['no artifacts: the sandbox process was killed'] };
  }
  if (end.kind === 'exited') {
    if (seen.crashed) return crash('the browser disconnected during the run');
    if (!end.started) return { ...base, outcome: 'error', error: { code: 'AGENT_INTERNAL', message: `the sandbox process ended before the run started (${end.detail})` } };
    return { ...base, outcome: 'fail', error: { code: 'SCRIPT_ERROR', message: `the script's process ended during the run (${end.detail})`.slice(0, 2000) } };
  }
  const result = end.message;
  const artifacts: Artifact[] = result.artifacts.filter((a) => a.name !== 'network.har').map((a) => ({ name: a.name, contentType: a.contentType, data: Buffer.from(a.data) }));
  const trace = artifacts.find((a) => a.name === 'trace.zip');
  const har = trace ? harFromTrace(trace.data) : undefined;
  if (har) artifacts.push({ name: 'network.har', contentType: 'application/json', data: har });
  const common = { details: result.details, scriptMs: result.scriptMs, setupMs: result.setupMs, artifacts, notes: [], closeHung: result.closeHung };
  if (seen.crashed && result.outcome !== 'pass') return { ...crash(withStep('the browser disconnected during the run', result.details?.failedStep ?? null)), details: result.details, scriptMs: result.scriptMs };
  if (!consistent(result)) return { ...base, outcome: 'error', error: { code: 'AGENT_INTERNAL', message: `the sandbox reported "${result.outcome}" with ${result.error ? `code ${result.error.code}` : 'no error'}` } };
  // A run stopped at its timeout may leave the script going in the background: its process is not reused.
  const reusable = result.outcome !== 'error' && result.error?.code !== 'TIMEOUT' && !result.closeHung;
  return { ...common, outcome: result.outcome, error: result.error, reusable, ...(result.outcome === 'fail' && result.network ? { network: result.network } : {}) };
}

/** Whether an outcome stands with its code: none for a pass, a target code for a fail, an agent code for an error. */
function consistent(result: { outcome: Outcome; error: { code: ErrorCode } | null }): boolean {
  return result.outcome === 'pass' ? result.error === null
    : result.outcome === 'fail' ? TargetErrorCode.safeParse(result.error?.code).success
      : AgentErrorCode.safeParse(result.error?.code).success;
}

/**
 * A TIMEOUT after the agent spent a real part of the run's budget before the script started (over a
 * quarter of the timeout, at least 1 s: launching the browser, starting a sandbox, waiting for memory) is
 * the agent's, not the target's: the script did not get its time. It becomes `BROWSER_CAPACITY`.
 */
export function blameLostBudget(ending: Pick<RunEnding, 'outcome' | 'error'>, lostMs: number, timeoutMs: number): Pick<RunEnding, 'outcome' | 'error'> {
  if (ending.outcome !== 'fail' || ending.error?.code !== 'TIMEOUT' || lostMs <= Math.max(1_000, timeoutMs / 4)) return ending;
  return {
    outcome: 'error',
    error: { code: 'BROWSER_CAPACITY', message: `the script timed out after the agent took ${lostMs}ms of the run's ${timeoutMs}ms to start the browser and its sandbox (${ending.error.message})`.slice(0, 2000) },
  };
}
