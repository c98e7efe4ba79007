/**
 * How long to wait before the next attempt of a delivery. Pure; the delivery worker plugs it into
 * BullMQ as a custom backoff strategy so that a receiver's `Retry-After` can be honoured.
 */

export interface RetryPolicy {
  /**
   * Delay before the second attempt; it doubles on every further attempt.
   * @defaultValue 1000
   */
  baseDelayMs: number;
  /**
   * Ceiling of the exponential delay.
   * @defaultValue 600000 (10 minutes)
   */
  maxDelayMs: number;
  /**
   * Ceiling on what a receiver may ask for with `Retry-After`; longer requests are shortened to this,
   * so a misconfigured receiver cannot park an alert for a day.
   * @defaultValue 300000 (5 minutes)
   */
  maxRetryAfterMs: number;
  /**
   * Fraction of the exponential delay that is randomised (delays shrink by up to this much), so that
   * deliveries that failed together do not retry in lockstep.
   * @defaultValue 0.2
   */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  baseDelayMs: 1_000,
  maxDelayMs: 600_000,
  maxRetryAfterMs: 300_000,
  jitter: 0.2,
};

/**
 * Delay before the next attempt, after `attemptsMade` failed ones (1 for the first failure).
 * The receiver's `Retry-After` (capped) wins when it asks for more than the exponential delay.
 */
export function retryDelayMs(attemptsMade: number, policy: RetryPolicy, retryAfterMs?: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, attemptsMade - 1);
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  const jittered = Math.round(exponential * (1 - policy.jitter * random()));
  if (retryAfterMs === undefined) return jittered;
  return Math.max(jittered, Math.min(retryAfterMs, policy.maxRetryAfterMs));
}
