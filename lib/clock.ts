/**
 * Redis time as the fleet's one clock. Machines' clocks drift and some are wrong by minutes; what an
 * agent or a coordinator decides about time (is this run due, has it expired, when did it start) must not
 * depend on its own clock, or one skewed machine moves the schedule or freezes a region's verdict. Each
 * process measures the offset between its clock and Redis' (`TIME`) now and then, and reads "now" as its
 * own clock plus that offset: no round trip per read, and a clock step between two measurements shows
 * up at the next one.
 */
import type { Redis } from 'ioredis';

export interface Clock {
  /** Epoch ms by Redis' clock (the local clock until the first measurement). */
  now(): number;
}

export interface RedisClockOptions {
  /** How often the offset is measured again. @defaultValue 10000 */
  refreshMs?: number;
  /** The local clock. @defaultValue Date.now */
  local?: () => number;
}

export interface RedisClock extends Clock {
  /** Measures the offset now; resolves false (keeping the last offset) when Redis does not answer. */
  sync(): Promise<boolean>;
  /** The measured offset (Redis − local), ms; 0 before the first measurement. */
  offsetMs(): number;
  /**
   * How far {@link Clock.now} may be from Redis' clock, ms: half the round trip the offset was measured
   * over, plus the millisecond `TIME` is truncated to; Infinity before the first measurement.
   */
  uncertaintyMs(): number;
  /** Stops the periodic measurement. */
  stop(): void;
}

/** `TIME` round trips per measurement; the fastest one is kept. */
const SAMPLES_PER_SYNC = 3;

/** A clock that reads Redis time through `redis` (it needs the `TIME` command). */
export function redisClock(redis: Redis, options: RedisClockOptions = {}): RedisClock {
  const local = options.local ?? Date.now;
  let offset = 0;
  let timer: NodeJS.Timeout | null = null;
  let uncertainty = Number.POSITIVE_INFINITY;
  const sample = async (): Promise<{ offset: number; roundTripMs: number }> => {
    const before = local();
    const [seconds, micros] = await redis.time();
    const after = local();
    // The answer was made somewhere in the round trip: its middle is the best guess of when.
    return { offset: Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000) - Math.round((before + after) / 2), roundTripMs: after - before };
  };
  const sync = async (): Promise<boolean> => {
    try {
      // The fastest of a few round trips is the least disturbed (a busy event loop, a slow network).
      let best = await sample();
      for (let i = 1; i < SAMPLES_PER_SYNC; i++) {
        const next = await sample();
        if (next.roundTripMs < best.roundTripMs) best = next;
      }
      offset = best.offset;
      uncertainty = Math.ceil(best.roundTripMs / 2) + 1;
      return true;
    } catch {
      return false;
    }
  };
  timer = setInterval(() => { void sync(); }, options.refreshMs ?? 10_000);
  timer.unref();
  return {
    now: () => local() + offset,
    sync,
    offsetMs: () => offset,
    uncertaintyMs: () => uncertainty,
    stop: () => { if (timer) clearInterval(timer); timer = null; },
  };
}

/** The local clock as a {@link Clock} (tests, and processes without Redis). */
export const localClock: Clock = { now: () => Date.now() };
