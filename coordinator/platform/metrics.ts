/**
 * Prometheus metrics of one coordinator, in a registry of its own (not prom-client's global one), so
 * several coordinators in one process (tests) never share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface CoordinatorMetrics {
  registry: Registry;
  resultsIngested: Counter<'outcome'>;
  duplicateResults: Counter;
  invalidResults: Counter;
  ignoredResults: Counter<'reason'>;
  verdictChanges: Counter<'to'>;
  incidentEvents: Counter<'type'>;
  probeEvents: Counter<'type'>;
  openIncidents: Gauge;
  ingestDuration: Histogram;
  reconciles: Counter;
  schedulerChanges: Counter<'action'>;
  runsIssued: Counter<'trigger'>;
  runsNotIssued: Counter<'reason'>;
  invalidSlots: Counter<'reason'>;
  transactionConflicts: Counter;
  outboxMoved: Counter;
  sweepDuration: Histogram;
  unansweredDecisions: Counter<'decision'>;
  /** `lookout_dependency_up{dependency}`: 1 when this coordinator can use it (redis, ingest, delivery, …), as `/readyz` says. */
  dependencyUp: Gauge<'dependency'>;
  /** `lookout_monitoring_degraded{reason}`: 1 while the monitoring is degraded for that reason (platform/degraded.ts). */
  monitoringDegraded: Gauge<'reason'>;
  monitoringEvents: Counter<'type' | 'reason'>;
  /** Results waiting in every watched region's results queue. */
  resultsWaiting: Gauge;
  /** How long the result at the head of a results queue has waited (the longest of all regions), seconds. */
  resultsLag: Gauge;
  /** Alert deliveries waiting. */
  deliveriesWaiting: Gauge;
}

/**
 * `countOpenIncidents` is read at scrape time, so the gauge shows the whole fleet's number. `registry`
 * lets the process put other modules' metrics (alert delivery) on the same `/metrics`.
 */
export function createMetrics(countOpenIncidents: () => Promise<number>, registry: Registry = new Registry()): CoordinatorMetrics {
  collectDefaultMetrics({ register: registry, prefix: 'lookout_coordinator_' });
  const registers = [registry];
  return {
    registry,
    resultsIngested: new Counter({ name: 'lookout_results_ingested_total', help: 'Run results ingested, by outcome (duplicates excluded).', labelNames: ['outcome'], registers }),
    duplicateResults: new Counter({ name: 'lookout_results_duplicate_total', help: 'Run results ignored because the same (check, region, slot, trigger) was already ingested.', registers }),
    invalidResults: new Counter({ name: 'lookout_results_invalid_total', help: 'Run results refused because they do not match the contract.', registers }),
    ignoredResults: new Counter({ name: 'lookout_results_ignored_total', help: 'Valid run results ignored, by reason (unknown_check, unknown_region).', labelNames: ['reason'], registers }),
    verdictChanges: new Counter({ name: 'lookout_verdict_changes_total', help: 'Verdict changes of (check, region) pairs, by new status.', labelNames: ['to'], registers }),
    incidentEvents: new Counter({ name: 'lookout_incident_events_total', help: 'Incident events committed to the outbox by this coordinator, by type.', labelNames: ['type'], registers }),
    probeEvents: new Counter({ name: 'lookout_probe_events_total', help: 'Probe events (agent online/offline, region stalled/recovered) committed to the outbox by this coordinator, by type.', labelNames: ['type'], registers }),
    openIncidents: new Gauge({
      name: 'lookout_open_incidents', help: 'Incidents open now (all coordinators).', registers,
      async collect() { this.set(await countOpenIncidents()); },
    }),
    ingestDuration: new Histogram({ name: 'lookout_ingest_duration_seconds', help: 'Time to ingest one run result.', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers }),
    reconciles: new Counter({ name: 'lookout_scheduler_reconciles_total', help: 'Scheduler reconciliations run.', registers }),
    schedulerChanges: new Counter({ name: 'lookout_scheduler_changes_total', help: 'Scheduled (check, region) pairs changed by reconciliation, by action (upserted, removed).', labelNames: ['action'], registers }),
    runsIssued: new Counter({ name: 'lookout_runs_issued_total', help: 'Runs this coordinator added to region queues (slots it claimed), by trigger.', labelNames: ['trigger'], registers }),
    runsNotIssued: new Counter({ name: 'lookout_runs_not_issued_total', help: 'Scheduled runs not issued, by reason (no_agent: the region had no live, consuming agent; missed: the coordinators reached the slot too late, e.g. Redis was away).', labelNames: ['reason'], registers }),
    invalidSlots: new Counter({ name: 'lookout_results_refused_total', help: 'Results refused at ingest because of the slot they claim to answer, by reason (unsigned, bad_signature, expired_region_mismatch).', labelNames: ['reason'], registers }),
    transactionConflicts: new Counter({ name: 'lookout_transaction_conflicts_total', help: 'Optimistic transactions retried because another client changed a watched key.', registers }),
    outboxMoved: new Counter({ name: 'lookout_outbox_delivered_total', help: 'Alert events moved from the outbox to delivery.', registers }),
    sweepDuration: new Histogram({ name: 'lookout_sweep_duration_seconds', help: 'Time of one sweep of agents and verdicts.', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers }),
    unansweredDecisions: new Counter({
      name: 'lookout_unanswered_run_decisions_total',
      help: 'Decisions about runs still unanswered after their budget: confirm (confirmation runs started early), wait, answered, expired, already-confirmed, not-applicable.',
      labelNames: ['decision'], registers,
    }),
    dependencyUp: new Gauge({ name: 'lookout_dependency_up', help: 'Whether this coordinator can use a dependency now (1) or not (0): redis (the primary, writable), ingest, delivery.', labelNames: ['dependency'], registers }),
    monitoringDegraded: new Gauge({ name: 'lookout_monitoring_degraded', help: 'Whether the monitoring itself is degraded, by reason (redis-failover, ingest-backlog, results-lag, delivery-backlog).', labelNames: ['reason'], registers }),
    monitoringEvents: new Counter({ name: 'lookout_monitoring_events_total', help: 'monitoring.degraded / monitoring.recovered events committed by this coordinator, by type and reason.', labelNames: ['type', 'reason'], registers }),
    resultsWaiting: new Gauge({ name: 'lookout_results_waiting', help: 'Results waiting in the results queues of every watched region.', registers }),
    resultsLag: new Gauge({ name: 'lookout_results_lag_seconds', help: 'How long the result at the head of a results queue has waited (the longest of all regions).', registers }),
    deliveriesWaiting: new Gauge({ name: 'lookout_alert_deliveries_waiting', help: 'Alert deliveries waiting to be sent.', registers }),
  };
}
