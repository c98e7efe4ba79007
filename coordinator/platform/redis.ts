/**
 * Redis connections and the start-up checks on the server they point at.
 */
import { Redis } from 'ioredis';
import { CoordinatorError } from './errors.ts';
import type { Logger } from './log.ts';

export interface ConnectOptions {
  /** Shown in `CLIENT LIST`, to tell coordinator connections apart. */
  name: string;
  logger: Logger;
  /**
   * BullMQ workers block on Redis and need `maxRetriesPerRequest: null`; other connections should fail
   * a command after a few retries rather than hang an API request forever.
   */
  blocking?: boolean;
}

/** Opens an ioredis connection with an `error` listener (an unhandled one would crash the process). */
export function connectRedis(url: string, options: ConnectOptions): Redis {
  const redis = new Redis(url, {
    connectionName: options.name,
    maxRetriesPerRequest: options.blocking ? null : 3,
    // After a Sentinel failover the old primary answers READONLY: reconnect to find the new one.
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
    retryStrategy: (times) => Math.min(200 * times, 2_000),
  });
  let lastLogged = '';
  redis.on('error', (error: Error) => {
    // A down Redis fires this on every retry; log each distinct problem once per streak.
    if (error.message !== lastLogged) options.logger.warn('redis.error', { connection: options.name, error });
    lastLogged = error.message;
  });
  redis.on('ready', () => { lastLogged = ''; });
  return redis;
}

/** Resolves once Redis answers PING; throws `REDIS_UNREACHABLE` after `timeoutMs`. */
export async function waitForRedis(redis: Redis, url: string, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new CoordinatorError('REDIS_UNREACHABLE',
          `Redis at ${redactUrl(url)} did not answer within ${timeoutMs} ms; is it running and reachable?`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Refuses to run on a Redis that may evict keys: BullMQ loses jobs and Lookout loses verdicts and alert
 * events silently when it does. Throws `REDIS_EVICTION_POLICY` when the policy is not `noeviction`, and
 * `REDIS_POLICY_UNREADABLE` when `CONFIG GET` is refused, unless `skipCheck` is set.
 */
export async function assertNoEviction(redis: Redis, options: { skipCheck: boolean; logger: Logger }): Promise<void> {
  let policy: string | undefined;
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as unknown;
    if (Array.isArray(reply) && typeof reply[1] === 'string') policy = reply[1];
  } catch (error) {
    if (options.skipCheck) {
      options.logger.warn('redis.policy_check_skipped', { error });
      return;
    }
    throw new CoordinatorError('REDIS_POLICY_UNREADABLE',
      `cannot read the Redis maxmemory-policy (CONFIG GET failed: ${(error as Error).message}). Lookout needs ` +
      'maxmemory-policy noeviction; if CONFIG is disabled on this server and you have made sure the policy is ' +
      'noeviction, start with --skip-redis-policy-check.', { cause: error });
  }
  if (policy === undefined) {
    if (options.skipCheck) return;
    throw new CoordinatorError('REDIS_POLICY_UNREADABLE', 'CONFIG GET maxmemory-policy returned nothing; start with --skip-redis-policy-check if the policy is noeviction.');
  }
  if (policy !== 'noeviction') {
    throw new CoordinatorError('REDIS_EVICTION_POLICY',
      `Redis maxmemory-policy is "${policy}", but Lookout requires "noeviction": with any other policy Redis may ` +
      'silently drop queued jobs, verdicts and alert events under memory pressure. Fix: CONFIG SET maxmemory-policy ' +
      'noeviction (and persist it in redis.conf).');
  }
}

/** A Redis URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<invalid url>';
  }
}
