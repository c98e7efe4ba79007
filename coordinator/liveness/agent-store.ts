/**
 * Agent liveness in Redis, the sweeper's first step: an agent whose heartbeat key expired goes `offline`
 * (`probe.offline`, once), a returning one `online` (`probe.online`); each transition is an optimistic
 * transaction that also watches the heartbeat key, so two coordinators emit an event once and never
 * against a fresh heartbeat. Agents offline for longer than the retention are forgotten. The decisions
 * are agents.ts's.
 */
import type { Redis } from 'ioredis';
import type { Heartbeat } from '../../checks/contract.ts';
import { agentIndexKey, agentStateKey, heartbeatKey, knownRegionsKey, outboxKey } from '../../checks/keys.ts';
import type { Logger } from '../../lib/log.ts';
import type { ProbeAlertEvent } from '../events/events.ts';
import type { CoordinatorMetrics } from '../platform/metrics.ts';
import type { TransactionRunner } from '../platform/transaction.ts';
import { decideAgent, heldOnline, parseHeartbeat, parseStoredAgent, type StoredAgent } from './agents.ts';

export interface AgentSweepContext {
  redis: Redis;
  tx: TransactionRunner;
  prefix: string;
  metrics: CoordinatorMetrics;
  logger: Logger;
  retentionMs: number;
  now: () => number;
  /** Since when this coordinator has seen Redis without a break (agents.ts `heldOnline`). @defaultValue no bound */
  judgedFrom?: () => number;
}

export interface AgentSweep {
  /** The regions this sweep looked at (those the coordinators watch). */
  watchedRegions: string[];
  /** Regions with a live heartbeat. */
  liveRegions: Set<string>;
  /** Agents with a live heartbeat, by region. */
  liveAgents: Map<string, string[]>;
  /** Events committed by this step. */
  events: ProbeAlertEvent[];
}

/** One agent as the coordinators see it: its region, id, live heartbeat (or none) and remembered state. */
export interface AgentReading {
  region: string;
  agentId: string;
  /** The raw heartbeat value, when the key exists (a value that is not a valid heartbeat counts as absent). */
  rawHeartbeat: string | null;
  heartbeat: Heartbeat | null;
  stored: StoredAgent | null;
}

/** Every agent of `regions` (each region's index), with heartbeats and states: two round trips. */
export async function readAgents(redis: Redis, prefix: string, regions: readonly string[]): Promise<AgentReading[]> {
  if (regions.length === 0) return [];
  const indexes = await redis.pipeline(regions.map((region) => ['smembers', agentIndexKey(prefix, region)])).exec() ?? [];
  const agents = regions.flatMap((region, i) => ((indexes[i]?.[1] as string[] | undefined) ?? []).sort().map((agentId) => ({ region, agentId })));
  if (agents.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const { region, agentId } of agents) pipeline.get(heartbeatKey(prefix, region, agentId)).get(agentStateKey(prefix, region, agentId));
  const replies = (await pipeline.exec()) ?? [];
  return agents.map(({ region, agentId }, i) => {
    const rawHeartbeat = (replies[2 * i]?.[1] as string | null) ?? null;
    return {
      region, agentId, rawHeartbeat,
      heartbeat: parseHeartbeat(rawHeartbeat, { region, agentId }),
      stored: parseStoredAgent((replies[2 * i + 1]?.[1] as string | null) ?? null),
    };
  });
}

/** The regions the coordinators watch (checks/keys.ts `knownRegionsKey`). */
export const knownRegions = async (redis: Redis, prefix: string): Promise<string[]> => (await redis.smembers(knownRegionsKey(prefix))).sort();

/** Decides every agent of every known region; writes (and emits) only where something changes. */
export async function sweepAgents(ctx: AgentSweepContext): Promise<AgentSweep> {
  const { redis, prefix, tx, retentionMs } = ctx;
  const liveRegions = new Set<string>();
  const liveAgents = new Map<string, string[]>();
  const events: ProbeAlertEvent[] = [];
  const watchedRegions = await knownRegions(redis, prefix);
  const judgedFrom = ctx.judgedFrom?.() ?? Number.NEGATIVE_INFINITY;
  for (const reading of await readAgents(redis, prefix, watchedRegions)) {
    const { region, agentId } = reading;
    if (reading.rawHeartbeat !== null && reading.heartbeat === null) ctx.logger.warn('agent.invalid_heartbeat', { region, agentId });
    if (reading.heartbeat || heldOnline(reading.stored, reading.heartbeat, ctx.now(), judgedFrom)) {
      liveRegions.add(region);
      liveAgents.set(region, [...(liveAgents.get(region) ?? []), agentId]);
    }
    if (decideAgent(agentId, reading.stored, reading.heartbeat, ctx.now(), retentionMs, judgedFrom).kind === 'none') continue;

    // Something changes: decide again under WATCH, from a fresh read.
    const stateKey = agentStateKey(prefix, region, agentId);
    const hbKey = heartbeatKey(prefix, region, agentId);
    const event = await tx.run([stateKey, hbKey], async (conn) => {
      const [rawHb, rawStored] = await Promise.all([conn.get(hbKey), conn.get(stateKey)]);
      const decision = decideAgent(agentId, parseStoredAgent(rawStored), parseHeartbeat(rawHb, { region, agentId }), ctx.now(), retentionMs, judgedFrom);
      if (decision.kind === 'none') return { result: null };
      if (decision.kind === 'forget') {
        return { result: null, write: (multi) => { multi.del(stateKey); multi.srem(agentIndexKey(prefix, region), agentId); } };
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
      ctx.logger.info('agent.event', { eventId: event.id, type: event.type, agentId, region });
    }
  }
  return { watchedRegions, liveRegions, liveAgents, events };
}
