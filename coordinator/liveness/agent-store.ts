/**
 * Agent liveness in Redis, the sweeper's first step: an agent whose heartbeat key expired goes `offline`
 * (`probe.offline`, once), a returning one `online` (`probe.online`); each transition is an optimistic
 * transaction that also watches the heartbeat key, so two coordinators emit an event once and never
 * against a fresh heartbeat. Agents offline for longer than the retention are forgotten. The decisions
 * are agents.ts's.
 */
import type { Redis } from 'ioredis';
import type { Heartbeat } from '../../checks/contract.ts';
import { agentIndexKey, agentStateKey, heartbeatKey, outboxKey } from '../../checks/keys.ts';
import type { Logger } from '../../lib/log.ts';
import type { ProbeAlertEvent } from '../events/events.ts';
import type { CoordinatorMetrics } from '../platform/metrics.ts';
import type { TransactionRunner } from '../platform/transaction.ts';
import { decideAgent, parseHeartbeat, parseStoredAgent } from './agents.ts';

export interface AgentSweepContext {
  redis: Redis;
  tx: TransactionRunner;
  prefix: string;
  metrics: CoordinatorMetrics;
  logger: Logger;
  retentionMs: number;
  now: () => number;
}

export interface AgentSweep {
  /** Regions with a live heartbeat. */
  liveRegions: Set<string>;
  /** Agents with a live heartbeat, by region. */
  liveAgents: Map<string, string[]>;
  /** Events committed by this step. */
  events: ProbeAlertEvent[];
}

/** Decides every known agent; writes (and emits) only where something changes. */
export async function sweepAgents(ctx: AgentSweepContext): Promise<AgentSweep> {
const { redis, prefix, tx, retentionMs } = ctx;
  const agentIds = await redis.smembers(agentIndexKey(prefix));
  const liveRegions = new Set<string>();
  const liveAgents = new Map<string, string[]>();
  const events: ProbeAlertEvent[] = [];
  if (agentIds.length === 0) return { liveRegions, liveAgents, events };

  const pipeline = redis.pipeline();
  for (const id of agentIds) pipeline.get(heartbeatKey(prefix, id)).get(agentStateKey(prefix, id));
  const replies = (await pipeline.exec()) ?? [];
  for (let i = 0; i < agentIds.length; i++) {
    const agentId = agentIds[i]!;
    const heartbeat = parseLoggedHeartbeat(ctx, agentId, replies[2 * i]?.[1] as string | null);
    const stored = parseStoredAgent(replies[2 * i + 1]?.[1] as string | null);
    if (heartbeat) {
      liveRegions.add(heartbeat.region);
      liveAgents.set(heartbeat.region, [...(liveAgents.get(heartbeat.region) ?? []), agentId]);
    }
    if (decideAgent(agentId, stored, heartbeat, ctx.now(), retentionMs).kind === 'none') continue;

    // Something changes: decide again under WATCH, from a fresh read.
    const stateKey = agentStateKey(prefix, agentId);
    const hbKey = heartbeatKey(prefix, agentId);
    const event = await tx.run([stateKey, hbKey], async (conn) => {
      const [rawHb, rawStored] = await Promise.all([conn.get(hbKey), conn.get(stateKey)]);
      const decision = decideAgent(agentId, parseStoredAgent(rawStored), parseLoggedHeartbeat(ctx, agentId, rawHb), ctx.now(), retentionMs);
      if (decision.kind === 'none') return { result: null };
      if (decision.kind === 'forget') {
        return { result: null, write: (multi) => { multi.del(stateKey); multi.srem(agentIndexKey(prefix), agentId); } };
      }
      return {
        result: decision.event,
        write: (multi) => {
          multi.set(stateKey, JSON.stringify(decision.agent));
          if (decision.event) multi.lpush(outboxKey(prefix), JSON.stringify(decision.event));
        },
      };
    });
    if (event) {
      events.push(event);
      ctx.metrics.probeEvents.inc({ type: event.type });
      ctx.logger.info('agent.event', { eventId: event.id, type: event.type, agentId, region: event.agent.region });
    }
  }
  return { liveRegions, liveAgents, events };
}

/** A heartbeat that does not match the contract counts as absent (and is logged). */
function parseLoggedHeartbeat(ctx: AgentSweepContext, agentId: string, raw: string | null): Heartbeat | null {
  const heartbeat = parseHeartbeat(raw);
  if (raw !== null && heartbeat === null) ctx.logger.warn('agent.invalid_heartbeat', { agentId });
  return heartbeat;
}
