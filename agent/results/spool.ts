import type { RunResult } from '../../checks/contract.ts';
/**
 * A bounded in-memory FIFO for results that could not be published (Redis away). When full, the
 * oldest entry is dropped: during a long outage the newest results say the most about the target,
 * and an agent must never grow without bound. Drops are counted so `/metrics` can show them.
 */
export class Spool<T> {
  readonly capacity: number;
  #items: T[] = [];
  #head = 0;
  #dropped = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`spool capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number { return this.#items.length - this.#head; }
  /** Entries dropped because the spool was full, since creation. */
  get dropped(): number { return this.#dropped; }

  /** Adds an entry; returns how many old entries were dropped to make room (0 or 1). */
  push(item: T): number {
    let dropped = 0;
    if (this.size >= this.capacity) {
      this.#head++;
      this.#dropped++;
      dropped = 1;
    }
    this.#items.push(item);
    this.#compact();
    return dropped;
  }

  /** Removes and returns the oldest `count` entries. */
  take(count: number): T[] {
    const taken = this.#items.slice(this.#head, this.#head + count);
    this.#head += taken.length;
    this.#compact();
    return taken;
  }

  /**
   * Puts entries taken with {@link take} back in front (their publish failed), keeping their order.
   * Entries pushed meanwhile stay behind them; if that overflows, the oldest go and are counted.
   * Returns how many were dropped.
   */
  restore(items: T[]): number {
    const all = [...items, ...this.#items.slice(this.#head)];
    const overflow = Math.max(0, all.length - this.capacity);
    this.#items = all.slice(overflow);
    this.#head = 0;
    this.#dropped += overflow;
    return overflow;
  }

  // Dropping from the front by index keeps push O(1); the array is rebuilt once the dead prefix is big.
  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** Why spooled results were dropped: a bound (`capacity` in memory; `bytes`, `age` on disk), a line that is not a result, or a disk that took no more. */
export type DropReason = 'capacity' | 'bytes' | 'age' | 'unreadable' | 'unwritable';

/** The oldest spooled results, handed out together and removed only once published ({@link ResultSpool.remove}). */
export interface SpoolBatch {
  results: RunResult[];
  /** Which batch this is, for {@link ResultSpool.remove}. */
  id: string;
}

/**
 * Where the publisher keeps results Redis would not take: in memory ({@link memoryResultSpool}) or on
 * disk (disk-spool.ts). Oldest first; a batch stays spooled until it is removed after publishing.
 */
export interface ResultSpool {
  readonly kind: 'memory' | 'disk';
  /** Results waiting. */
  readonly size: number;
  /** Bytes they take (0 in memory, where the bound is a count). */
  readonly bytes: number;
  /** Keeps results (on disk: durably, once this resolves), dropping the oldest past a bound. */
  add(results: RunResult[]): Promise<void>;
  /** The oldest batch, or null when empty. */
  oldest(): Promise<SpoolBatch | null>;
  /** Forgets a batch handed out by {@link oldest} (it was published). */
  remove(batch: SpoolBatch): Promise<void>;
  close(): Promise<void>;
}

/** Results per batch handed out from memory. */
const MEMORY_BATCH = 100;

/** A spool in memory, bounded by a count: lost when the agent stops. */
export function memoryResultSpool(capacity: number, onDrop: (count: number, reason: DropReason) => void): ResultSpool {
  const spool = new Spool<RunResult>(capacity);
  let pending: SpoolBatch | null = null;
  let seq = 0;
  return {
    kind: 'memory',
    get size() { return spool.size + (pending?.results.length ?? 0); },
    bytes: 0,
    async add(results) {
      for (const result of results) {
        // The batch out for publishing counts toward the capacity too: full, its oldest go first.
        if (pending && spool.size + pending.results.length >= capacity && pending.results.length > 0) {
          pending.results.shift();
          onDrop(1, 'capacity');
        }
        const dropped = spool.push(result);
        if (dropped > 0) onDrop(dropped, 'capacity');
      }
    },
    async oldest() {
      if (!pending) {
        const results = spool.take(MEMORY_BATCH);
        pending = results.length > 0 ? { results, id: String(++seq) } : null;
      }
      return pending;
    },
    async remove(batch) {
      if (pending && batch.id === pending.id) pending = null;
    },
    async close() {},
  };
}
