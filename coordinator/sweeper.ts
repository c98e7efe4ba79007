/**
 * The sweeper, run every `sweepInterval` by every coordinator: the time-driven steps of each capability,
 * in order, each of which reads with a pipeline first and opens a transaction only where something changes:
 * 1. agents (liveness/agent-store.ts): expired heartbeats → `probe.offline`, returning ones → `probe.online`;
 * 2. canaries (liveness/canary-store.ts): a region whose agents heartbeat but answer no canary is stalled
 *    (`probe.stalled` once, `probe.recovered` when it answers again), and counts as having no live agent;
 * 3. checks (detection/sweep.ts): silent regions → `no-data`, time-based incident rules, removed checks;
 * 4. every `sloIntervalMs`, SLO burn-rate alerts (slo/monitor.ts);
 * 5. every `monitoringIntervalMs`, the monitoring itself (platform/degraded-store.ts): a new Redis primary,
 *    ingest and delivery backlogs → `monitoring.degraded` / `monitoring.recovered`.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../lib/log.ts';
import { sweepChecks } from './detection/sweep.ts';
import type { Transition } from './detection/check-state.ts';
import type { CheckStateStore } from './detection/store.ts';
import type { MonitoringAlertEvent, ProbeAlertEvent, RegionStallEvent, SloBurnRateEvent } from './events/events.ts';
import type { MonitoringWatch } from './platform/degraded-store.ts';
import { sweepAgents } from './liveness/agent-store.ts';
import { sweepCanaries } from './liveness/canary-store.ts';
import type { CoordinatorMetrics } from './platform/metrics.ts';
import type { TransactionRunner } from './platform/transaction.ts';
import type { CheckRegistry } from './registry/store.ts';
import { SloMonitor } from './slo/monitor.ts';
import { repeat, type Repeating } from '../lib/repeat.ts';

/** How long an offline agent stays listed before it is forgotten. */
export const AGENT_RETENTION_MS = 24 * 3_600_000;
/** How often SLO burn-rate alerts are evaluated (their shortest window is 5 minutes). */
export const SLO_INTERVAL_MS = 15_000;
/** How often the monitoring looks at itself (the Redis primary, backlogs). */
export const MONITORING_INTERVAL_MS = 2_000;

export interface SweepReport {
  /** The regions the coordinators watch, as this sweep read them. */
  watchedRegions: string[];
  /** Regions with a live heartbeat (stalled ones included). */
  liveRegions: string[];
  /** Regions whose agents heartbeat but answer no canary; their checks were swept as having no live agent. */
  stalledRegions: string[];
  agentEvents: ProbeAlertEvent[];
  /** `probe.stalled` / `probe.recovered` events committed by this sweep. */
  regionEvents: RegionStallEvent[];
  checkTransitions: Transition[];
  /** Burn-rate events committed by this sweep (none when the SLO step did not run). */
  sloEvents: SloBurnRateEvent[];
  /** `monitoring.*` events committed by this sweep (none when that step did not run). */
  monitoringEvents: MonitoringAlertEvent[];
}

export interface SweeperOptions {
  redis: Redis;
  tx: TransactionRunner;
  prefix: string;
  registry: CheckRegistry;
  store: CheckStateStore;
  metrics: CoordinatorMetrics;
  logger: Logger;
  /** Called when a sweep committed events (to kick the outbox), and after every sweep. */
  onSwept: (report: SweepReport) => void;
  /** @defaultValue {@link AGENT_RETENTION_MS} */
  agentRetentionMs?: number;
  /**
   * Since when this coordinator has seen Redis without a break (Redis time): silence before then is
   * the control plane's own, so agents, canaries and checks are judged from then. @defaultValue no bound
   */
  judgedFrom?: () => number;
  /** How often SLO burn-rate alerts are evaluated. @defaultValue {@link SLO_INTERVAL_MS} */
  sloIntervalMs?: number;
  /** Watches the monitoring itself; without it, that step is skipped. @defaultValue none */
  monitoring?: MonitoringWatch;
  /** How often it looks. @defaultValue {@link MONITORING_INTERVAL_MS} */
  monitoringIntervalMs?: number;
  now?: () => number;
}

export class Sweeper {
  readonly #o: SweeperOptions;
  readonly #now: () => number;
  #loop: Repeating | null = null;
  readonly #slo: SloMonitor;
  #lastSloAt = Number.NEGATIVE_INFINITY;
  #lastMonitoringAt = Number.NEGATIVE_INFINITY;
  /** Regions found stalled by the last canary step that succeeded. */
  #stalledRegions = new Set<string>();

  constructor(options: SweeperOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#slo = new SloMonitor({
      redis: options.redis, tx: options.tx, prefix: options.prefix, registry: options.registry,
      maintenance: options.store.maintenance, logger: options.logger, now: this.#now,
    });
  }

  /** Sweeps every `intervalMs` until {@link stop}; a sweep never overlaps the previous one. */
  start(intervalMs: number): void {
    this.#loop ??= repeat(
      async () => this.#o.onSwept(await this.sweepOnce()),
      () => intervalMs,
      (error) => this.#o.logger.warn('sweep.failed', { error }),
    );
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  #judged(): { judgedFrom?: () => number } {
    return this.#o.judgedFrom ? { judgedFrom: this.#o.judgedFrom } : {};
  }

  async sweepOnce(): Promise<SweepReport> {
    const started = performance.now();
    try {
      const { watchedRegions, liveRegions, liveAgents, events } = await sweepAgents({
        redis: this.#o.redis, tx: this.#o.tx, prefix: this.#o.prefix, metrics: this.#o.metrics, logger: this.#o.logger,
        retentionMs: this.#o.agentRetentionMs ?? AGENT_RETENTION_MS, now: this.#now, ...this.#judged(),
      });
      const canaries = await sweepCanaries({ redis: this.#o.redis, tx: this.#o.tx, prefix: this.#o.prefix, liveAgents, now: this.#now, ...this.#judged() })
        .catch((error: unknown) => {
          // The checks are still swept: with what was last known about stalls, until the next sweep knows better.
          this.#o.logger.warn('canary.sweep_failed', { error });
          return { stalledRegions: this.#stalledRegions, events: [] };
        });
      this.#stalledRegions = canaries.stalledRegions;
      for (const event of canaries.events) {
        this.#o.metrics.probeEvents.inc({ type: event.type });
        this.#o.logger.info('region.event', { eventId: event.id, type: event.type, region: event.region, agents: event.agents, reason: event.reason });
      }
      // A stalled region's agents run nothing: its checks get no data, exactly as with no live agent.
      const runningRegions = new Set([...liveRegions].filter((region) => !canaries.stalledRegions.has(region)));
      const checkTransitions = await sweepChecks({ registry: this.#o.registry, store: this.#o.store, metrics: this.#o.metrics, logger: this.#o.logger, now: this.#now, ...this.#judged() }, runningRegions);
      let sloEvents: SloBurnRateEvent[] = [];
      if (this.#now() - this.#lastSloAt >= (this.#o.sloIntervalMs ?? SLO_INTERVAL_MS)) {
        this.#lastSloAt = this.#now();
        // A failed evaluation must not cost the sweep's own report; the next interval tries again.
        sloEvents = await this.#slo.evaluateOnce().catch((error: unknown) => {
          this.#o.logger.warn('slo.evaluate_failed', { error });
          return [];
        });
      }
      let monitoringEvents: MonitoringAlertEvent[] = [];
      const monitoring = this.#o.monitoring;
      if (monitoring && this.#now() - this.#lastMonitoringAt >= (this.#o.monitoringIntervalMs ?? MONITORING_INTERVAL_MS)) {
        this.#lastMonitoringAt = this.#now();
        monitoringEvents = await monitoring.sweep(watchedRegions, this.#now()).catch((error: unknown) => {
          this.#o.logger.warn('monitoring.sweep_failed', { error });
          return [];
        });
      }
      return {
        watchedRegions, liveRegions: [...liveRegions].sort(), stalledRegions: [...canaries.stalledRegions].sort(),
        agentEvents: events, regionEvents: canaries.events, checkTransitions, sloEvents, monitoringEvents,
      };
    } finally {
      this.#o.metrics.sweepDuration.observe((performance.now() - started) / 1_000);
    }
  }
}
