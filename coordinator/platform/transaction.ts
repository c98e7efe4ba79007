/**
 * Optimistic Redis transactions (WATCH, read, decide in pure code, MULTI/EXEC, retry on conflict), so
 * that several coordinators can change the same state concurrently and exactly one of them commits each
 * transition (and emits its events).
 *
 * WATCH belongs to a connection, so each transaction leases a connection of its own from a small pool.
 * Those connections never queue commands while disconnected and never resend them after a reconnect:
 * an EXEC sent on a new connection would run without the WATCH and commit a stale decision.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { CodedError } from '../../lib/errors.ts';

/** Why a transaction did not commit: too many conflicts, the coordinator stopping, or no Redis connection. */
export type TransactionErrorCode = 'TX_CONFLICT' | 'COORDINATOR_STOPPED' | 'REDIS_UNAVAILABLE';
export class TransactionError extends CodedError<TransactionErrorCode> {}

/** What a transaction body decided: a result, and the writes to commit (none: commit nothing). */
export interface TransactionPlan<T> {
  result: T;
  write?: (multi: ChainableCommander) => void;
}

export interface TransactionRunnerOptions {
  /** Connections in the pool: the number of transactions that can wait on Redis at once. */
  size: number;
  /** Called on every lost race (for metrics). */
  onConflict?: () => void;
  /** Attempts before giving up with `TX_CONFLICT`. @defaultValue 100 */
  maxAttempts?: number;
}

export class TransactionRunner {
  readonly #base: Redis;
  readonly #options: TransactionRunnerOptions;
  readonly #idle: Redis[] = [];
  readonly #all: Redis[] = [];
  readonly #waiters: Array<(conn: Redis) => void> = [];
  /** Bumped on every `close` of a connection: a changed value means the WATCH may be gone. */
  readonly #generation = new Map<Redis, number>();
  #closed = false;

  constructor(base: Redis, options: TransactionRunnerOptions) {
    this.#base = base;
    this.#options = options;
  }

  /**
   * Runs `body` under WATCH of `keys` and commits what it returns; retries the whole body when another
   * client changed a watched key in between. The body must read through the connection it is given.
   */
  async run<T>(keys: readonly string[], body: (conn: Redis) => Promise<TransactionPlan<T>>): Promise<T> {
    const maxAttempts = this.#options.maxAttempts ?? 100;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const conn = await this.#lease();
      let watching = false;
      try {
        const generation = this.#generation.get(conn);
        // The body's reads are sent right behind the WATCH, without waiting for its reply: the connection
        // is ours alone and Redis answers in order, so they still run after it (one round trip less).
        const watched = conn.watch(...keys);
        watching = true;
        // Both settle before going on, so that the connection is never released with the body still using it.
        const [watch, ran] = await Promise.allSettled([watched, body(conn)]);
        if (watch.status === 'rejected') throw watch.reason;
        if (ran.status === 'rejected') throw ran.reason;
        const plan = ran.value;
        if (!plan.write) {
          await conn.unwatch();
          watching = false;
          return plan.result;
        }
        // Checked in the same tick as the EXEC is written: the connection has not been replaced since WATCH.
        if (this.#generation.get(conn) === generation && conn.status === 'ready') {
          const multi = conn.multi();
          plan.write(multi);
          const replies = await multi.exec();
          watching = false;
          if (replies !== null) {
            for (const [error] of replies) if (error) throw error;
            return plan.result;
          }
        }
      } catch (error) {
        if (watching) await conn.unwatch().catch(() => {});
        throw error;
      } finally {
        this.#release(conn);
      }
      this.#options.onConflict?.();
      // Spread retries so that racing coordinators do not collide again in lock step.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(attempt, 10) * 2));
    }
    throw new TransactionError('TX_CONFLICT', `gave up after ${maxAttempts} conflicting attempts on ${keys.join(', ')}`);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#all.map((conn) => conn.quit().catch(() => conn.disconnect())));
  }

  async #lease(): Promise<Redis> {
    if (this.#closed) throw new TransactionError('COORDINATOR_STOPPED', 'the coordinator is stopping');
    let conn = this.#idle.pop();
    if (!conn && this.#all.length < this.#options.size) conn = this.#open();
    if (!conn) conn = await new Promise<Redis>((resolve) => this.#waiters.push(resolve));
    if (conn.status !== 'ready') {
      try {
        await waitReady(conn, 5_000);
      } catch (error) {
        this.#release(conn);
        throw error;
      }
    }
    return conn;
  }

  #release(conn: Redis): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(conn);
    else this.#idle.push(conn);
  }

  #open(): Redis {
    const conn = this.#base.duplicate({
      connectionName: `${this.#base.options.connectionName ?? 'lookout'}-tx`,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
    });
    conn.on('error', () => { /* the base connection logs Redis problems */ });
    this.#generation.set(conn, 0);
    conn.on('close', () => this.#generation.set(conn, (this.#generation.get(conn) ?? 0) + 1));
    this.#all.push(conn);
    return conn;
  }
}

function waitReady(conn: Redis, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      conn.off('ready', onReady);
      reject(new TransactionError('REDIS_UNAVAILABLE', `no Redis connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => { clearTimeout(timer); resolve(); };
    conn.once('ready', onReady);
  });
}
