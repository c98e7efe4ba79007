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
