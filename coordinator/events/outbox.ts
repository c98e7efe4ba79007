/**
 * The outbox: alert events are pushed (LPUSH) onto `${prefix}:outbox` inside the same transaction that
 * commits the state change that caused them, so a crash cannot lose one and a lost race cannot emit
 * one. {@link drainOutbox} then hands them, oldest first, to delivery: read the oldest (LINDEX -1),
 * deliver, then remove exactly that entry (LREM). A crash between delivering and removing delivers
 * again later; delivery is idempotent by `event.id`, so at-least-once moving is fine, and so is several
 * coordinators draining at once.
 */
import type { Redis } from 'ioredis';
import type { AlertEvent } from './events.ts';
import { outboxKey } from '../../checks/keys.ts';
import type { Logger } from '../../lib/log.ts';

export type Deliver = (event: AlertEvent) => Promise<void>;

export interface DrainOptions {
  /** Most events moved by one call, so one drain cannot run forever. @defaultValue 1000 */
  max?: number;
  logger?: Logger;
}

/**
 * Moves events from the outbox to `deliver`, one at a time, oldest first, until the outbox is empty,
 * `max` events were moved, or `deliver` throws (the event then stays for the next drain and the error
 * propagates). Entries that are not JSON are logged and dropped. Returns the number delivered.
 */
export async function drainOutbox(redis: Redis, prefix: string, deliver: Deliver, options: DrainOptions = {}): Promise<number> {
  const key = outboxKey(prefix);
  const max = options.max ?? 1_000;
  let delivered = 0;
  while (delivered < max) {
    const raw = await redis.lindex(key, -1);
    if (raw === null) break;
    let event: AlertEvent | null = null;
    try { event = JSON.parse(raw) as AlertEvent; } catch { /* handled below */ }
    if (event === null || typeof event !== 'object' || typeof event.id !== 'string') {
      options.logger?.error('outbox.invalid_entry', { entry: raw.slice(0, 500) });
    } else {
      await deliver(event);
      delivered++;
    }
    // Removes this exact entry, nearest the tail; 0 when another coordinator moved it meanwhile.
    await redis.lrem(key, -1, raw);
  }
  return delivered;
}

/** Events waiting in the outbox. */
export async function outboxLength(redis: Redis, prefix: string): Promise<number> {
  return redis.llen(outboxKey(prefix));
}

/**
 * Drains the outbox whenever {@link kick} is called (after a commit, and on every sweep), one drain at
 * a time: kicks during a drain make it run once more, they do not pile up.
 */
export class OutboxPump {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #deliver: Deliver;
  readonly #logger: Logger;
  readonly #onMoved: (count: number) => void;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;

  constructor(options: { redis: Redis; prefix: string; deliver: Deliver; logger: Logger; onMoved?: (count: number) => void }) {
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#deliver = options.deliver;
    this.#logger = options.logger;
    this.#onMoved = options.onMoved ?? (() => {});
  }

  kick(): void {
    if (this.#stopped) return;
    if (this.#running) { this.#again = true; return; }
    this.#running = this.#loop().finally(() => { this.#running = null; });
  }

  /** Waits for the current drain, then stops draining. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      try {
        const moved = await drainOutbox(this.#redis, this.#prefix, this.#deliver, { logger: this.#logger });
        if (moved > 0) this.#onMoved(moved);
      } catch (error) {
        // The event stays in the outbox; the next kick (at the latest the next sweep) retries it.
        this.#logger.warn('outbox.deliver_failed', { error });
        return;
      }
    } while (this.#again && !this.#stopped);
  }
}
