/**
 * Region liveness from canaries, as pure functions. A heartbeat proves an agent process is alive, not
 * that its worker fetches jobs (BullMQ workers have been seen to stop after a Redis outage or a Sentinel
 * failover while heartbeating). The coordinators therefore send each region a canary job every canary
 * interval (canary.ts); an agent answers it at once by writing `canaryAnswerKey(prefix, region)`, which
 * expires `CANARY_STALL_FACTOR` intervals later.
 *
 * A region is watched while canaries are sent to it and it has agents with live heartbeats. A watched
 * region whose answer key is gone, and that has been watched for longer than the stall window (so a
 * region that just got its first agent, or just started receiving canaries, has time to answer), is
 * **stalled**: its checks' verdicts go `no-data` as with no live agent, and `probe.stalled` is emitted
 * once; `probe.recovered` when it answers again, or when it stops being watched (its condition cleared
 * downstream, whatever the reason).
 */
import { CANARY_STALL_FACTOR, CanaryAnswer } from '../../checks/contract.ts';
import { canonicalJson } from '../../lib/canonical-json.ts';
import { regionStallEventId, type RegionStallEvent } from '../events/events.ts';

export type RegionCanaryStatus = 'ok' | 'stalled';

/** What the coordinators remember about one watched region (a field of the canary state hash). */
export interface StoredRegionCanary {
  region: string;
  status: RegionCanaryStatus;
  /** Since when the region has been watched without a break: the stall window starts here, before a first answer. */
  watchedSince: number;
  /** When `status` last changed: while stalled, when the stall began. */
  changedAt: number;
  /** The newest answer seen (kept after its key expired, to say since when the region is silent). */
  lastAnswer: { agentId: string; slot: number; at: number } | null;
}

export interface RegionCanaryInput {
  region: string;
  stored: StoredRegionCanary | null;
  /** Interval of the canaries sent to the region; null when none are being sent (off, or no coordinator sends). */
  intervalMs: number | null;
  /** The region's answer while its key lives (an answer within the stall window); null when the key is gone. */
  answer: CanaryAnswer | null;
  /** Agents with a live heartbeat in the region. */
  liveAgents: readonly string[];
  now: number;
  /**
   * Since when the deciding coordinator has seen Redis without a break: answers could not be written or
   * read before, so the stall window starts no earlier. @defaultValue no such bound
   */
  judgedFrom?: number;
}

export type RegionCanaryDecision =
  | { kind: 'none' }
  | { kind: 'write'; state: StoredRegionCanary; event: RegionStallEvent | null }
  | { kind: 'forget'; event: RegionStallEvent | null };

/** The stall window for an interval: how long without an answer before a watched region is stalled. */
export const stallWindowMs = (intervalMs: number): number => CANARY_STALL_FACTOR * intervalMs;

/** Decides what changes for one region; `none` when nothing does (the caller then writes nothing). */
export function decideRegionCanary(input: RegionCanaryInput): RegionCanaryDecision {
  const { region, stored, intervalMs, answer, now } = input;
  const agents = [...input.liveAgents].sort();
  const watched = intervalMs !== null && intervalMs > 0 && agents.length > 0;
  if (!watched) {
    if (!stored) return { kind: 'none' };
    const event = stored.status === 'stalled'
      ? stallEvent('probe.recovered', stored, agents, intervalMs ?? 0, now, intervalMs === null || intervalMs <= 0 ? 'canaries-off' : 'no-agents')
      : null;
    return { kind: 'forget', event };
  }

  const lastAnswer = answer ? { agentId: answer.agentId, slot: answer.slot, at: answer.at } : stored?.lastAnswer ?? null;
  const watchedSince = stored?.watchedSince ?? now;
  const stalled = answer === null && now - Math.max(watchedSince, input.judgedFrom ?? Number.NEGATIVE_INFINITY) > stallWindowMs(intervalMs);
  const status: RegionCanaryStatus = stalled ? 'stalled' : 'ok';
  const previous = stored?.status ?? 'ok';
  const next: StoredRegionCanary = {
    region, status, watchedSince, changedAt: stored && previous === status ? stored.changedAt : now, lastAnswer,
  };
  if (stored && canonicalJson(stored) === canonicalJson(next)) return { kind: 'none' };

  let event: RegionStallEvent | null = null;
  if (previous === 'ok' && status === 'stalled') event = stallEvent('probe.stalled', next, agents, intervalMs, now);
  else if (previous === 'stalled' && status === 'ok') event = stallEvent('probe.recovered', { ...next, changedAt: stored!.changedAt }, agents, intervalMs, now, 'answered');
  return { kind: 'write', state: next, event };
}

/** Whether a region counts as stalled (its verdicts go `no-data`). */
export const isStalled = (state: StoredRegionCanary | null | undefined): boolean => state?.status === 'stalled';

function stallEvent(
  type: RegionStallEvent['type'], state: StoredRegionCanary, agents: string[], intervalMs: number, now: number,
  reason?: NonNullable<RegionStallEvent['reason']>,
): RegionStallEvent {
  return {
    id: regionStallEventId(type, state.region, now), type, at: now, region: state.region,
    lastAnswerAt: state.lastAnswer?.at ?? null, lastAnswerAgentId: state.lastAnswer?.agentId ?? null,
    agents, canaryIntervalMs: intervalMs,
    // On probe.stalled the stall begins now; on probe.recovered `state.changedAt` is when it began.
    stalledSince: type === 'probe.stalled' ? now : state.changedAt,
    ...(reason ? { reason } : {}),
  };
}

/** Parses a stored region record; null for anything missing or malformed (the region is then watched afresh). */
export function parseStoredRegionCanary(raw: string | null | undefined): StoredRegionCanary | null {
  if (raw === null || raw === undefined) return null;
  try {
    const value = JSON.parse(raw) as StoredRegionCanary;
    const ok = value !== null && typeof value === 'object' && typeof value.region === 'string'
      && (value.status === 'ok' || value.status === 'stalled')
      && Number.isFinite(value.watchedSince) && Number.isFinite(value.changedAt);
    return ok ? { ...value, lastAnswer: value.lastAnswer ?? null } : null;
  } catch {
    return null;
  }
}

/** Parses an agent's answer; null for anything missing or not matching the contract. */
export function parseCanaryAnswer(raw: string | null | undefined, region: string): CanaryAnswer | null {
  if (raw === null || raw === undefined) return null;
  try {
    const parsed = CanaryAnswer.safeParse(JSON.parse(raw));
    return parsed.success && parsed.data.region === region ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The newest canary sent to a region (at `canarySentKey`): proof that canaries are being sent, and at which interval. */
export interface CanarySent {
  intervalMs: number;
  slot: number;
  sentAt: number;
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
