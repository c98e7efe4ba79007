/** Small helpers to put a bound on promises that would otherwise wait forever (Redis offline queues, closes). */

/** Error thrown by {@link withTimeout}; `code` is stable for callers and logs. */
export class OperationTimeoutError extends Error {
  readonly code = 'OPERATION_TIMEOUT';
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${ms}ms`);
    this.name = 'OperationTimeoutError';
  }
}

/** Resolves like `promise`, or rejects with {@link OperationTimeoutError} after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new OperationTimeoutError(what, ms)), ms); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `promise` settled (either way) within `ms`; never rejects. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise.then(() => true, () => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
