/**
 * Connections that notice when Redis stopped answering. A TCP connection whose packets vanish (a network
 * partition, a primary that died without a reset) is not closed by anyone: ioredis keeps writing into it
 * and the kernel retransmits with a growing back-off (about 100 s between tries after a minute), so a
 * connection can stay useless long after the network healed. Each connection made by `connectRedis`
 * (lib/redis.ts) therefore PINGs now and then while it is idle, and one that does not answer within
 * {@link UNRESPONSIVE_AFTER_MS} is dropped and reconnected at once (with Sentinel, to whichever primary the
 * sentinels name now).
 *
 * ioredis also ends a Sentinel connection for good when a failover is announced while it is reconnecting
 * (its failover detector closes the connector in the middle of a connect, and the connect's failure ends
 * the connection): a connection that ends without its owner closing it is therefore connected again.
 *
 * A connection blocked in a blocking command (BullMQ's BZPOPMIN, XREAD BLOCK) answers nothing until it
 * returns, so it is not pinged then; BullMQ has its own watchdog for those. BullMQ makes its workers'
 * connections with `duplicate()`: the duplicates of a watched connection are watched too.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { settlesWithin } from './bounded.ts';
import { throttledErrorLog, type Logger } from './log.ts';

/** How often an idle connection is pinged. */
export const WATCHDOG_INTERVAL_MS = 2_000;
/** A PING unanswered for this long: the connection is dropped and made again. Generous: these machines are loaded. */
export const UNRESPONSIVE_AFTER_MS = 5_000;

/** Commands that hold a connection until they return: nothing else is answered meanwhile. */
const BLOCKING_COMMANDS = new Set([
  'bzpopmin', 'bzpopmax', 'bzmpop', 'blpop', 'brpop', 'brpoplpush', 'blmove', 'blmpop', 'xread', 'xreadgroup', 'wait', 'waitaof',
]);

interface QueuedCommand { command?: { name?: string } }

/** Whether a blocking command is waiting for its reply on this connection (ioredis keeps them in `commandQueue`). */
function blockedNow(redis: Redis): boolean {
  const queue = (redis as unknown as { commandQueue?: { toArray?: () => QueuedCommand[] } }).commandQueue;
  const entries = queue?.toArray?.() ?? [];
  return entries.some((entry) => BLOCKING_COMMANDS.has(String(entry.command?.name ?? '').toLowerCase()));
}

export interface WatchdogTiming {
  intervalMs: number;
  unresponsiveAfterMs: number;
}

type Duplicate = (override?: Partial<RedisOptions>) => Redis;

/**
 * Gives a connection an `error` listener and the watchdog, and makes its duplicates the same (an instance
 * method rather than a subclass: ioredis' generic reply types do not survive subclassing).
 */
function watch(redis: Redis, logger: Logger, name: string, timing: WatchdogTiming): Redis {
  const logError = throttledErrorLog(logger, 'redis.error');
  redis.on('error', (error: Error) => logError(error, { connection: name }));
  const duplicate: Duplicate = redis.duplicate.bind(redis);
  (redis as unknown as { duplicate: Duplicate }).duplicate = (override) => {
    const copy = duplicate(override);
    return watch(copy, logger, copy.options.connectionName ?? `${name}-duplicate`, timing);
  };

  // Revived when it ends without its owner asking (see the module comment).
  let closedByOwner = false;
  let revivals = 0;
  const disconnect = redis.disconnect.bind(redis);
  const quit = redis.quit.bind(redis);
  (redis as unknown as { disconnect: (reconnect?: boolean) => void }).disconnect = (reconnect = false) => {
    if (!reconnect) closedByOwner = true;
    disconnect(reconnect);
  };
  (redis as unknown as { quit: () => Promise<'OK'> }).quit = () => { closedByOwner = true; return quit(); };
  redis.on('ready', () => { revivals = 0; });
  redis.on('end', () => {
    if (closedByOwner) return;
    revivals++;
    logger.warn('redis.connection_ended', { connection: name, note: 'connecting again' });
    setTimeout(() => { if (!closedByOwner && redis.status === 'end') redis.connect().catch(() => {}); }, Math.min(200 * revivals, 2_000)).unref();
  });

  let pinging = false;
  const timer = setInterval(() => {
    if (pinging || redis.status !== 'ready' || redis.mode !== 'normal' || blockedNow(redis)) return;
    pinging = true;
    void settlesWithin(redis.ping(), timing.unresponsiveAfterMs).then((answered) => {
      pinging = false;
      if (answered || redis.status !== 'ready') return;
      logger.warn('redis.unresponsive', { connection: name, afterMs: timing.unresponsiveAfterMs, note: 'reconnecting' });
      redis.disconnect(true);
    });
  }, timing.intervalMs);
  timer.unref();
  redis.on('end', () => { if (closedByOwner) clearInterval(timer); });
  return redis;
}

/** A watched connection (see the module comment); `timing` is for tests. */
export function watchedConnection(
  options: RedisOptions, logger: Logger, name: string,
  timing: WatchdogTiming = { intervalMs: WATCHDOG_INTERVAL_MS, unresponsiveAfterMs: UNRESPONSIVE_AFTER_MS },
): Redis {
  return watch(new Redis(options), logger, name, timing);
}
