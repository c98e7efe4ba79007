/**
 * The I/O around region canaries (canary-state.ts has the decisions):
 * - {@link CanarySender}: every canary interval, one `CanaryJob` into each region's queue (regions with
 *   checks or live agents). The job id is deterministic per (region, slot), so several coordinators add
 *   one; a BullMQ deduplication id per region keeps at most one canary waiting, so a region nobody
 *   consumes holds one canary, not one per slot. Canaries go to the head of the queue (`lifo`): they
 *   measure whether the region's workers fetch at all, not how long its backlog is.
 * - {@link sweepCanaries}: the sweeper's step deciding which regions are stalled, each transition in an
 *   optimistic transaction that also pushes its event to the outbox, so two coordinators emit it once.
 * - {@link readCanaryStatus}: what `GET /api/agents` shows per region.
 */
import { describeZodError } from '../../lib/zod-problems.ts';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { CANARY_JOB_NAME, CanaryJob, SCHEMA_VERSION } from '../../checks/contract.ts';
import { canaryAnswerKey } from '../../checks/keys.ts';
import {
  decideRegionCanary, isStalled, parseCanaryAnswer, parseStoredRegionCanary, stallWindowMs, type StoredRegionCanary,
} from './canary.ts';
import type { RegionStallEvent } from '../events/events.ts';
import { canarySentKey, canaryStateKey, outboxKey } from '../../checks/keys.ts';
import type { Logger } from '../../lib/log.ts';
import type { TransactionRunner } from '../platform/transaction.ts';

/** The newest canary sent to a region (at `canarySentKey`): proof that canaries are being sent, and at which interval. */
export interface CanarySent {
  intervalMs: number;
  slot: number;
  sentAt: number;
}

/** Finished canaries are kept only a little: enough for a late coordinator's add of the same slot to find its job. */
export const CANARY_JOB_OPTIONS = {
  removeOnComplete: { count: 10 },
  removeOnFail: { count: 10 },
  attempts: 1,
  lifo: true,
} as const;

export const canaryJobId = (region: string, slot: number): string => `canary.${region}.${slot}`;
/** BullMQ deduplication id: while one canary of the region is unfinished, adding another adds nothing. */
export const canaryDeduplicationId = (region: string): string => `canary.${region}`;

export interface CanarySenderOptions {
  redis: Redis;
  prefix: string;
  /** Canary interval; must be positive (0, "off", means no sender is started). */
  intervalMs: number;
  /** The queue of one region (the scheduler's, so that no extra connections are opened). */
  queueFor: (region: string) => Queue;
  /** Regions to send to: those with checks or live agents. */
  regions: () => Promise<Iterable<string>>;
  logger: Logger;
  now?: () => number;
}

export class CanarySender {
  readonly #o: CanarySenderOptions;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #current: Promise<unknown> | null = null;
  #stopped = false;
  #failing = false;

  constructor(options: CanarySenderOptions) {
    if (!(options.intervalMs > 0)) throw new RangeError(`canary interval must be positive, got ${options.intervalMs}`);
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Sends now, then at the start of every following slot, until {@link stop}. */
  start(): void {
    const tick = (): void => {
      if (this.#stopped) return;
      this.#current = this.sendOnce()
        .then(() => {
          if (this.#failing) this.#o.logger.info('canary.send_recovered');
          this.#failing = false;
        })
        .catch((error: unknown) => {
          // One line per failure streak: an outage would otherwise log every interval.
          if (!this.#failing) this.#o.logger.warn('canary.send_failed', { error });
          this.#failing = true;
        })
        .finally(() => {
          this.#current = null;
          if (this.#stopped) return;
          const { intervalMs } = this.#o;
          this.#timer = setTimeout(tick, intervalMs - (this.#now() % intervalMs));
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#current;
  }

  /** Sends this slot's canary to every region; returns the regions sent to. */
  async sendOnce(): Promise<string[]> {
    const { redis, prefix, intervalMs } = this.#o;
    const now = this.#now();
    const slot = now - (now % intervalMs);
    const regions = [...new Set(await this.#o.regions())].sort();
    const sent: string[] = [];
    for (const region of regions) {
      const parsed = CanaryJob.safeParse({ schemaVersion: SCHEMA_VERSION, kind: 'canary', region, slot, intervalMs, sentAt: now });
      if (!parsed.success) {
        this.#o.logger.error('canary.invalid_job', { region, problems: describeZodError(parsed.error) });
        continue;
      }
      await this.#o.queueFor(region).add(CANARY_JOB_NAME, parsed.data, {
        ...CANARY_JOB_OPTIONS, jobId: canaryJobId(region, slot), deduplication: { id: canaryDeduplicationId(region) },
      });
      // Written after the add: "canaries are being sent" must never be claimed for one that was not.
      const record: CanarySent = { intervalMs, slot, sentAt: now };
      await redis.set(canarySentKey(prefix, region), JSON.stringify(record), 'PX', stallWindowMs(intervalMs));
      sent.push(region);
    }
    return sent;
  }
}

export function parseCanarySent(raw: string | null | undefined): CanarySent | null {
  if (raw === null || raw === undefined) return null;
  try {
    const value = JSON.parse(raw) as CanarySent;
    return value !== null && typeof value === 'object' && Number.isInteger(value.intervalMs) && value.intervalMs > 0
      && Number.isFinite(value.slot) && Number.isFinite(value.sentAt) ? value : null;
  } catch {
    return null;
  }
}

export interface CanarySweepOptions {
  redis: Redis;
  tx: TransactionRunner;
  prefix: string;
  /** Agents with a live heartbeat, by region. */
  liveAgents: ReadonlyMap<string, readonly string[]>;
  now: () => number;
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
    liveAgents: liveAgents.get(region) ?? [], now: now(),
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
