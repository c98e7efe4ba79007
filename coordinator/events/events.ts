/**
 * Events the coordinator emits for delivery to alert channels. Every event has a deterministic `id`,
 * so that a replay (a coordinator crashing between deciding and delivering, or two coordinators
 * racing) can be recognised and delivered once.
 */
import type { Incident, IncidentEventType } from '../detection/incident.ts';
import type { DegradedReason } from '../detection/policy.ts';
import type { SliKind } from '../slo/slo.ts';

export type ProbeEventType = 'probe.offline' | 'probe.online';
export type AlertEventType = IncidentEventType | ProbeEventType;

export interface IncidentAlertEvent {
  /** `${incident.id}:${incident.seq}` */
  id: string;
  type: IncidentEventType;
  at: number;
  check: { id: string; name: string };
  incident: Incident;
  /** Set on the `incident.updated` that turned a regional incident global. */
  escalated?: true;
}

export interface ProbeAlertEvent {
  /** `${type}:${agentId}:${at}` */
  id: string;
  type: ProbeEventType;
  at: number;
  agent: { agentId: string; region: string; lastSeenAt: number };
}

export type AlertEvent = IncidentAlertEvent | ProbeAlertEvent;

/** The incident lifecycle types (a reminder carries an incident too, but is not one of them). */
export const INCIDENT_EVENT_TYPES = ['incident.opened', 'incident.updated', 'incident.resolved'] as const satisfies readonly IncidentEventType[];

export const incidentEventId = (incident: Incident): string => `${incident.id}:${incident.seq}`;

// ---------------------------------------------------------------------------------------------
// Alert-policy events (reminders, flapping, degraded, SLO burn rates). They travel the same path
// (outbox → delivery) as the events above, whose shapes they leave untouched.
// ---------------------------------------------------------------------------------------------

export type PolicyEventType = 'incident.reminder' | 'check.flapping' | 'check.degraded' | 'check.recovered' | 'slo.burn_rate';

/** An incident is still open `reminderEveryMs` after the last notification about it. */
export interface IncidentReminderEvent {
  /** `${incident.id}:reminder:${reminder}` */
  id: string;
  type: 'incident.reminder';
  at: number;
  check: { id: string; name: string };
  incident: Incident;
  /** 1 for the first reminder of this incident, then 2, … */
  reminder: number;
}

/** A region started flapping (one notice, then silence about it) or is stable again. */
export interface FlappingAlertEvent {
  /** `check.flapping:${checkId}:${region}:${flappingSince}:${state}` */
  id: string;
  type: 'check.flapping';
  at: number;
  check: { id: string; name: string };
  region: string;
  state: 'started' | 'ended';
  /** When flapping started. */
  flappingSince: number;
  /** The region's verdict status now. */
  status: string;
}

/** A region became degraded (`check.degraded`) or clean again (`check.recovered`); only with `alerting.notifyDegraded`. */
export interface DegradedAlertEvent {
  /** `${type}:${checkId}:${region}:${at}` */
  id: string;
  type: 'check.degraded' | 'check.recovered';
  at: number;
  check: { id: string; name: string };
  region: string;
  /** Why the run that degraded the region did (null on `check.recovered`, or when a sweep noticed it). */
  reason: DegradedReason | null;
}

/** A multiwindow burn-rate rule of an SLO fired or resolved. */
export interface SloBurnRateEvent {
  /** `slo.burn_rate:${checkId}:${sli}:${rule}:${firedAt}:${state}` */
  id: string;
  type: 'slo.burn_rate';
  at: number;
  check: { id: string; name: string };
  state: 'fired' | 'resolved';
  firedAt: number;
  slo: { sli: SliKind; objective: number; windowMs: number; thresholdMs: number | null };
  rule: { name: string; longWindowMs: number; shortWindowMs: number; factor: number };
  /** Burn rates over the rule's windows when it changed (null: no events in the window). */
  burnRate: { long: number | null; short: number | null };
}

export type PolicyAlertEvent = IncidentReminderEvent | FlappingAlertEvent | DegradedAlertEvent | SloBurnRateEvent;

// ---------------------------------------------------------------------------------------------
// Region liveness from canaries (canary-state.ts): a region whose agents heartbeat but answer no
// canary is stalled; its checks show no data, and this condition says why.
// ---------------------------------------------------------------------------------------------

export type RegionStallEventType = 'probe.stalled' | 'probe.recovered';

/** A region's agents stopped answering canaries while heartbeating (`probe.stalled`), or that ended (`probe.recovered`). */
export interface RegionStallEvent {
  /** `${type}:${region}:${at}` */
  id: string;
  type: RegionStallEventType;
  at: number;
  region: string;
  /** When an agent of the region last answered a canary (the agent's clock); null when none did since the region was watched. */
  lastAnswerAt: number | null;
  /** The agent that gave that answer; null with `lastAnswerAt`. */
  lastAnswerAgentId: string | null;
  /** Agents with a live heartbeat in the region, sorted: on `probe.stalled`, the ones that heartbeat but do not consume. */
  agents: string[];
  /** How often canaries are sent; the region stalls after `CANARY_STALL_FACTOR` intervals without an answer. */
  canaryIntervalMs: number;
  /** When the stall began (the `at` of its `probe.stalled`). */
  stalledSince: number;
  /**
   * `probe.recovered` only: `answered` (a canary was answered again), `no-agents` (no heartbeat is left
   * in the region: `probe.offline` takes over), `canaries-off` (no coordinator sends canaries any more).
   */
  reason?: 'answered' | 'no-agents' | 'canaries-off';
}

// ---------------------------------------------------------------------------------------------
// The monitoring itself (platform/degraded.ts): Lookout telling its operators that it is degraded, never
// a target incident. One condition per reason, raised once and cleared once.
// ---------------------------------------------------------------------------------------------

export type MonitoringEventType = 'monitoring.degraded' | 'monitoring.recovered';
/**
 * What degrades the monitoring: `redis-failover` (a new Redis primary: a failover or a restart), `ingest-backlog`
 * (results waiting to be ingested past a bound), `results-lag` (the oldest waiting result is older than a
 * bound), `delivery-backlog` (alert deliveries waiting past a bound).
 */
export type MonitoringReason = 'redis-failover' | 'ingest-backlog' | 'results-lag' | 'delivery-backlog';

export interface MonitoringAlertEvent {
  /** `${type}:${reason}:${since}` */
  id: string;
  type: MonitoringEventType;
  at: number;
  reason: MonitoringReason;
  /** When the condition was raised (on `monitoring.recovered`, how long it lasted is `at - since`). */
  since: number;
  /** What was seen, for people: `primary 10.0.0.5:6379 → 10.0.0.6:6379`, `1,204 results waiting`. */
  detail: string;
}

export const monitoringEventId = (type: MonitoringEventType, reason: MonitoringReason, since: number): string => `${type}:${reason}:${since}`;

export const reminderEventId = (incident: Incident, reminder: number): string => `${incident.id}:reminder:${reminder}`;
export const flappingEventId = (checkId: string, region: string, flappingSince: number, state: 'started' | 'ended'): string =>
  `check.flapping:${checkId}:${region}:${flappingSince}:${state}`;
export const degradedEventId = (type: DegradedAlertEvent['type'], checkId: string, region: string, at: number): string => `${type}:${checkId}:${region}:${at}`;
export const burnRateEventId = (checkId: string, sli: SliKind, rule: string, firedAt: number, state: 'fired' | 'resolved'): string =>
  `slo.burn_rate:${checkId}:${sli}:${rule}:${firedAt}:${state}`;
export const probeEventId = (type: ProbeEventType, agentId: string, at: number): string => `${type}:${agentId}:${at}`;
export const regionStallEventId = (type: RegionStallEventType, region: string, at: number): string => `${type}:${region}:${at}`;
