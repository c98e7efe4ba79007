/**
 * One overall deadline per run, and telling a deadline from a cancellation.
 *
 * The worker's `context.signal` fires at the run's deadline and when the agent shuts down. The worker
 * aborts a shutdown with a `reason` whose `code` is `'RUN_CANCELLED'` (see `runCancelled()` in
 * `agent/runs/execute.ts`); any other reason (its `TIMEOUT` error, a `TimeoutError`, none) counts as the
 * deadline. As a belt, the runner also arms its own timer on `min(timeoutMs, deadlineAt - now)`, so a
 * run never outlives its deadline even if the signal it was given never fires.
 */

export type AbortCause = 'deadline' | 'cancelled';

export interface RunGuard {
  /** Fires at the deadline or on cancellation; give it to everything the run waits on. */
  readonly signal: AbortSignal;
  /** Why `signal` fired; null while it has not. */
  readonly cause: AbortCause | null;
  /** The outside signal's reason, for a cancellation message. */
  readonly reason: unknown;
  /** Stops the timer and listeners; call when the run is over. */
  dispose(): void;
}

/** Whether an abort reason means "the agent cancelled this run" rather than "the deadline passed". */
export function isRunCancelled(reason: unknown): boolean {
  return typeof reason === 'object' && reason !== null && (reason as { code?: unknown }).code === 'RUN_CANCELLED';
}

export function guardRun(outside: AbortSignal, budgetMs: number): RunGuard {
  const controller = new AbortController();
  let cause: AbortCause | null = null;
  let reason: unknown;
  const fire = (why: AbortCause, abortReason: unknown): void => {
    if (cause !== null) return;
    cause = why;
    reason = abortReason;
    controller.abort(abortReason);
  };
  const timer = setTimeout(
    () => fire('deadline', Object.assign(new Error(`run deadline of ${budgetMs} ms passed`), { code: 'TIMEOUT' })),
    Math.max(0, budgetMs),
  );
  const onOutsideAbort = (): void => fire(isRunCancelled(outside.reason) ? 'cancelled' : 'deadline', outside.reason);
  if (outside.aborted) onOutsideAbort();
  else outside.addEventListener('abort', onOutsideAbort, { once: true });
  return {
    signal: controller.signal,
    get cause() { return cause; },
    get reason() { return reason; },
    dispose() {
      clearTimeout(timer);
      outside.removeEventListener('abort', onOutsideAbort);
    },
  };
}
