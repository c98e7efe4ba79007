/**
 * The SLO report of one check (`GET /api/checks/:id/slo`): for each objective, the SLI, error budget and
 * burn rates of the whole check (every region's runs together) and of each region, plus the burn-rate
 * alerts firing now. Runs during maintenance are not counted (see rollups.ts).
 */
import type { Redis } from 'ioredis';
import type { StoredCheck } from '../../checks/contract.ts';
import { sloAlertsKey } from '../../checks/keys.ts';
import { resolvePolicy } from '../detection/policy.ts';
import type { StoredSloAlerts } from './alerts.ts';
import { readBurnWindows, readSloWindows } from './data.ts';
import {
  BURN_RATE_WINDOWS, burnRates, countsFor, errorBudget, sli, type BurnRateWindow, type ErrorBudget, type EventCounts, type SliKind,
} from './slo.ts';
import { pairKey } from '../results/stats.ts';
import { mergeRollups, type Rollup } from '../results/uptime.ts';

export interface SloStatus {
  /** Good events / events over the SLO window, in [0, 1]; null without events. */
  sli: number | null;
  events: EventCounts;
  errorBudget: ErrorBudget;
  burnRates: Record<BurnRateWindow, number | null>;
}

export interface ObjectiveReport {
  objective: number;
  windowMs: number;
  /** Latency objectives only. */
  thresholdMs: number | null;
  overall: SloStatus;
  regions: Record<string, SloStatus>;
}

export interface SloReport {
  checkId: string;
  generatedAt: number;
  /** Always true: runs during maintenance windows are left out of SLIs and budgets. */
  maintenanceExcluded: true;
  availability: ObjectiveReport | null;
  latency: ObjectiveReport | null;
  /** Burn-rate alerts firing now. */
  alerts: Array<{ sli: SliKind; rule: string; factor: number; longWindowMs: number; shortWindowMs: number; firedAt: number }>;
}

/** Pure: one SLI's status from the SLO-window rollup and the burn-rate window rollups. */
export function sloStatus(kind: SliKind, window: Rollup, burnWindows: Record<BurnRateWindow, Rollup>, objective: number, thresholdMs: number | null): SloStatus {
  const events = countsFor(kind, window, thresholdMs);
  return { sli: sli(events), events, errorBudget: errorBudget(events, objective), burnRates: burnRates(burnWindows, kind, objective, thresholdMs) };
}

export async function buildSloReport(redis: Redis, prefix: string, check: StoredCheck, now: number): Promise<SloReport> {
  const slo = resolvePolicy(check.definition).slo;
  const { id, regions } = check.definition;
  const report: SloReport = { checkId: id, generatedAt: now, maintenanceExcluded: true, availability: null, latency: null, alerts: [] };
  if (!slo) return report;

  const objectives: Array<{ kind: SliKind; objective: number; windowMs: number; thresholdMs: number | null }> = [];
  if (slo.availability) objectives.push({ kind: 'availability', objective: slo.availability.objective, windowMs: slo.availability.windowMs, thresholdMs: null });
  if (slo.latency) objectives.push({ kind: 'latency', objective: slo.latency.objective, windowMs: slo.latency.windowMs, thresholdMs: slo.latency.thresholdMs });
  const windowLengths = [...new Set(objectives.map((o) => o.windowMs))];

  const pairs = regions.map((region) => ({ checkId: id, region }));
  const [burn, rawAlerts, ...sloWindows] = await Promise.all([
    readBurnWindows(redis, prefix, pairs, now),
    redis.hget(sloAlertsKey(prefix), id),
    ...windowLengths.map((windowMs) => readSloWindows(redis, prefix, pairs.map((p) => ({ ...p, windowMs })), now)),
  ]);
  const byWindow = new Map(windowLengths.map((length, i) => [length, sloWindows[i]!]));

  for (const o of objectives) {
    const windows = byWindow.get(o.windowMs)!;
    const regionStatus: Record<string, SloStatus> = {};
    const allWindow: Rollup[] = [];
    const allBurn: Array<Record<BurnRateWindow, Rollup>> = [];
    for (const region of regions) {
      const key = pairKey({ checkId: id, region });
      const window = windows.get(key)!;
      const burnWindows = burn.get(key)!;
      allWindow.push(window);
      allBurn.push(burnWindows);
      regionStatus[region] = sloStatus(o.kind, window, burnWindows, o.objective, o.thresholdMs);
    }
    const mergedBurn = {} as Record<BurnRateWindow, Rollup>;
    for (const name of Object.keys(BURN_RATE_WINDOWS) as BurnRateWindow[]) mergedBurn[name] = mergeRollups(allBurn.map((b) => b[name]));
    report[o.kind] = {
      objective: o.objective, windowMs: o.windowMs, thresholdMs: o.thresholdMs,
      overall: sloStatus(o.kind, mergeRollups(allWindow), mergedBurn, o.objective, o.thresholdMs),
      regions: regionStatus,
    };
  }

  let stored: StoredSloAlerts | null = null;
  try { stored = rawAlerts ? JSON.parse(rawAlerts) as StoredSloAlerts : null; } catch { stored = null; }
  report.alerts = Object.values(stored?.alerts ?? {}).map((a) => ({
    sli: a.slo.sli, rule: a.rule.name, factor: a.rule.factor, longWindowMs: a.rule.longWindowMs, shortWindowMs: a.rule.shortWindowMs, firedAt: a.firedAt,
  })).sort((a, b) => a.firedAt - b.firedAt);
  return report;
}
