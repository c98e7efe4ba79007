/**
 * What the coordinators remember about each agent, and its transitions, as a pure function. An agent is
 * `online` while its heartbeat key exists; when the key expires it goes `offline` (emitting
 * `probe.offline` once), and back `online` when it returns (`probe.online`). An agent offline for longer
 * than the retention is forgotten.
 *
 * Heartbeat keys also vanish when the control plane itself was away (Redis restarted, failed over, or
 * this coordinator lost it): they expired while nobody could renew them. So a missing heartbeat counts
 * only once the coordinator has seen Redis for a whole heartbeat lifetime since it came back
 * ({@link heldOnline}): agents that kept running beat again within that time and never go offline.
 */
import { HEARTBEAT_TTL_MS, Heartbeat } from '../../checks/contract.ts';
import { MAX_HEARTBEAT_BYTES } from '../../checks/limits.ts';
import { probeEventId, type ProbeAlertEvent } from '../events/events.ts';

export type AgentStatus = 'online' | 'offline';

export interface StoredAgent {
  agentId: string;
  region: string;
  status: AgentStatus;
  /** `sentAt` of the newest heartbeat seen; null when the agent was never seen alive by a coordinator. */
  lastSeenAt: number | null;
  /** When `status` last changed. */
  changedAt: number;
  /** The newest heartbeat seen, kept so that an offline agent can still be described. */
  heartbeat: Heartbeat | null;
}

export type AgentDecision =
  | { kind: 'none' }
  | { kind: 'write'; agent: StoredAgent; event: ProbeAlertEvent | null }
  | { kind: 'forget' };

/**
 * Whether an online agent whose heartbeat key is gone still counts as online: the coordinator has seen
 * Redis only since `judgedFrom`, less than a heartbeat lifetime ago, so the key may have expired while
 * the control plane was away and the agent not had its turn to write it again.
 */
export function heldOnline(stored: StoredAgent | null, heartbeat: Heartbeat | null, now: number, judgedFrom: number): boolean {
  return heartbeat === null && stored?.status === 'online' && now - judgedFrom < HEARTBEAT_TTL_MS;
}

/**
 * Decides what to do about one agent given what is stored and its current heartbeat (null when the
 * heartbeat key is gone). `judgedFrom`: since when the deciding coordinator has seen Redis without a
 * break (see {@link heldOnline}). @defaultValue no such bound
 */
export function decideAgent(
  agentId: string, stored: StoredAgent | null, heartbeat: Heartbeat | null, now: number, retentionMs: number, judgedFrom = Number.NEGATIVE_INFINITY,
): AgentDecision {
  if (heldOnline(stored, heartbeat, now, judgedFrom)) return { kind: 'none' };
  if (heartbeat) {
    const seen: StoredAgent = { agentId, region: heartbeat.region, status: 'online', lastSeenAt: heartbeat.sentAt, changedAt: now, heartbeat };
    if (!stored) return { kind: 'write', agent: seen, event: null };
    if (stored.status === 'offline') {
      return { kind: 'write', agent: seen, event: probeEvent('probe.online', agentId, heartbeat.region, heartbeat.sentAt, now) };
    }
    // Still online: refresh what we remember only when the agent has said something new.
    if (stored.lastSeenAt !== null && heartbeat.sentAt <= stored.lastSeenAt && stored.region === heartbeat.region) return { kind: 'none' };
    return { kind: 'write', agent: { ...seen, changedAt: stored.changedAt }, event: null };
  }
  if (!stored) {
    // Listed but never seen alive by any coordinator (it died before we started): remember it, quietly.
    return { kind: 'write', agent: { agentId, region: 'unknown', status: 'offline', lastSeenAt: null, changedAt: now, heartbeat: null }, event: null };
  }
  if (stored.status === 'online') {
    const lastSeenAt = stored.lastSeenAt ?? stored.changedAt;
    return { kind: 'write', agent: { ...stored, status: 'offline', changedAt: now }, event: probeEvent('probe.offline', agentId, stored.region, lastSeenAt, now) };
  }
  return now - stored.changedAt > retentionMs ? { kind: 'forget' } : { kind: 'none' };
}

function probeEvent(type: ProbeAlertEvent['type'], agentId: string, region: string, lastSeenAt: number, now: number): ProbeAlertEvent {
  return { id: probeEventId(type, agentId, now), type, at: now, agent: { agentId, region, lastSeenAt } };
}

/** Parses a stored heartbeat or agent record; null for anything missing or not matching the contract. */
/**
 * A heartbeat read from `agents.<region>:hb:<agentId>`, valid only if it matches the contract and names
 * the agent and region of its key: agents write their own region's namespace, and a heartbeat there
 * must not speak for another agent or region.
 */
export function parseHeartbeat(raw: string | null, where?: { region: string; agentId: string }): Heartbeat | null {
  if (raw === null) return null;
  // Anyone holding an agent's credentials writes this key: bound what is parsed.
  if (raw.length > MAX_HEARTBEAT_BYTES || Buffer.byteLength(raw) > MAX_HEARTBEAT_BYTES) return null;
  try {
    const parsed = Heartbeat.safeParse(JSON.parse(raw));
    if (!parsed.success) return null;
    if (where && (parsed.data.region !== where.region || parsed.data.agentId !== where.agentId)) return null;
    return parsed.data;
  } catch {
    return null;
  }
}

export function parseStoredAgent(raw: string | null): StoredAgent | null {
  if (raw === null) return null;
  try {
    const value = JSON.parse(raw) as StoredAgent;
    return value && typeof value.agentId === 'string' && (value.status === 'online' || value.status === 'offline') ? value : null;
  } catch {
    return null;
  }
}
