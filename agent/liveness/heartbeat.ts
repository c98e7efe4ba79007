/**
 * Tells coordinators this agent is alive: every {@link HEARTBEAT_INTERVAL_MS}, the agent's
 * {@link Heartbeat} is written to `heartbeatKey(prefix, agentId)` with a {@link HEARTBEAT_TTL_MS}
 * expiry, and its id is added to `agentIndexKey(prefix)`. A missed beat expires the key, which is how
 * coordinators notice an agent that died without saying goodbye; a clean shutdown deletes the key so
 * they see it leave at once, but only its own beat: a delete sent while Redis was out of reach may arrive
 * long after this process is gone (the kernel still sends what a dead process wrote), and must not erase
 * the beat of the agent started in its place.
 */
import type { Redis } from 'ioredis';
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_TTL_MS, Heartbeat, SCHEMA_VERSION } from '../../checks/contract.ts';
import { agentIndexKey, heartbeatKey } from '../../checks/keys.ts';
import { withTimeout } from '../../lib/bounded.ts';
import type { Logger } from '../../lib/log.ts';
import { luaScript } from '../../lib/lua.ts';

export interface HeartbeatOptions {
  redis: Redis;
  prefix: string;
  /** The fixed fields of every beat. */
  identity: Omit<Heartbeat, 'schemaVersion' | 'inFlight' | 'sentAt'>;
  /** Runs executing now, read at every beat. */
  inFlight: () => number;
  logger: Logger;
  /** @defaultValue {@link HEARTBEAT_INTERVAL_MS} */
  intervalMs?: number;
  /** @defaultValue {@link HEARTBEAT_TTL_MS} */
  ttlMs?: number;
}

export interface HeartbeatHandle {
  /** Writes one beat now; resolves `true` when Redis took it. Never rejects. */
  beat(): Promise<boolean>;
  /** Stops beating and deletes the heartbeat key (bounded; a failure is logged, the key then expires). */
  stop(): Promise<void>;
}

/** Deletes the heartbeat only when it is this process's own (same `pid` and `startedAt`). */
const deleteOwnBeat = luaScript({
  name: 'lookoutDeleteOwnHeartbeat',
  keys: ['beat'],
  args: ['pid', 'startedAt'],
  body: `
local raw = redis.call('GET', beat)
if not raw then return 0 end
local ok, value = pcall(cjson.decode, raw)
if ok and type(value) == 'table' and tostring(value.pid) == pid and tostring(value.startedAt) == startedAt then
  return redis.call('DEL', beat)
end
return 0
`,
});

/** Redis commands of a beat must not queue up behind an outage: each beat stands alone. */
const COMMAND_TIMEOUT_MS = 1_500;

export function startHeartbeat(options: HeartbeatOptions): HeartbeatHandle {
  const { redis, prefix, identity, logger } = options;
  const intervalMs = options.intervalMs ?? HEARTBEAT_INTERVAL_MS;
  const ttlMs = options.ttlMs ?? HEARTBEAT_TTL_MS;
  const key = heartbeatKey(prefix, identity.region, identity.agentId);
  let failing = false;
  let stopped = false;
  let current: Promise<boolean> = Promise.resolve(true);

  const write = async (): Promise<boolean> => {
    const heartbeat = Heartbeat.parse({ ...identity, schemaVersion: SCHEMA_VERSION, inFlight: options.inFlight(), sentAt: Date.now() });
    try {
      if (redis.status !== 'ready') throw new Error(`redis connection is ${redis.status}`);
      const replies = await withTimeout(
        redis.multi().set(key, JSON.stringify(heartbeat), 'PX', ttlMs).sadd(agentIndexKey(prefix, identity.region), identity.agentId).exec(),
        COMMAND_TIMEOUT_MS, 'heartbeat write',
      );
      const failed = replies?.find(([error]) => error);
      if (!replies || failed) throw failed?.[0] ?? new Error('heartbeat transaction was discarded');
      if (failing) logger.info('heartbeat.recovered', { key });
      failing = false;
      return true;
    } catch (error) {
      // Log the first failure of a streak only: an outage would otherwise log every interval.
      if (!failing) logger.warn('heartbeat.failed', { key, error });
      failing = true;
      return false;
    }
  };

  const beat = (): Promise<boolean> => {
    if (stopped) return Promise.resolve(false);
    current = current.then(write);
    return current;
  };

  const timer = setInterval(() => { void beat(); }, intervalMs);
  timer.unref();
  // Back from an outage: beat at once, so coordinators judging from their own return see this agent alive.
  const onReady = (): void => { void beat(); };
  redis.on('ready', onReady);

  return {
    beat,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      redis.off('ready', onReady);
      await current;
      try {
        if (redis.status !== 'ready') throw new Error(`redis connection is ${redis.status}`);
        await withTimeout(deleteOwnBeat(redis, { beat: key }, { pid: String(identity.pid), startedAt: String(identity.startedAt) }), COMMAND_TIMEOUT_MS, 'heartbeat delete');
      } catch (error) {
        logger.warn('heartbeat.delete_failed', { key, error, note: `the key expires within ${ttlMs}ms` });
      }
    },
  };
}
