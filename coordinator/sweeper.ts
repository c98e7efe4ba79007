/**
 * The sweeper, run every `sweepInterval` by every coordinator:
 * 1. agents: an agent whose heartbeat key expired goes `offline` (`probe.offline`, once), a returning one
 *    `online` (`probe.online`); each transition is an optimistic transaction that also watches the
 *    heartbeat key, so two coordinators emit an event once and never against a fresh heartbeat.
 *    Agents offline for longer than the retention are forgotten.
 * 2. canaries (canary.ts): a region whose agents heartbeat but answer no canary is stalled
 *    (`probe.stalled` once, `probe.recovered` when it answers again), and counts as having no live agent.
 * 3. verdicts: every (check, region) without a live agent, or without a target result for two intervals
 *    plus the timeout, becomes `no-data`, and the check's incident is recomputed in the same transaction.
 *    The same transition applies the time-based rules: global quorum duration, reminders, the end of
 *    flapping, expired confirmation runs (see check-state.ts); during maintenance it holds incidents back.
 * 4. checks removed from the registry get their open incident resolved and their state deleted.
 * 5. every `sloIntervalMs`, SLO burn-rate alerts are evaluated (slo-monitor.ts).
 * Each step reads everything with a pipeline first and only opens a transaction where something changes.
 */
import type { Redis } from 'ioredis';
import { type Heartbeat } from '../checks/contract.ts';
import { agentIndexKey, heartbeatKey } from '../checks/keys.ts';
import { decideAgent, parseHeartbeat, parseStoredAgent } from './liveness/agents.ts';
import { sweepCanaries } from './liveness/canary-store.ts';
import { emptyCheckState, sweepCheck, type Transition } from './detection/check-state.ts';
import type { ProbeAlertEvent, RegionStallEvent, SloBurnRateEvent } from './events/events.ts';
import { agentStateKey, outboxKey } from '../checks/keys.ts';
import type { Logger } from '../lib/log.ts';
import { isInMaintenance } from './maintenance/maintenance.ts';
import type { CoordinatorMetrics } from './platform/metrics.ts';
import type { Registry } from './registry/store.ts';
import { SloMonitor } from './slo/monitor.ts';
import type { CheckStateStore } from './detection/store.ts';
import type { TransactionRunner } from './platform/transaction.ts';

/** How long an offline agent stays listed before it is forgotten. */
export const AGENT_RETENTION_MS = 24 * 3_600_000;
/** How often SLO burn-rate alerts are evaluated (their shortest window is 5 minutes). */
export const SLO_INTERVAL_MS = 15_000;

export interface SweepReport {
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
}

export interface SweeperOptions {
  redis: Redis;
  tx: TransactionRunner;
  prefix: string;
  registry: Registry;
  store: CheckStateStore;
  metrics: CoordinatorMetrics;
  logger: Logger;
  /** Called when a sweep committed events (to kick the outbox), and after every sweep. */
  onSwept: (report: SweepReport) => void;
  /** @defaultValue {@link AGENT_RETENTION_MS} */
  agentRetentionMs?: number;
  /** How often SLO burn-rate alerts are evaluated. @defaultValue {@link SLO_INTERVAL_MS} */
  sloIntervalMs?: number;
  now?: () => number;
}

export class Sweeper {
  readonly #o: SweeperOptions;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #current: Promise<unknown> | null = null;
  #stopped = false;
  readonly #slo: SloMonitor;
  #lastSloAt = Number.NEGATIVE_INFINITY;
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
    const tick = (): void => {
      if (this.#stopped) return;
      this.#current = this.sweepOnce()
        .then((report) => this.#o.onSwept(report))
        .catch((error) => this.#o.logger.warn('sweep.failed', { error }))
        .finally(() => {
          this.#current = null;
          if (!this.#stopped) this.#timer = setTimeout(tick, intervalMs);
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#current;
  }

  async sweepOnce(): Promise<SweepReport> {
    const started = performance.now();
    try {
      const { liveRegions, liveAgents, events } = await this.#sweepAgents();
      const canaries = await sweepCanaries({ redis: this.#o.redis, tx: this.#o.tx, prefix: this.#o.prefix, liveAgents, now: this.#now })
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
      const checkTransitions = await this.#sweepChecks(runningRegions);
      let sloEvents: SloBurnRateEvent[] = [];
      if (this.#now() - this.#lastSloAt >= (this.#o.sloIntervalMs ?? SLO_INTERVAL_MS)) {
        this.#lastSloAt = this.#now();
        // A failed evaluation must not cost the sweep's own report; the next interval tries again.
        sloEvents = await this.#slo.evaluateOnce().catch((error: unknown) => {
          this.#o.logger.warn('slo.evaluate_failed', { error });
          return [];
        });
      }
      return {
        liveRegions: [...liveRegions].sort(), stalledRegions: [...canaries.stalledRegions].sort(),
        agentEvents: events, regionEvents: canaries.events, checkTransitions, sloEvents,
      };
    } finally {
      this.#o.metrics.sweepDuration.observe((performance.now() - started) / 1_000);
    }
  }

  async #sweepAgents(): Promise<{ liveRegions: Set<string>; liveAgents: Map<string, string[]>; events: ProbeAlertEvent[] }> {
    const { redis, prefix, tx } = this.#o;
    const retentionMs = this.#o.agentRetentionMs ?? AGENT_RETENTION_MS;
    const agentIds = await redis.smembers(agentIndexKey(prefix));
    const liveRegions = new Set<string>();
    const liveAgents = new Map<string, string[]>();
    const events: ProbeAlertEvent[] = [];
    if (agentIds.length === 0) return { liveRegions, liveAgents, events };

    const pipeline = redis.pipeline();
    for (const id of agentIds) pipeline.get(heartbeatKey(prefix, id)).get(agentStateKey(prefix, id));
    const replies = (await pipeline.exec()) ?? [];
    for (let i = 0; i < agentIds.length; i++) {
      const agentId = agentIds[i]!;
      const heartbeat = this.#heartbeat(agentId, replies[2 * i]?.[1] as string | null);
      const stored = parseStoredAgent(replies[2 * i + 1]?.[1] as string | null);
      if (heartbeat) {
        liveRegions.add(heartbeat.region);
        liveAgents.set(heartbeat.region, [...(liveAgents.get(heartbeat.region) ?? []), agentId]);
      }
      if (decideAgent(agentId, stored, heartbeat, this.#now(), retentionMs).kind === 'none') continue;

      // Something changes: decide again under WATCH, from a fresh read.
      const stateKey = agentStateKey(prefix, agentId);
      const hbKey = heartbeatKey(prefix, agentId);
      const event = await tx.run([stateKey, hbKey], async (conn) => {
        const [rawHb, rawStored] = await Promise.all([conn.get(hbKey), conn.get(stateKey)]);
        const decision = decideAgent(agentId, parseStoredAgent(rawStored), this.#heartbeat(agentId, rawHb), this.#now(), retentionMs);
        if (decision.kind === 'none') return { result: null };
        if (decision.kind === 'forget') {
          return { result: null, write: (multi) => { multi.del(stateKey); multi.srem(agentIndexKey(prefix), agentId); } };
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
        this.#o.metrics.probeEvents.inc({ type: event.type });
        this.#o.logger.info('agent.event', { eventId: event.id, type: event.type, agentId, region: event.agent.region });
      }
    }
    return { liveRegions, liveAgents, events };
  }

  /** A heartbeat that does not match the contract counts as absent (and is logged). */
  #heartbeat(agentId: string, raw: string | null): Heartbeat | null {
    const heartbeat = parseHeartbeat(raw);
    if (raw !== null && heartbeat === null) this.#o.logger.warn('agent.invalid_heartbeat', { agentId });
    return heartbeat;
  }

  async #sweepChecks(liveRegions: ReadonlySet<string>): Promise<Transition[]> {
    const { registry, store, metrics, logger } = this.#o;
    const checks = await registry.listChecks();
    const states = await store.readMany(checks.map((c) => c.definition.id));
    const windows = await store.maintenance.list();
    const transitions: Transition[] = [];
    const now = this.#now();
    for (const check of checks) {
      const id = check.definition.id;
      const context = { inMaintenance: isInMaintenance(windows, check.definition, now) };
      const preview = sweepCheck(states.get(id) ?? emptyCheckState(check), check, liveRegions, now, () => 'preview', context);
      // A state that was never written and would only be initialised needs no write either.
      if (!preview.changed || (!states.has(id) && preview.verdictChanges.length === 0 && preview.events.length === 0)) continue;
      const transition = await store.sweep(id, liveRegions);
      if (!transition?.changed) continue;
      transitions.push(transition);
      for (const change of transition.verdictChanges) {
        metrics.verdictChanges.inc({ to: change.to });
        logger.info('verdict.changed', { checkId: id, ...change, reason: 'sweep' });
      }
      for (const event of transition.events) metrics.incidentEvents.inc({ type: event.type });
    }

    const registered = new Set(checks.map((c) => c.definition.id));
    for (const checkId of await store.checksWithOpenIncidents()) {
      if (registered.has(checkId)) continue;
      const transition = await store.retire(checkId);
      if (transition) {
        transitions.push(transition);
        for (const event of transition.events) metrics.incidentEvents.inc({ type: event.type });
        logger.info('check.retired', { checkId });
      }
    }
    return transitions;
  }
}

