/**
 * Evaluates the burn-rate alerts of every check with an SLO (run by the sweeper every `sloInterval`):
 * reads the minute rollups of all of them with one pipeline, decides with slo-alerts.ts, and commits
 * each change in an optimistic transaction on the alert hash that also pushes the `slo.burn_rate`
 * events into the outbox (so racing coordinators emit each event once). Checks in maintenance are
 * skipped (their alerts neither fire nor resolve); alerts of checks that are gone or lost their SLO resolve.
 */
import type { Redis } from 'ioredis';
import type { StoredCheck } from '../../checks/contract.ts';
import type { SloBurnRateEvent } from '../events/events.ts';
import { outboxKey, sloAlertsKey } from '../../checks/keys.ts';
import type { Logger } from '../../lib/log.ts';
import { isInMaintenance } from '../maintenance/maintenance.ts';
import type { MaintenanceStore } from '../maintenance/store.ts';
import { resolvePolicy } from '../detection/policy.ts';
import type { CheckRegistry } from '../registry/store.ts';
import { decideBurnAlerts, type BurnRatesBySli, type StoredSloAlerts } from './alerts.ts';
import { readBurnWindows } from './data.ts';
import { BURN_RATE_WINDOWS, burnRates, type BurnRateWindow } from './slo.ts';
import { pairKey } from '../results/stats.ts';
import type { TransactionRunner } from '../platform/transaction.ts';
import { mergeRollups, type Rollup } from '../results/uptime.ts';

export interface SloMonitorOptions {
  redis: Redis;
  tx: TransactionRunner;
  prefix: string;
  registry: CheckRegistry;
  maintenance: MaintenanceStore;
  logger: Logger;
  now?: () => number;
}

export class SloMonitor {
  readonly #o: SloMonitorOptions;
  readonly #now: () => number;

  constructor(options: SloMonitorOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** One evaluation of every check; returns the events committed. */
  async evaluateOnce(): Promise<SloBurnRateEvent[]> {
    const { redis, prefix, registry, maintenance } = this.#o;
    const now = this.#now();
    const withSlo = (await registry.listChecks()).filter((c) => resolvePolicy(c.definition).slo?.burnRateAlerts === true);
    const [stored, windows] = await Promise.all([redis.hgetall(sloAlertsKey(prefix)), maintenance.list()]);
    const pairs = withSlo.flatMap((c) => c.definition.regions.map((region) => ({ checkId: c.definition.id, region })));
    const rollups = await readBurnWindows(redis, prefix, pairs, now);

    const events: SloBurnRateEvent[] = [];
    for (const check of withSlo) {
      if (isInMaintenance(windows, check.definition, now)) continue;
      const rates = checkBurnRates(check, rollups);
      const preview = decideBurnAlerts(parseAlerts(stored[check.definition.id]), check.definition, resolvePolicy(check.definition).slo, rates, now);
      if (preview.events.length === 0) continue;
      events.push(...await this.#commit(check.definition.id, (current) => decideBurnAlerts(current, check.definition, resolvePolicy(check.definition).slo, rates, now)));
    }
    const evaluated = new Set(withSlo.map((c) => c.definition.id));
    for (const checkId of Object.keys(stored)) {
      if (evaluated.has(checkId)) continue;
      // Gone, or no SLO alerts any more: what still fires resolves.
      events.push(...await this.#commit(checkId, (current) => decideBurnAlerts(current, { id: checkId, name: current?.checkName ?? checkId }, null, {}, now)));
    }
    for (const event of events) {
      this.#o.logger.info('slo.burn_rate', { eventId: event.id, checkId: event.check.id, sli: event.slo.sli, rule: event.rule.name, state: event.state, burnRate: event.burnRate });
    }
    return events;
  }

  async #commit(checkId: string, decide: (current: StoredSloAlerts | null) => ReturnType<typeof decideBurnAlerts>): Promise<SloBurnRateEvent[]> {
    const key = sloAlertsKey(this.#o.prefix);
    return this.#o.tx.run([key], async (conn) => {
      const { next, events } = decide(parseAlerts(await conn.hget(key, checkId)));
      if (events.length === 0) return { result: [] };
      return {
        result: events,
        write: (multi) => {
          if (next) multi.hset(key, checkId, JSON.stringify(next));
          else multi.hdel(key, checkId);
          for (const event of events) multi.lpush(outboxKey(this.#o.prefix), JSON.stringify(event));
        },
      };
    });
  }
}

/** The check's burn rates per SLI, over every region's rollups merged. */
export function checkBurnRates(check: StoredCheck, rollups: ReadonlyMap<string, Record<BurnRateWindow, Rollup>>): BurnRatesBySli {
  const slo = resolvePolicy(check.definition).slo;
  if (!slo) return {};
  const merged = {} as Record<BurnRateWindow, Rollup>;
  for (const name of Object.keys(BURN_RATE_WINDOWS) as BurnRateWindow[]) {
    merged[name] = mergeRollups(check.definition.regions.flatMap((region) => {
      const windows = rollups.get(pairKey({ checkId: check.definition.id, region }));
      return windows ? [windows[name]] : [];
    }));
  }
  const out: BurnRatesBySli = {};
  if (slo.availability) out.availability = burnRates(merged, 'availability', slo.availability.objective, null);
  if (slo.latency) out.latency = burnRates(merged, 'latency', slo.latency.objective, slo.latency.thresholdMs);
  return out;
}

function parseAlerts(raw: string | null | undefined): StoredSloAlerts | null {
  if (!raw) return null;
  try {
    const value = JSON.parse(raw) as StoredSloAlerts;
    return value && typeof value.alerts === 'object' && value.alerts !== null ? value : null;
  } catch {
    return null;
  }
}
