/**
 * Region canaries in Redis (canary.ts has the decisions, canary-sender.ts sends them):
 * - {@link sweepCanaries}: the sweeper's step deciding which regions are stalled, each transition in an
 *   optimistic transaction that also pushes its event to the outbox, so two coordinators emit it once.
 * - {@link readCanaryStatus}: what `GET /api/agents` shows per region.
 */
import type { Redis } from 'ioredis';
import { canaryAnswerKey, canarySentKey, canaryStateKey, outboxKey } from '../../checks/keys.ts';
import type { RegionStallEvent } from '../events/events.ts';
import type { TransactionRunner } from '../platform/transaction.ts';
import {
  decideRegionCanary, isStalled, parseCanaryAnswer, parseCanarySent, parseStoredRegionCanary, type StoredRegionCanary,
} from './canary.ts';

export interface CanarySweepOptions {
  redis: Redis;
  tx: TransactionRunner;
  prefix: string;
  /** Agents with a live heartbeat, by region. */
  liveAgents: ReadonlyMap<string, readonly string[]>;
  now: () => number;
  /** Since when this coordinator has seen Redis without a break (canary.ts). @defaultValue no bound */
  judgedFrom?: () => number;
}

export interface CanarySweep {
  /** Regions stalled after this step: the sweeper treats them as having no live agent. */
  stalledRegions: Set<string>;
  /** Events committed by this step. */
  events: RegionStallEvent[];
}

interface RegionReading {
  stored: StoredRegionCanary | null;
  intervalMs: number | null;
  answerRaw: string | null;
}

/** Decides every watched or remembered region; writes (and emits) only where something changes. */
export async function sweepCanaries(options: CanarySweepOptions): Promise<CanarySweep> {
  const { redis, tx, prefix, liveAgents, now } = options;
  const stateKey = canaryStateKey(prefix);
  const storedAll = await redis.hgetall(stateKey);
  const regions = [...new Set([...liveAgents.keys(), ...Object.keys(storedAll)])].sort();
  const stalledRegions = new Set<string>();
  const events: RegionStallEvent[] = [];
  if (regions.length === 0) return { stalledRegions, events };

  const reading = (stored: string | null | undefined, sentRaw: string | null, answerRaw: string | null): RegionReading =>
    ({ stored: parseStoredRegionCanary(stored), intervalMs: parseCanarySent(sentRaw)?.intervalMs ?? null, answerRaw });
  const decide = (region: string, read: RegionReading) => decideRegionCanary({
    region, stored: read.stored, intervalMs: read.intervalMs, answer: parseCanaryAnswer(read.answerRaw, region),
    liveAgents: liveAgents.get(region) ?? [], now: now(), ...(options.judgedFrom ? { judgedFrom: options.judgedFrom() } : {}),
  });

  // Everything read in one round trip first; a transaction only where something changes.
  const pipeline = redis.pipeline();
  for (const region of regions) pipeline.get(canarySentKey(prefix, region)).get(canaryAnswerKey(prefix, region));
  const replies = (await pipeline.exec()) ?? [];

  for (const [i, region] of regions.entries()) {
    const preview = decide(region, reading(storedAll[region], replies[2 * i]?.[1] as string | null, replies[2 * i + 1]?.[1] as string | null));
    let state: StoredRegionCanary | null = parseStoredRegionCanary(storedAll[region]);
    if (preview.kind !== 'none') {
      // Something changes: decide again under WATCH, from a fresh read.
      const watched = [stateKey, canarySentKey(prefix, region), canaryAnswerKey(prefix, region)];
      const outcome = await tx.run(watched, async (conn) => {
        const [stored, sentRaw, answerRaw] = await Promise.all([
          conn.hget(stateKey, region), conn.get(canarySentKey(prefix, region)), conn.get(canaryAnswerKey(prefix, region)),
        ]);
        const fresh = reading(stored, sentRaw, answerRaw);
        const decision = decide(region, fresh);
        if (decision.kind === 'none') return { result: { state: fresh.stored, event: null } };
        const next = decision.kind === 'write' ? decision.state : null;
        return {
          result: { state: next, event: decision.event },
          write: (multi) => {
            if (next) multi.hset(stateKey, region, JSON.stringify(next));
            else multi.hdel(stateKey, region);
            if (decision.event) multi.lpush(outboxKey(prefix), JSON.stringify(decision.event));
          },
        };
      });
      state = outcome.state;
      if (outcome.event) events.push(outcome.event);
    }
    if (isStalled(state)) stalledRegions.add(region);
  }
  return { stalledRegions, events };
}

/** A region's canary status as `GET /api/agents` shows it. */
export interface RegionCanaryView {
  /** Interval of the canaries being sent to the region; null when none are. */
  intervalMs: number | null;
  /** When an agent of the region last answered a canary (agent clock); null when none was seen. */
  lastAnswerAt: number | null;
  lastAnswerAgentId: string | null;
  /** Whether the region's agents heartbeat but answer no canary (its checks then show no data). */
  stalled: boolean;
  /** When the stall began; null when not stalled. */
  stalledSince: number | null;
}

/** The canary status of each of `regions` (read-only; the sweeper keeps it current). */
export async function readCanaryStatus(redis: Redis, prefix: string, regions: readonly string[]): Promise<Map<string, RegionCanaryView>> {
  const views = new Map<string, RegionCanaryView>();
  if (regions.length === 0) return views;
  const pipeline = redis.pipeline();
  pipeline.hmget(canaryStateKey(prefix), ...regions);
  for (const region of regions) pipeline.get(canarySentKey(prefix, region)).get(canaryAnswerKey(prefix, region));
  const replies = (await pipeline.exec()) ?? [];
  const storedList = (replies[0]?.[1] as Array<string | null> | undefined) ?? [];
  regions.forEach((region, i) => {
    const stored = parseStoredRegionCanary(storedList[i]);
    const sent = parseCanarySent(replies[1 + 2 * i]?.[1] as string | null);
    const answer = parseCanaryAnswer(replies[2 + 2 * i]?.[1] as string | null, region);
    const last = answer ?? stored?.lastAnswer ?? null;
    views.set(region, {
      intervalMs: sent?.intervalMs ?? null,
      lastAnswerAt: last?.at ?? null,
      lastAnswerAgentId: last?.agentId ?? null,
      stalled: isStalled(stored),
      stalledSince: isStalled(stored) ? stored!.changedAt : null,
    });
  });
  return views;
}
