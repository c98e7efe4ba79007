/**
 * The agent's Prometheus metrics, in a registry of its own (never prom-client's global one, so two
 * agents in one process, as in tests, do not collide).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface AgentMetrics {
  registry: Registry;
  /** `lookout_agent_runs_total{check_type,outcome}` */
  runsTotal: Counter<'check_type' | 'outcome'>;
  /** `lookout_agent_run_duration_seconds{check_type}`: endedAt − startedAt. */
  runDuration: Histogram<'check_type'>;
  /** `lookout_agent_schedule_lateness_seconds`: startedAt − scheduledAt. */
  scheduleLateness: Histogram;
  /** `lookout_agent_runs_in_flight` */
  runsInFlight: Gauge;
  /** `lookout_agent_results_spooled`: results waiting for Redis. */
  resultsSpooled: Gauge;
  /** `lookout_agent_spool_bytes`: bytes the disk spool holds. */
  spoolBytes: Gauge;
  /** `lookout_agent_results_spooled_dropped_total{reason}`: results lost to a spool bound (capacity, bytes, age) or an unreadable or unwritable spool. */
  resultsSpooledDropped: Counter<'reason'>;
  /** `lookout_agent_invalid_jobs_total` */
  invalidJobs: Counter;
  invalidSignatures: Counter;
  runsSkipped: Counter<'reason'>;
  /** `lookout_agent_results_republished_total`: results published again after a reconnect (publisher.ts). */
  resultsRepublished: Counter;
  /** `lookout_agent_dependency_up{dependency}`: redis, worker; 1 when usable (read at each `/readyz` and scrape). */
  dependencyUp: Gauge<'dependency'>;
}

/** Identity (region, agent) is left to Prometheus target labels, as for any other exporter. */
export function createAgentMetrics(): AgentMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const metrics: AgentMetrics = {
    registry,
    runsTotal: new Counter({
      name: 'lookout_agent_runs_total', help: 'Runs finished, by check type and outcome (pass, fail, error).',
      labelNames: ['check_type', 'outcome'], registers,
    }),
    runDuration: new Histogram({
      name: 'lookout_agent_run_duration_seconds', help: 'Duration of runs as reported by the runner.',
      labelNames: ['check_type'], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers,
    }),
    scheduleLateness: new Histogram({
      name: 'lookout_agent_schedule_lateness_seconds', help: 'How long after its due time a run started.',
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60], registers,
    }),
    runsInFlight: new Gauge({ name: 'lookout_agent_runs_in_flight', help: 'Runs executing now.', registers }),
    resultsSpooled: new Gauge({ name: 'lookout_agent_results_spooled', help: 'Results kept (on disk, or in memory) until Redis accepts them.', registers }),
    spoolBytes: new Gauge({ name: 'lookout_agent_spool_bytes', help: 'Bytes the disk spool holds.', registers }),
    resultsSpooledDropped: new Counter({
      name: 'lookout_agent_results_spooled_dropped_total', labelNames: ['reason'], registers,
      help: 'Spooled results dropped, by reason: capacity (memory spool full), bytes or age (disk spool bounds), unreadable, unwritable (disk full).',
    }),
    invalidJobs: new Counter({ name: 'lookout_agent_invalid_jobs_total', help: 'Jobs rejected because their payload was invalid.', registers }),
    invalidSignatures: new Counter({ name: 'lookout_agent_invalid_job_signatures_total', help: 'Jobs refused (INVALID_JOB_SIGNATURE) because no coordinator signed them as they are, or they are for another region.', registers }),
    runsSkipped: new Counter({ name: 'lookout_agent_runs_skipped_total', help: 'Runs not started, by reason (late: taken after their slot expired).', labelNames: ['reason'], registers }),
    resultsRepublished: new Counter({ name: 'lookout_agent_results_republished_total', help: 'Results published again after the connection came back (a failover or restart may have lost them).', registers }),
    dependencyUp: new Gauge({ name: 'lookout_agent_dependency_up', help: 'Whether the agent can use a dependency now (1) or not (0): redis, worker; spool is always 1 (its detail in /readyz says how many results wait).', labelNames: ['dependency'], registers }),
  };
  // Shown at 0 from the start, so a dashboard can tell "none dropped" from "not reported".
  for (const reason of ['capacity', 'bytes', 'age', 'unreadable', 'unwritable']) metrics.resultsSpooledDropped.inc({ reason }, 0);
  metrics.runsSkipped.inc({ reason: 'late' }, 0);
  return metrics;
}
