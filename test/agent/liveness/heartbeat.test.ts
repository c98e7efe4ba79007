/**
 * The heartbeat on stop deletes only its own beat (agent/liveness/heartbeat.ts): a delete that reaches
 * Redis late (sent during a partition, delivered by the kernel after the process was gone) must not erase
 * the beat of the process started in its place with the same agent id.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { heartbeatKey } from '../../../checks/keys.ts';
import { silentLogger } from '../../../lib/log.ts';
import { startHeartbeat } from '../../../agent/liveness/heartbeat.ts';
import { redisForFile, uniquePrefix } from '../../support/redis.ts';

const file = redisForFile();
const identity = (pid: number, startedAt: number) => ({
  agentId: 'agent-1', region: 'eu-west', version: 'test', hostname: 'h', pid, concurrency: 1, capabilities: ['http'], startedAt,
});

describe('heartbeat stop', () => {
  beforeAll(async () => { await file.redis.ping(); });

  it('deletes its own beat', async () => {
    const prefix = uniquePrefix('hb');
    const beat = startHeartbeat({ redis: file.redis, prefix, identity: identity(100, 1_000), inFlight: () => 0, logger: silentLogger, intervalMs: 60_000 });
    expect(await beat.beat()).toBe(true);
    await beat.stop();
    expect(await file.redis.exists(heartbeatKey(prefix, 'eu-west', 'agent-1'))).toBe(0);
  });

  it("leaves the beat of the process that replaced it (another pid or start time)", async () => {
    for (const [pid, startedAt] of [[101, 1_000], [100, 2_000]] as const) {
      const prefix = uniquePrefix('hb');
      const old = startHeartbeat({ redis: file.redis, prefix, identity: identity(100, 1_000), inFlight: () => 0, logger: silentLogger, intervalMs: 60_000 });
      await old.beat();
      const successor = startHeartbeat({ redis: file.redis, prefix, identity: identity(pid, startedAt), inFlight: () => 0, logger: silentLogger, intervalMs: 60_000 });
      await successor.beat();
      await old.stop();
      const key = heartbeatKey(prefix, 'eu-west', 'agent-1');
      expect(JSON.parse((await file.redis.get(key))!)).toMatchObject({ pid, startedAt });
      await successor.stop();
      expect(await file.redis.exists(key)).toBe(0);
    }
  });
});
