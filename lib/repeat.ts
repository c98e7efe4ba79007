/**
 * A background loop: `work` now, then again `nextDelayMs()` after each run ends, so two runs never
 * overlap however long one takes, until {@link Repeating.stop}, which waits for a run in flight. A run
 * that throws goes to `onError` and the loop goes on (the sweeper, the unanswered-run watch, the canary
 * sender all keep going through a Redis outage).
 */
export interface Repeating {
  /** Runs no more; resolves once a run in flight has ended. */
  stop(): Promise<void>;
}

export function repeat(work: () => Promise<unknown>, nextDelayMs: () => number, onError: (error: unknown) => void): Repeating {
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let current: Promise<void> | null = null;
  const tick = (): void => {
    if (stopped) return;
    current = work()
      .then(() => undefined, onError)
      .finally(() => {
        current = null;
        if (!stopped) timer = setTimeout(tick, nextDelayMs());
      });
  };
  timer = setTimeout(tick, 0);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
