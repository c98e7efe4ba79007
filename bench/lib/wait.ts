import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `probe` until it returns something other than undefined/null/false and returns that; throws
 * naming `what` after `timeoutMs`. For conditions in other processes, where no event can be awaited.
 */
export async function waitUntil<T>(what: string, probe: () => Promise<T> | T, timeoutMs: number, intervalMs = 50): Promise<NonNullable<Exclude<T, false>>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value as NonNullable<Exclude<T, false>>;
    } catch (error) {
      lastError = error;
    }
    await delay(intervalMs);
  }
  throw new Error(`BENCH_TIMEOUT: timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
}

export { delay };
