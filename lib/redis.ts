/**
 * Redis connections for every Lookout process (agents, coordinators, alert delivery, the CLI), made in
 * one place so that each gets the same treatment: an `error` listener (an unhandled one crashes the
 * process), a bounded reconnect back-off (and a bounded connect timeout), reconnection on `READONLY` (a
 * demoted primary after a failover), Sentinel when the target names sentinels (with ioredis'
 * `failoverDetector`), optional command timeouts, a watchdog that replaces a connection that stopped
 * answering (redis-watchdog.ts), a connection name in `CLIENT LIST`; plus the start-up checks on the
 * server and the one test for "Redis is away" that callers use instead of reading error messages.
 */
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { CodedError } from './errors.ts';
import type { Logger } from './log.ts';
import { redactUrl } from './urls.ts';
import { watchedConnection } from './redis-watchdog.ts';

export type RedisErrorCode = 'REDIS_UNREACHABLE' | 'REDIS_EVICTION_POLICY' | 'REDIS_POLICY_UNREADABLE' | 'REDIS_TLS_FILE';
export class RedisSetupError extends CodedError<RedisErrorCode> {}

/** One sentinel's address. */
export interface SentinelAddress { host: string; port: number }

/**
 * Redis behind Sentinel: the sentinels to ask and the name of the primary they watch. Every connection then
 * asks a sentinel where the primary is, follows it through failovers (ioredis' `failoverDetector`), and
 * reconnects on `READONLY` (a demoted primary). Sentinels may have credentials of their own, apart from the
 * data nodes' (README: High availability).
 */
export interface SentinelTarget {
  sentinels: SentinelAddress[];
  /** The primary's name in the sentinels' configuration (`sentinel monitor <name> …`). */
  masterName: string;
  /** The sentinels' own user (Redis 6.2+ sentinel ACL). @defaultValue none (the default user) */
  username?: string;
  /** The sentinels' password (`requirepass` or the user's password in sentinel.conf). @defaultValue none */
  password?: string;
}

/**
 * Where a process's Redis is and how to reach it: every Lookout process takes this (from the same flags,
 * `redisOptions` in lib/redis-options.ts) and every connection it opens is made from it.
 */
export interface RedisTarget {
  /**
   * `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. With {@link sentinel}, the URL still
   * gives the scheme (TLS to sentinels and data nodes alike), the data nodes' user, password and database,
   * and the host name their certificates are checked against; its host and port are not connected to.
   */
  url: string;
  /** For `rediss://`: the CA that signed the server's certificate, and an optional client certificate. PEM text. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** Reach the primary through Sentinel. @defaultValue none (the URL's host and port) */
  sentinel?: SentinelTarget;
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

/**
 * ioredis options for a target (where, credentials, database, TLS; with Sentinel, the sentinels and the
 * primary's name), without Lookout's behaviour settings.
 */
export function targetOptions(target: RedisTarget | string): RedisOptions {
  const { url, tls, sentinel } = typeof target === 'string' ? { url: target, tls: undefined, sentinel: undefined } : target;
  const parsed = new URL(url);
  const secure = parsed.protocol === 'rediss:';
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  const tlsOptions = secure
    ? { servername: parsed.hostname, ...(tls?.ca ? { ca: tls.ca } : {}), ...(tls?.cert ? { cert: tls.cert } : {}), ...(tls?.key ? { key: tls.key } : {}) }
    : undefined;
  const credentials = {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(Number.isInteger(db) && db > 0 ? { db } : {}),
  };
  if (sentinel) {
    return {
      sentinels: sentinel.sentinels.map(({ host, port }) => ({ host, port })),
      name: sentinel.masterName,
      ...(sentinel.username ? { sentinelUsername: sentinel.username } : {}),
      ...(sentinel.password ? { sentinelPassword: sentinel.password } : {}),
      ...credentials,
      // One TLS setting for both: sentinels and data nodes are reached the same way.
      ...(tlsOptions ? { tls: tlsOptions, sentinelTLS: tlsOptions, enableTLSForSentinelMode: true } : {}),
    };
  }
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : 6379,
    ...credentials,
    ...(tlsOptions ? { tls: tlsOptions } : {}),
  };
}

/** Where a target is, for messages (passwords hidden): the URL, or the sentinels and the primary's name. */
export function describeTarget(target: RedisTarget | string): string {
  if (typeof target === 'string') return redactUrl(target);
  if (!target.sentinel) return redactUrl(target.url);
  const { sentinels, masterName } = target.sentinel;
  return `primary "${masterName}" via sentinels ${sentinels.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(',')}`;
}

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

/**
 * How long a connection attempt may take before the next is tried (a blackholed address, a primary that
 * is gone: with Sentinel, the next attempt asks the sentinels again).
 */
export const CONNECT_TIMEOUT_MS = 5_000;

/**
 * BullMQ worker options every Lookout worker takes: after a connection error, BullMQ waits
 * `runRetryDelay` (15 s by default) before fetching again, which kept agents idle for up to 13 s after
 * Redis came back; a second is enough to not spin.
 */
export const WORKER_RECOVERY = { runRetryDelay: 1_000 } as const;

/** Reconnect back-off: 200 ms more per attempt, capped at {@link MAX_RECONNECT_DELAY_MS}. */
export const reconnectDelayMs = (attempt: number): number => Math.min(200 * attempt, MAX_RECONNECT_DELAY_MS);

/** Lookout's behaviour settings for a connection (see the module comment). */
export function connectionSettings(options: Pick<ConnectOptions, 'name' | 'blocking' | 'commandTimeoutMs'>): RedisOptions {
  return {
    connectionName: options.name,
    maxRetriesPerRequest: options.blocking ? null : 3,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // 2: reconnect and send the command again, to the primary the sentinels name now.
    reconnectOnError: (error) => (isReadOnlyError(error) ? 2 : false),
    retryStrategy: reconnectDelayMs,
    // Sentinel mode (ignored otherwise): follow failovers as they are announced, and keep asking.
    failoverDetector: true,
    sentinelRetryStrategy: reconnectDelayMs,
    sentinelReconnectStrategy: reconnectDelayMs,
    ...(options.commandTimeoutMs !== undefined ? { commandTimeout: options.commandTimeoutMs } : {}),
  };
}

/**
 * The command timeout of a non-blocking connection through Sentinel when none is given: ioredis keeps a
 * command queued for as long as it finds no primary (no sentinel answers, or none names one), where a
 * connection to one address gives up after a few reconnects; this bounds the wait the same way.
 */
export const SENTINEL_COMMAND_TIMEOUT_MS = 10_000;

/**
 * Opens an ioredis connection to a target with Lookout's settings (see the module comment). Its
 * duplicates (BullMQ makes its workers' connections with `duplicate()`) get the same treatment.
 */
export function connectRedis(target: RedisTarget | string, options: ConnectOptions): Redis {
  const viaSentinel = typeof target !== 'string' && target.sentinel !== undefined;
  const commandTimeoutMs = options.commandTimeoutMs ?? (viaSentinel && !options.blocking ? SENTINEL_COMMAND_TIMEOUT_MS : undefined);
  const settings = { ...targetOptions(target), ...connectionSettings({ ...options, ...(commandTimeoutMs !== undefined ? { commandTimeoutMs } : {}) }) };
  return watchedConnection(settings, options.logger, options.name);
}

/**
 * A short-lived connection to one node of a target (a replica the primary lists, say) with the target's
 * credentials and TLS, not through Sentinel, failing at once rather than retrying. The caller disconnects it.
 */
export function connectToNode(target: RedisTarget, node: { host: string; port: number }, name: string): Redis {
  const options = targetOptions({ url: target.url, ...(target.tls ? { tls: target.tls } : {}) });
  const redis = new Redis({ ...options, host: node.host, port: node.port, connectionName: name, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {}); // its commands fail, and the caller hears it from them
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
  // that carry no code; so does the sentinel connector when no sentinel answers.
  return /^(Connection is closed|Stream isn't writeable|Command timed out|All sentinels are unreachable)/.test(error.message);
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
