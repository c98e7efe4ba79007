/**
 * Redis connections for every Lookout process (agents, coordinators, alert delivery, the CLI), made in
 * one place so that each gets the same treatment: an `error` listener (an unhandled one crashes the
 * process), a bounded reconnect back-off, reconnection on `READONLY` (a demoted primary after a
 * failover), a connection name in `CLIENT LIST`; plus the start-up checks on the server and the one
 * test for "Redis is away" that callers use instead of reading error messages.
 */
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { CodedError } from './errors.ts';
import { throttledErrorLog, type Logger } from './log.ts';
import { redactUrl } from './urls.ts';

export type RedisErrorCode = 'REDIS_UNREACHABLE' | 'REDIS_EVICTION_POLICY' | 'REDIS_POLICY_UNREADABLE' | 'REDIS_TLS_FILE';
export class RedisSetupError extends CodedError<RedisErrorCode> {}

/**
 * Where a process's Redis is and how to reach it: every Lookout process takes this (from the same flags,
 * `redisOptions` in lib/redis-options.ts) and every connection it opens is made from it.
 */
export interface RedisTarget {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  url: string;
  /** For `rediss://`: the CA that signed the server's certificate, and an optional client certificate. PEM text. */
  tls?: { ca?: string; cert?: string; key?: string };
}

/** Reads the TLS files of a target; throws `REDIS_TLS_FILE` naming the flag and the file. */
export function readTlsFiles(files: { ca?: string; cert?: string; key?: string }): RedisTarget['tls'] {
  const read = (flag: string, path: string | undefined): string | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new RedisSetupError('REDIS_TLS_FILE', `${flag}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  const tls = { ca: read('--redis-ca', files.ca), cert: read('--redis-cert', files.cert), key: read('--redis-key', files.key) };
  return tls.ca || tls.cert || tls.key ? tls : undefined;
}

/** ioredis options for a target (host, port, credentials, database, TLS), without Lookout's behaviour settings. */
export function targetOptions(target: RedisTarget | string): RedisOptions {
  const { url, tls } = typeof target === 'string' ? { url: target, tls: undefined } : target;
  const parsed = new URL(url);
  const secure = parsed.protocol === 'rediss:';
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(Number.isInteger(db) && db > 0 ? { db } : {}),
    ...(secure ? { tls: { servername: parsed.hostname, ...(tls?.ca ? { ca: tls.ca } : {}), ...(tls?.cert ? { cert: tls.cert } : {}), ...(tls?.key ? { key: tls.key } : {}) } } : {}),
  };
}

/** The URL of a target, for messages (password hidden). */
export const describeTarget = (target: RedisTarget | string): string => redactUrl(typeof target === 'string' ? target : target.url);

export interface ConnectOptions {
  /** Shown in `CLIENT LIST`, to tell connections apart. */
  name: string;
  logger: Logger;
  /**
   * BullMQ workers block on Redis and need `maxRetriesPerRequest: null`, as do connections whose
   * commands must wait for a reconnect rather than fail (an agent's). Other connections fail a command
   * after a few retries rather than hang a caller. @defaultValue false
   */
  blocking?: boolean;
  /**
   * Fails a command that has no reply after this long (`Command timed out`, which
   * {@link isRedisUnavailable} recognises), instead of waiting for a Redis that stopped answering with
   * its connection still open (paused, overloaded, a half-open TCP connection). Not for connections
   * that run blocking commands. @defaultValue none (a command waits for its reply)
   */
  commandTimeoutMs?: number;
}

/** The longest wait between two reconnect attempts: a monitoring process away from Redis is blind. */
export const MAX_RECONNECT_DELAY_MS = 2_000;

/** Lookout's behaviour settings for a connection (see the module comment). */
export function connectionSettings(options: Pick<ConnectOptions, 'name' | 'blocking' | 'commandTimeoutMs'>): RedisOptions {
  return {
    connectionName: options.name,
    maxRetriesPerRequest: options.blocking ? null : 3,
    reconnectOnError: (error) => isReadOnlyError(error),
    retryStrategy: (times) => Math.min(200 * times, MAX_RECONNECT_DELAY_MS),
    ...(options.commandTimeoutMs !== undefined ? { commandTimeout: options.commandTimeoutMs } : {}),
  };
}

/** Opens an ioredis connection to a target with Lookout's settings (see the module comment). */
export function connectRedis(target: RedisTarget | string, options: ConnectOptions): Redis {
  const redis = new Redis({ ...targetOptions(target), ...connectionSettings(options) });
  const logError = throttledErrorLog(options.logger, 'redis.error');
  redis.on('error', (error: Error) => logError(error, { connection: options.name }));
  return redis;
}

/**
 * The error code of a Redis reply error (`NOPERM`, `READONLY`, `NOSCRIPT`, …): by the protocol, the first
 * word of the message. ioredis' ReplyError carries no code of its own, so this is the one place that reads it.
 */
export function redisErrorCode(error: unknown): string | null {
  if (!(error instanceof Error) || error.name !== 'ReplyError') return null;
  return /^([A-Z][A-Z_]+)\b/.exec(error.message)?.[1] ?? null;
}

/** A write refused by a replica: after a failover, the old primary answers this until we reconnect. */
export function isReadOnlyError(error: unknown): boolean {
  return redisErrorCode(error) === 'READONLY';
}

/**
 * Whether an error means "Redis is away right now" (connection closed or refused, retries used up), as
 * opposed to a bug or a refused command: the caller answers 503 / retries instead of failing for good.
 */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  const code = (error as { code?: unknown }).code;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT') return true;
  // ioredis rejects commands on a closed connection, and those past `commandTimeout`, with plain Errors
  // that carry no code.
  return /^(Connection is closed|Stream isn't writeable|Command timed out)/.test(error.message);
}

/** Resolves once Redis answers PING; throws `REDIS_UNREACHABLE` after `timeoutMs`. */
export async function waitForRedis(redis: Redis, target: RedisTarget | string, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new RedisSetupError('REDIS_UNREACHABLE',
          `Redis at ${describeTarget(target)} did not answer within ${timeoutMs} ms; is it running and reachable?`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Refuses to run on a Redis that may evict keys: BullMQ loses jobs and Lookout loses verdicts and alert
 * events silently when it does. Reads the policy with `CONFIG GET` (`via: 'config'`, coordinators) or
 * `INFO memory` (`via: 'info'`, agents, whose Redis role may not run CONFIG). Throws
 * `REDIS_EVICTION_POLICY` when the policy is not `noeviction`; when the policy cannot be read, throws
 * `REDIS_POLICY_UNREADABLE` unless `unreadable` is `'warn'`.
 */
export async function assertNoEviction(redis: Redis, options: { via: 'config' | 'info'; unreadable: 'refuse' | 'warn'; logger: Logger }): Promise<void> {
  let policy: string | undefined;
  let readError: unknown;
  try {
    if (options.via === 'config') {
      const reply = (await redis.config('GET', 'maxmemory-policy')) as unknown;
      if (Array.isArray(reply) && typeof reply[1] === 'string') policy = reply[1];
    } else {
      policy = /^maxmemory_policy:(\S+)/m.exec(await redis.info('memory'))?.[1];
    }
  } catch (error) {
    readError = error;
  }
  if (policy === undefined) {
    const how = options.via === 'config' ? 'CONFIG GET' : 'INFO memory';
    const why = readError ? `${how} failed: ${(readError as Error).message}` : `${how} returned no policy`;
    if (options.unreadable === 'warn') {
      options.logger.warn('redis.policy_check_skipped', { error: readError, note: `${why}; make sure maxmemory-policy is noeviction` });
      return;
    }
    throw new RedisSetupError('REDIS_POLICY_UNREADABLE',
      `cannot read the Redis maxmemory-policy (${why}). Lookout needs maxmemory-policy noeviction; if ${how.split(' ')[0]} is ` +
      'disabled on this server and you have made sure the policy is noeviction, start with --skip-redis-policy-check.', { cause: readError });
  }
  if (policy !== 'noeviction') {
    throw new RedisSetupError('REDIS_EVICTION_POLICY',
      `Redis maxmemory-policy is "${policy}", but Lookout requires "noeviction": with any other policy Redis may ` +
      'silently drop queued jobs, verdicts and alert events under memory pressure. Fix: CONFIG SET maxmemory-policy ' +
      'noeviction (and persist it in redis.conf).');
  }
}
