/**
 * Executes one run: calls the check type's runner with an `AbortSignal` that fires at the run's
 * deadline (`startedAt + timeoutMs`) and when the agent shuts down, and guarantees an answer even if
 * the runner misbehaves:
 * - a runner that throws → `error` / `AGENT_INTERNAL` (its bug, never the target's fault);
 * - a runner that ignores its signal is abandoned `graceMs` after the signal fired, so a worker slot
 *   is never held past deadline + grace → `error` / `AGENT_INTERNAL`;
 * - a run cut by shutdown → `error` / `RUN_CANCELLED`, unless it had already passed.
 */
import type { AgentErrorCode, CheckDefinition } from '../../checks/contract.ts';
import type { RunReport, Runner } from '../runners/types.ts';

/** Codes carried by `signal.reason` so that runners can tell a deadline from a shutdown. */
export type RunAbortCode = 'TIMEOUT' | 'RUN_CANCELLED';

/** The `reason` of a run's aborted signal. */
export class RunAbortError extends Error {
  readonly code: RunAbortCode;
  constructor(code: RunAbortCode, message: string) {
    super(message);
    this.name = code === 'TIMEOUT' ? 'TimeoutError' : 'AbortError';
    this.code = code;
  }
}

/** Abort reason used when the agent shuts down. */
export const runCancelled = (): RunAbortError => new RunAbortError('RUN_CANCELLED', 'run cancelled: the agent is shutting down');

const MAX_MESSAGE = 2000;

export interface ExecuteRunOptions<D extends CheckDefinition> {
  runner: Runner<D>;
  definition: D;
  region: string;
  agentId: string;
  /** Epoch ms the run started; the deadline is `startedAt + definition.timeoutMs`. */
  startedAt: number;
  /** Owned by the caller so that it can cancel the run (with {@link runCancelled}) on shutdown. */
  controller: AbortController;
  /** How long a runner may keep going after its signal fired before it is abandoned. */
  graceMs: number;
}

export interface ExecutedRun {
  report: RunReport;
  /** The runner was still running when abandoned (it ignored its signal). */
  abandoned: boolean;
}

/** Runs `runner` under a deadline; never throws, never outlives deadline + grace. */
export async function executeRun<D extends CheckDefinition>(options: ExecuteRunOptions<D>): Promise<ExecutedRun> {
  const { runner, definition, startedAt, controller, graceMs } = options;
  const { signal } = controller;
  const deadlineAt = startedAt + definition.timeoutMs;
  const deadlineTimer = setTimeout(
    () => controller.abort(new RunAbortError('TIMEOUT', `run deadline of ${definition.timeoutMs}ms passed`)),
    Math.max(0, deadlineAt - Date.now()),
  );
  let graceTimer: NodeJS.Timeout | undefined;
  let armGrace: () => void = () => {};
  const abandon = new Promise<{ kind: 'abandoned' }>((resolve) => {
    armGrace = () => { graceTimer = setTimeout(() => resolve({ kind: 'abandoned' }), graceMs); };
  });
  if (signal.aborted) armGrace();
  else signal.addEventListener('abort', armGrace, { once: true });

  try {
    const settled = await Promise.race([
      Promise.resolve()
        .then(() => runner(definition, { region: options.region, agentId: options.agentId, signal, deadlineAt }))
        .then((report) => ({ kind: 'report' as const, report }), (error: unknown) => ({ kind: 'threw' as const, error })),
      abandon,
    ]);
    const cancelled = signal.aborted && (signal.reason as { code?: unknown } | undefined)?.code === 'RUN_CANCELLED';
    const fail = (code: AgentErrorCode, message: string): RunReport => agentErrorReport(startedAt, Date.now(), code, message);
    switch (settled.kind) {
      case 'report':
        if (cancelled && settled.report.outcome !== 'pass') {
          return { report: fail('RUN_CANCELLED', 'run cancelled: the agent shut down before the run finished'), abandoned: false };
        }
        return { report: settled.report, abandoned: false };
      case 'threw':
        if (cancelled) return { report: fail('RUN_CANCELLED', 'run cancelled: the agent shut down before the run finished'), abandoned: false };
        return { report: fail('AGENT_INTERNAL', `runner failed: ${errorText(settled.error)}`), abandoned: false };
      case 'abandoned':
        if (cancelled) {
          return { report: fail('RUN_CANCELLED', `run cancelled: the agent shut down and the runner did not stop within ${graceMs}ms`), abandoned: true };
        }
        return {
          report: fail('AGENT_INTERNAL', `runner ignored its abort signal: still running ${graceMs}ms after the ${definition.timeoutMs}ms deadline`),
          abandoned: true,
        };
    }
  } finally {
    clearTimeout(deadlineTimer);
    clearTimeout(graceTimer);
    signal.removeEventListener('abort', armGrace);
  }
}

/** A report for a run that says nothing about the target: the agent failed. */
export function agentErrorReport(startedAt: number, endedAt: number, code: AgentErrorCode, message: string): RunReport {
  return {
    startedAt,
    endedAt: Math.max(startedAt, endedAt),
    outcome: 'error',
    error: { code, message: truncate(message) },
    timings: null,
    assertions: [],
    statusCode: null,
    responseBytes: null,
  };
}

export function truncate(message: string, max = MAX_MESSAGE): string {
  return message.length <= max ? message : `${message.slice(0, max - 1)}…`;
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
