/**
 * When the monitoring itself is degraded, as a pure function: each reason (events.ts `MonitoringReason`) is
 * a condition raised once (`monitoring.degraded`) and cleared once (`monitoring.recovered`), with
 * hysteresis so a backlog hovering at its bound does not chatter. These go to the operators' route, never
 * as a target incident (events/catalog.ts).
 *
 * - `redis-failover`: the primary's `run_id` changed since the last look (a failover, or a restart from
 *   disk); cleared once the new primary has served for {@link DegradedLimits.failoverHoldMs}.
 * - `ingest-backlog`: results waiting in the results queues over a bound; cleared at half of it.
 * - `results-lag`: the oldest waiting result older than a bound; cleared at half of it.
 * - `delivery-backlog`: alert deliveries waiting over a bound, or the oldest older than one; cleared at half.
 */
import { sameCanonicalJson } from '../../lib/canonical-json.ts';
import { monitoringEventId, type MonitoringAlertEvent, type MonitoringReason } from '../events/events.ts';

export const MONITORING_REASONS: readonly MonitoringReason[] = ['redis-failover', 'ingest-backlog', 'results-lag', 'delivery-backlog'];

export interface DegradedLimits {
  /** Results waiting to be ingested (all regions). @defaultValue 1000 */
  resultsWaiting: number;
  /** Age of the oldest waiting result. @defaultValue 30000 */
  resultsLagMs: number;
  /** Alert deliveries waiting. @defaultValue 100 */
  deliveriesWaiting: number;
  /** Age of the oldest waiting delivery. @defaultValue 60000 */
  deliveryLagMs: number;
  /** How long a new primary is reported before the failover counts as over. @defaultValue 60000 */
  failoverHoldMs: number;
}

export const DEFAULT_DEGRADED_LIMITS: DegradedLimits = {
  resultsWaiting: 1_000, resultsLagMs: 30_000, deliveriesWaiting: 100, deliveryLagMs: 60_000, failoverHoldMs: 60_000,
};

/** What a coordinator read about the monitoring now. */
export interface MonitoringReading {
  /** The Redis primary serving this coordinator: its `run_id` and address; null when it could not be read. */
  primary: { runId: string; address: string } | null;
  resultsWaiting: number;
  /** Age of the oldest waiting result, ms (0 when none waits). */
  resultsLagMs: number;
  deliveriesWaiting: number;
  deliveryLagMs: number;
}

/** What the coordinators remember (one record in Redis). */
export interface StoredMonitoring {
  /** The primary last seen, and since when it serves. */
  primary: { runId: string; address: string; since: number } | null;
  /** Reasons raised now, with when and what was seen. */
  raised: Partial<Record<MonitoringReason, { since: number; detail: string }>>;
}

export const EMPTY_MONITORING: StoredMonitoring = { primary: null, raised: {} };

export interface MonitoringDecision {
  next: StoredMonitoring;
  events: MonitoringAlertEvent[];
  /** Whether `next` differs from the stored record (false: nothing to write). */
  changed: boolean;
}

const count = (n: number): string => n.toLocaleString('en-US');
const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

export function decideMonitoring(stored: StoredMonitoring, reading: MonitoringReading, now: number, limits: DegradedLimits = DEFAULT_DEGRADED_LIMITS): MonitoringDecision {
  const raised = { ...stored.raised };
  const events: MonitoringAlertEvent[] = [];
  let primary = stored.primary;
  let failoverDetail: string | null = null;
  if (reading.primary) {
    if (primary && primary.runId !== reading.primary.runId) {
      failoverDetail = primary.address === reading.primary.address
        ? `primary ${reading.primary.address} restarted`
        : `primary ${primary.address} → ${reading.primary.address}`;
    }
    if (!primary || primary.runId !== reading.primary.runId) primary = { ...reading.primary, since: now };
  }

  const raise = (reason: MonitoringReason, detail: string): void => {
    if (raised[reason]) return;
    raised[reason] = { since: now, detail };
    events.push({ id: monitoringEventId('monitoring.degraded', reason, now), type: 'monitoring.degraded', at: now, reason, since: now, detail });
  };
  const clear = (reason: MonitoringReason, detail: string): void => {
    const was = raised[reason];
    if (!was) return;
    delete raised[reason];
    events.push({ id: monitoringEventId('monitoring.recovered', reason, was.since), type: 'monitoring.recovered', at: now, reason, since: was.since, detail });
  };
  /** Raised above `limit`, cleared at or below half of it. */
  const hysteresis = (reason: MonitoringReason, over: boolean, underHalf: boolean, detail: string): void => {
    if (over) raise(reason, detail);
    else if (underHalf) clear(reason, detail);
  };

  if (failoverDetail) {
    // A second failover while the first is still reported: one condition, its detail and start renewed.
    if (raised['redis-failover']) raised['redis-failover'] = { since: raised['redis-failover'].since, detail: failoverDetail };
    raise('redis-failover', failoverDetail);
  } else if (raised['redis-failover'] && primary && now - primary.since >= limits.failoverHoldMs) {
    clear('redis-failover', `primary ${primary.address} serving for ${seconds(now - primary.since)}`);
  }
  hysteresis('ingest-backlog', reading.resultsWaiting > limits.resultsWaiting, reading.resultsWaiting <= limits.resultsWaiting / 2,
    `${count(reading.resultsWaiting)} results waiting`);
  hysteresis('results-lag', reading.resultsLagMs > limits.resultsLagMs, reading.resultsLagMs <= limits.resultsLagMs / 2,
    `oldest waiting result ${seconds(reading.resultsLagMs)} old`);
  const deliveriesOver = reading.deliveriesWaiting > limits.deliveriesWaiting || reading.deliveryLagMs > limits.deliveryLagMs;
  const deliveriesUnder = reading.deliveriesWaiting <= limits.deliveriesWaiting / 2 && reading.deliveryLagMs <= limits.deliveryLagMs / 2;
  hysteresis('delivery-backlog', deliveriesOver, deliveriesUnder,
    `${count(reading.deliveriesWaiting)} deliveries waiting, oldest ${seconds(reading.deliveryLagMs)} old`);

  const next: StoredMonitoring = { primary, raised };
  const changed = !sameCanonicalJson(next, stored);
  return { next, events, changed };
}

/** Parses the stored record; the empty one for anything missing or malformed. */
export function parseStoredMonitoring(raw: string | null): StoredMonitoring {
  if (raw === null) return EMPTY_MONITORING;
  try {
    const value = JSON.parse(raw) as StoredMonitoring;
    const primaryOk = value.primary === null || (typeof value.primary?.runId === 'string' && typeof value.primary.address === 'string' && Number.isFinite(value.primary.since));
    const raised = typeof value.raised === 'object' && value.raised !== null ? value.raised : {};
    const known = Object.fromEntries(Object.entries(raised).filter(([reason, entry]) =>
      (MONITORING_REASONS as readonly string[]).includes(reason) && Number.isFinite(entry?.since) && typeof entry?.detail === 'string'));
    return primaryOk ? { primary: value.primary, raised: known } : EMPTY_MONITORING;
  } catch {
    return EMPTY_MONITORING;
  }
}
