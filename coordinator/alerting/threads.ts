/**
 * Per-thread delivery state in Redis. A thread is what a run of events is about: one incident
 * (`incident:<id>`) or one agent's offline/online pair (`agent:<id>`). Two things are kept per thread:
 *
 * - Which channels got an event of it, so that its later events (an update, the resolution) reach
 *   every channel that heard of it, even when routing alone would send them elsewhere (an incident
 *   that started regional and turned global, or was routed by a severity that changed).
 * - For `latest-state` channels (PagerDuty, Alertmanager): the newest position queued per channel, so an
 *   older event retried after a newer one was queued is skipped instead of re-opening a resolved alert;
 *   and a short lock per (thread, channel), so two sends of one thread never race to the receiver.
 *
 * Keys live under `<prefix>:deliveries:thread:<thread>:*` and expire after `ttlSeconds`.
 */
import type { Redis } from 'ioredis';
import { luaScript } from '../../lib/lua.ts';
import { threadChannelsKey, threadLatestKey, threadLockKey } from '../../checks/keys.ts';


/** Deletes the lock only if it still holds our token (it may have expired and been taken by another worker). */
const unlockScript = luaScript({
  name: 'lookoutThreadUnlock',
  keys: ['lock'],
  args: ['token'],
  body: `if redis.call('GET', lock) == token then return redis.call('DEL', lock) else return 0 end`,
});

export class DeliveryThreads {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttlSeconds: number;

  constructor(redis: Redis, prefix: string, ttlSeconds: number) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#ttlSeconds = ttlSeconds;
  }

  /** Channels that were handed an earlier event of the thread. */
  async channels(thread: string): Promise<string[]> {
    return this.#redis.smembers(threadChannelsKey(this.#prefix, thread));
  }

  /**
   * Records that `channels` are handed the event at `position` of the thread; for `latestState`
   * channels the newest position is kept (ZADD GT: a replayed older event never lowers it).
   */
  async record(thread: string, channels: readonly string[], latestState: readonly string[], position: number): Promise<void> {
    if (channels.length === 0) return;
    const channelsKey = threadChannelsKey(this.#prefix, thread);
    const latestKey = threadLatestKey(this.#prefix, thread);
    const multi = this.#redis.multi().sadd(channelsKey, ...channels).expire(channelsKey, this.#ttlSeconds);
    if (latestState.length > 0) {
      multi.zadd(latestKey, 'GT', ...latestState.flatMap((name) => [position, name])).expire(latestKey, this.#ttlSeconds);
    }
    const replies = await multi.exec();
    const failed = replies?.find(([error]) => error);
    if (failed) throw failed[0];
  }

  /** Newest position queued for `channel` in the thread, or null when none was recorded. */
  async latest(thread: string, channel: string): Promise<number | null> {
    const score = await this.#redis.zscore(threadLatestKey(this.#prefix, thread), channel);
    return score === null ? null : Number(score);
  }

  /** Takes the (thread, channel) send lock for `ttlMs`; false when another send holds it. */
  async lock(thread: string, channel: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.#redis.set(threadLockKey(this.#prefix, thread, channel), token, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async unlock(thread: string, channel: string, token: string): Promise<void> {
    await unlockScript(this.#redis, { lock: threadLockKey(this.#prefix, thread, channel) }, { token });
  }
}
