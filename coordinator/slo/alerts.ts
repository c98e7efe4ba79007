/**
 * Burn-rate alerts of one check, pure: from the stored alert state and the burn rates now, the next
 * state and the `slo.burn_rate` events (fired / resolved). One alert per (SLI, rule); the burn rates are
 * the check's (every region's rollups merged): a regional outage spends the check's budget too.
 *
 * An alert whose SLI or rule is no longer configured (SLO changed, alerts turned off, check removed)
 * resolves. During maintenance nothing changes (the caller does not evaluate).
 */
import { burnRateEventId, type SloBurnRateEvent } from '../events/events.ts';
import type { EffectiveSlo } from '../detection/policy.ts';
import { BURN_RATE_RULES, nextBurnAlert, ruleFires, windowName, type BurnRateRule, type BurnRateWindow, type SliKind } from './slo.ts';

export interface StoredBurnAlert {
  firedAt: number;
  slo: SloBurnRateEvent['slo'];
  rule: BurnRateRule;
}

/** What is stored per check: its firing alerts by `${sli}:${rule}`. */
export interface StoredSloAlerts {
  checkName: string;
  alerts: Record<string, StoredBurnAlert>;
}

export type BurnRatesBySli = Partial<Record<SliKind, Record<BurnRateWindow, number | null>>>;

/**
 * The next alert state of one check. `slo` null (or with alerts off) resolves every firing alert. Returns
 * `next` null when nothing fires any more.
 */
export function decideBurnAlerts(
  stored: StoredSloAlerts | null,
  check: { id: string; name: string },
  slo: EffectiveSlo | null,
  rates: BurnRatesBySli,
  now: number,
  rules: readonly BurnRateRule[] = BURN_RATE_RULES,
): { next: StoredSloAlerts | null; events: SloBurnRateEvent[] } {
  const events: SloBurnRateEvent[] = [];
  const alerts: Record<string, StoredBurnAlert> = {};
  const wanted = new Set<string>();
  const objectives: Array<{ sli: SliKind; info: SloBurnRateEvent['slo'] }> = [];
  if (slo?.burnRateAlerts) {
    if (slo.availability) objectives.push({ sli: 'availability', info: { sli: 'availability', objective: slo.availability.objective, windowMs: slo.availability.windowMs, thresholdMs: null } });
    if (slo.latency) objectives.push({ sli: 'latency', info: { sli: 'latency', objective: slo.latency.objective, windowMs: slo.latency.windowMs, thresholdMs: slo.latency.thresholdMs } });
  }

  for (const { sli, info } of objectives) {
    for (const rule of rules) {
      const key = `${sli}:${rule.name}`;
      wanted.add(key);
      const long = rates[sli]?.[windowName(rule.longWindowMs)] ?? null;
      const short = rates[sli]?.[windowName(rule.shortWindowMs)] ?? null;
      const current = stored?.alerts[key] ?? null;
      const { state, change } = nextBurnAlert(current, ruleFires(rule, long, short), now);
      if (state) alerts[key] = { firedAt: state.firedAt, slo: info, rule };
      if (change) events.push(burnEvent(check, info, rule, change.state, change.firedAt, { long, short }, now));
    }
  }
  for (const [key, alert] of Object.entries(stored?.alerts ?? {})) {
    if (wanted.has(key)) continue;
    events.push(burnEvent(check, alert.slo, alert.rule, 'resolved', alert.firedAt, { long: null, short: null }, now));
  }
  return { next: Object.keys(alerts).length > 0 ? { checkName: check.name, alerts } : null, events };
}

function burnEvent(
  check: { id: string; name: string }, slo: SloBurnRateEvent['slo'], rule: BurnRateRule, state: 'fired' | 'resolved',
  firedAt: number, burnRate: SloBurnRateEvent['burnRate'], now: number,
): SloBurnRateEvent {
  return {
    id: burnRateEventId(check.id, slo.sli, rule.name, firedAt, state), type: 'slo.burn_rate', at: now,
    check: { id: check.id, name: check.name }, state, firedAt, slo,
    rule: { name: rule.name, longWindowMs: rule.longWindowMs, shortWindowMs: rule.shortWindowMs, factor: rule.factor }, burnRate,
  };
}
