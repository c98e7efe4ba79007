import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `probe` until it returns something truthy, and returns that; fails naming `what` after
 * `timeoutMs` (with the probe's last error, if it threw). For conditions outside the test's control (a
 * process, a queue, a server), where no event can be awaited directly. The one polling helper of the
 * test suite: every test waits through it.
 */
export async function waitUntil<T>(what: string, probe: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 25): Promise<NonNullable<Exclude<T, false | 0 | ''>>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<Exclude<T, false | 0 | ''>>;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await delay(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
}
