/** A binary min-heap: the scheduler's pairs ordered by their next slot, so a tick looks only at what is due. */
export class MinHeap<T> {
  readonly #items: T[] = [];
  readonly #before: (a: T, b: T) => number;

  constructor(compare: (a: T, b: T) => number) {
    this.#before = compare;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#before(items[i]!, items[parent]!) >= 0) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      this.#sink(0);
    }
    return top;
  }

  /** Drops every item `drop` says so, in one pass. */
  removeWhere(drop: (item: T) => boolean): void {
    const kept = this.#items.filter((item) => !drop(item));
    this.#items.length = 0;
    for (const item of kept) this.push(item);
  }

  #sink(start: number): void {
    const items = this.#items;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && this.#before(items[left]!, items[smallest]!) < 0) smallest = left;
      if (right < items.length && this.#before(items[right]!, items[smallest]!) < 0) smallest = right;
      if (smallest === i) return;
      [items[i], items[smallest]] = [items[smallest]!, items[i]!];
      i = smallest;
    }
  }
}
