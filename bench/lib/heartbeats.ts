/**
 * Heartbeats of agents that are not running, written as agents write them, so that a coordinator under
 * test sees its regions served (without them its sweeper marks every region `no-data` each sweep and the
 * measurement is of that churn, not of ingest).
 */
import type { Redis } from 'ioredis';
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_TTL_MS, Heartbeat, SCHEMA_VERSION } from '../../checks/contract.ts';
import { agentIndexKey, heartbeatKey, knownRegionsKey } from '../../checks/keys.ts';

export function keepAgentsAlive(redis: Redis, prefix: string, agents: ReadonlyArray<{ agentId: string; region: string }>): { ready: Promise<void>; stop(): void } {
  const startedAt = Date.now();
  const beat = async (): Promise<void> => {
    const multi = redis.multi();
    for (const { agentId, region } of agents) {
      const heartbeat = Heartbeat.parse({
        schemaVersion: SCHEMA_VERSION, agentId, region, version: 'bench', hostname: 'bench', pid: process.pid,
        concurrency: 10, inFlight: 0, capabilities: ['http'], startedAt, sentAt: Date.now(),
      });
      multi.set(heartbeatKey(prefix, region, agentId), JSON.stringify(heartbeat), 'PX', HEARTBEAT_TTL_MS).sadd(agentIndexKey(prefix, region), agentId).sadd(knownRegionsKey(prefix), region);
    }
    await multi.exec();
  };
  const timer = setInterval(() => { beat().catch(() => {}); }, HEARTBEAT_INTERVAL_MS);
  return { ready: beat(), stop: () => clearInterval(timer) };
}
