/** A FIFO counting semaphore whose waiters give up when their signal aborts. */
export class Semaphore {
  #free: number;
  readonly #waiters: Array<{ grant: () => void }> = [];

  constructor(permits: number) {
    if (!Number.isInteger(permits) || permits < 1) throw new RangeError(`permits must be a positive integer, got ${permits}`);
    this.#free = permits;
  }

  get waiting(): number { return this.#waiters.length; }
  get available(): number { return this.#free; }

  /** Resolves with a release function once a permit is free; rejects with `signal.reason` on abort. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        const next = this.#waiters.shift();
        if (next) next.grant();
        else this.#free++;
      };
      const onAbort = (): void => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(signal!.reason);
      };
      const waiter = { grant: () => { signal?.removeEventListener('abort', onAbort); resolve(release); } };
      if (this.#free > 0) {
        this.#free--;
        resolve(release);
        return;
      }
      this.#waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
