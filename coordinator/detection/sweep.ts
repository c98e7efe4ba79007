/**
 * The sweeper's check step: every (check, region) without a live agent, or without a target result for
 * two intervals plus the timeout, becomes `no-data`, and the check's incident is recomputed in the same
 * transaction. The same transition applies the time-based rules: global quorum duration, reminders, the
 * end of flapping, expired confirmation runs (check-state.ts); during maintenance it holds incidents
 * back. Checks removed from the registry get their open incident resolved and their state deleted.
 * Everything is read first; a transaction opens only where something changes.
 */
import type { Logger } from '../../lib/log.ts';
import { isInMaintenance } from '../maintenance/maintenance.ts';
import type { CoordinatorMetrics } from '../platform/metrics.ts';
import type { CheckRegistry } from '../registry/store.ts';
import { emptyCheckState, sweepCheck, type Transition } from './check-state.ts';
import type { CheckStateStore } from './store.ts';

export interface CheckSweepContext {
  registry: CheckRegistry;
  store: CheckStateStore;
  metrics: CoordinatorMetrics;
  logger: Logger;
  now: () => number;
  /** Since when this coordinator has seen Redis without a break (silence counts from then). @defaultValue no bound */
  judgedFrom?: () => number;
}

/** Sweeps every check against the regions whose agents are running; returns the committed transitions. */
export async function sweepChecks(ctx: CheckSweepContext, liveRegions: ReadonlySet<string>): Promise<Transition[]> {
  const { registry, store, metrics, logger } = ctx;
  const checks = await registry.listChecks();
  const states = await store.readMany(checks.map((c) => c.definition.id));
  const windows = await store.maintenance.list();
  const transitions: Transition[] = [];
  const now = ctx.now();
  const judgedFrom = ctx.judgedFrom?.();
  for (const check of checks) {
    const id = check.definition.id;
    const context = { inMaintenance: isInMaintenance(windows, check.definition, now), ...(judgedFrom !== undefined ? { judgedFrom } : {}) };
    const preview = sweepCheck(states.get(id) ?? emptyCheckState(check), check, liveRegions, now, () => 'preview', context);
    // A state that was never written and would only be initialised needs no write either.
    if (!preview.changed || (!states.has(id) && preview.verdictChanges.length === 0 && preview.events.length === 0)) continue;
    const transition = await store.sweep(id, liveRegions, judgedFrom);
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
