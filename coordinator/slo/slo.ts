/**
 * SLO math, pure: SLIs, error budgets and burn rates over rollups (uptime.ts), and the multiwindow
 * burn-rate alert rules of the Google SRE workbook.
 *
 * - Availability SLI: `pass / (pass + fail)` of target results. Agent errors and no-data are not events.
 * - Latency SLI: the share of target results with a time that took at most `thresholdMs`. Rollups keep
 *   latencies in fixed buckets (uptime.ts), so the count is exact when the threshold is a bucket bound
 *   (…, 100, 150, 200, 300, 500, 750, 1000, … ms) and interpolated within its bucket otherwise.
 * - Error budget, in events: `total = (1 − objective) × events`, `consumed` = bad events, `remaining`.
 * - Burn rate over a window: `(bad / events) / (1 − objective)`; 1 spends the budget exactly over the SLO
 *   window. A rule fires when both its long and its short window burn at least `factor` times, and
 *   resolves as soon as either drops below (the short window makes the reset fast).
 *
 * Runs during maintenance windows are not in these rollups at all (rollups.ts), so they neither spend
 * the budget nor fire alerts.
 */
import { LATENCY_BOUNDS_MS, type Rollup } from '../results/uptime.ts';

export type SliKind = 'availability' | 'latency';

export interface EventCounts { good: number; total: number }

export interface BurnRateRule {
  /** Stable name, part of event ids. */
  name: string;
  longWindowMs: number;
  shortWindowMs: number;
  factor: number;
}

/** 2 % of a 30-day budget in 1 h (page), 5 % in 6 h (page or ticket). */
export const BURN_RATE_RULES: readonly BurnRateRule[] = [
  { name: 'fast', longWindowMs: 3_600_000, shortWindowMs: 300_000, factor: 14.4 },
  { name: 'slow', longWindowMs: 21_600_000, shortWindowMs: 1_800_000, factor: 6 },
];

/** Every window a burn rate is computed over, by name (used in reports). */
export const BURN_RATE_WINDOWS = { '5m': 300_000, '30m': 1_800_000, '1h': 3_600_000, '6h': 21_600_000 } as const;
export type BurnRateWindow = keyof typeof BURN_RATE_WINDOWS;

export function availabilityCounts(rollup: Rollup): EventCounts {
  return { good: rollup.pass, total: rollup.pass + rollup.fail };
}

/** Target results with a time, and how many of them took at most `thresholdMs` (see the module comment). */
export function latencyCounts(rollup: Rollup, thresholdMs: number): EventCounts {
  let good = 0;
  let total = 0;
  for (let i = 0; i < rollup.latency.length; i++) {
    const count = rollup.latency[i] ?? 0;
    total += count;
    if (count === 0) continue;
    const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
    const upper = i < LATENCY_BOUNDS_MS.length ? LATENCY_BOUNDS_MS[i]! : Number.POSITIVE_INFINITY;
    if (upper <= thresholdMs) good += count;
    else if (lower < thresholdMs && Number.isFinite(upper)) good += count * ((thresholdMs - lower) / (upper - lower));
  }
  return { good, total };
}

export function countsFor(kind: SliKind, rollup: Rollup, thresholdMs: number | null): EventCounts {
  return kind === 'availability' ? availabilityCounts(rollup) : latencyCounts(rollup, thresholdMs ?? 0);
}

/** Good events / all events, in [0, 1]; null without events. */
export function sli(counts: EventCounts): number | null {
  return counts.total === 0 ? null : counts.good / counts.total;
}

export interface ErrorBudget {
  /** Bad events the objective allows over the window's events. */
  total: number;
  /** Bad events so far. */
  consumed: number;
  /** `total − consumed` (negative once overspent). */
  remaining: number;
  /** `remaining / total`, in (−∞, 1]; null without events. */
  remainingRatio: number | null;
}

/** `objective` in percent (e.g. 99.9). */
export function errorBudget(counts: EventCounts, objective: number): ErrorBudget {
  const allowed = (1 - objective / 100) * counts.total;
  const consumed = counts.total - counts.good;
  return {
    total: allowed,
    consumed,
    remaining: allowed - consumed,
    remainingRatio: counts.total === 0 ? null : (allowed - consumed) / allowed,
  };
}

/** How fast the budget burns: 1 spends it exactly over the SLO window. Null without events. */
export function burnRate(counts: EventCounts, objective: number): number | null {
  if (counts.total === 0) return null;
  return ((counts.total - counts.good) / counts.total) / (1 - objective / 100);
}

/** Whether a rule fires for these long- and short-window burn rates. No events in a window: not firing. */
export function ruleFires(rule: BurnRateRule, long: number | null, short: number | null): boolean {
  return long !== null && short !== null && long >= rule.factor && short >= rule.factor;
}

/** One rule's alert: when it fired; absent while it does not fire. */
export interface BurnAlertState { firedAt: number }

export type BurnAlertChange = { state: 'fired' | 'resolved'; firedAt: number } | null;

/** The next alert state of one rule, and whether it fired or resolved now. */
export function nextBurnAlert(current: BurnAlertState | null, firing: boolean, now: number): { state: BurnAlertState | null; change: BurnAlertChange } {
  if (firing && !current) return { state: { firedAt: now }, change: { state: 'fired', firedAt: now } };
  if (!firing && current) return { state: null, change: { state: 'resolved', firedAt: current.firedAt } };
  return { state: current, change: null };
}

/** Burn rates of one SLI per report window, from one merged rollup per window. */
export function burnRates(windows: Readonly<Record<BurnRateWindow, Rollup>>, kind: SliKind, objective: number, thresholdMs: number | null): Record<BurnRateWindow, number | null> {
  const out = {} as Record<BurnRateWindow, number | null>;
  for (const name of Object.keys(BURN_RATE_WINDOWS) as BurnRateWindow[]) out[name] = burnRate(countsFor(kind, windows[name], thresholdMs), objective);
  return out;
}

/** The report window matching a rule window's length. */
export function windowName(ms: number): BurnRateWindow {
  const found = (Object.entries(BURN_RATE_WINDOWS) as Array<[BurnRateWindow, number]>).find(([, length]) => length === ms);
  if (!found) throw new Error(`no burn-rate window of ${ms} ms`);
  return found[0];
}
