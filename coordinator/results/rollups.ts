/**
 * How run counts are kept in Redis. Per (check, region):
 * - per-minute rollups, grouped in one hash per hour (field `${minuteOfHour}:${kind}`), kept 48 h;
 * - per-hour rollups, grouped in one hash per UTC day (field `${hourOfDay}:${kind}`), kept 35 d;
 * where `kind` is `p` / `f` / `e` (pass, fail, error counts) or `l${bucket}` (latency histogram bucket of
 * `timings.totalMs`, see uptime.ts). Grouping makes a 24 h window 25 hash reads instead of 1,440 keys.
 * Runs during a maintenance window count apart, as `mp` / `mf` / `me` only: they are recorded, but
 * uptime, latency and SLOs, which read the plain kinds, leave them out (see maintenance.ts).
 *
 * Pure: the keys' fields and the decoding of what was stored. Recording a run is recording.ts.
 */
import type { RunResult } from '../../checks/contract.ts';
import { emptyRollup, latencyBucket, type Rollup } from './uptime.ts';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/** Minute rollups are kept this long after their hour ends. */
export const MINUTE_RETENTION_MS = 48 * HOUR_MS;
/** Hour rollups are kept this long after their day ends. */
export const HOUR_RETENTION_MS = 35 * DAY_MS;
/** Recent runs kept per (check, region). */
export const RECENT_RUNS_KEPT = 100;

/** One run as kept in the recent-runs list: what the dashboard shows, not the whole result. */
export interface RecentRun {
  scheduledAt: number;
  startedAt: number;
  endedAt: number;
  outcome: RunResult['outcome'];
  trigger: RunResult['trigger'];
  agentId: string;
  checkVersion: number;
  totalMs: number | null;
  statusCode: number | null;
  error: { code: string; message: string } | null;
  /** `expected … got …` of each failed assertion (at most 5). */
  failedAssertions: string[];
  /** Browser runs: the run id (names its artifacts), the failed step and the stored artifacts' names. */
  browser: { runId: string; failedStep: string | null; artifacts: string[] } | null;
}

export function toRecentRun(result: RunResult): RecentRun {
  return {
    scheduledAt: result.scheduledAt, startedAt: result.startedAt, endedAt: result.endedAt,
    outcome: result.outcome, trigger: result.trigger, agentId: result.agentId, checkVersion: result.checkVersion,
    totalMs: result.timings?.totalMs ?? null, statusCode: result.statusCode, error: result.error,
    failedAssertions: result.assertions.filter((a) => !a.passed).slice(0, 5).map((a) => `expected ${a.expected}, got ${a.actual}`),
    browser: result.browser
      ? { runId: result.browser.runId, failedStep: result.browser.failedStep, artifacts: result.browser.artifacts.map((a) => a.name) }
      : null,
  };
}

/**
 * The rollup fields one result increments: its outcome, and its latency bucket for target results with a
 * time; during maintenance, only its outcome as `m…`.
 */
export function rollupKinds(result: Pick<RunResult, 'outcome' | 'timings'>, inMaintenance = false): string[] {
  const outcome = result.outcome === 'pass' ? 'p' : result.outcome === 'fail' ? 'f' : 'e';
  if (inMaintenance) return [`m${outcome}`];
  const kinds = [outcome];
  if (result.outcome !== 'error' && result.timings) kinds.push(`l${latencyBucket(result.timings.totalMs)}`);
  return kinds;
}

/** Where a time falls: the hour/day hash starts and the index inside each. */
export function rollupSlot(at: number): { hourStart: number; minuteOfHour: number; dayStart: number; hourOfDay: number } {
  const hourStart = Math.floor(at / HOUR_MS) * HOUR_MS;
  const dayStart = Math.floor(at / DAY_MS) * DAY_MS;
  return {
    hourStart, minuteOfHour: Math.floor((at - hourStart) / MINUTE_MS),
    dayStart, hourOfDay: Math.floor((at - dayStart) / HOUR_MS),
  };
}

/** Counts of maintenance runs (`m…` kinds) in one rollup hash, over every index. */
export function maintenanceCounts(hash: Record<string, string>): { pass: number; fail: number; error: number } {
  const counts = { pass: 0, fail: 0, error: 0 };
  for (const [field, value] of Object.entries(hash)) {
    const match = /^\d+:m(p|f|e)$/.exec(field);
    const count = Number(value);
    if (!match || !Number.isFinite(count)) continue;
    counts[match[1] === 'p' ? 'pass' : match[1] === 'f' ? 'fail' : 'error'] += count;
  }
  return counts;
}

/** Decodes one rollup hash into a rollup per index (minute of the hour, or hour of the day). */
export function decodeRollupHash(hash: Record<string, string>): Map<number, Rollup> {
  const out = new Map<number, Rollup>();
  for (const [field, value] of Object.entries(hash)) {
    const match = /^(\d+):(p|f|e|l(\d+))$/.exec(field);
    const count = Number(value);
    if (!match || !Number.isFinite(count)) continue;
    const index = Number(match[1]);
    const rollup = out.get(index) ?? emptyRollup();
    if (match[2] === 'p') rollup.pass += count;
    else if (match[2] === 'f') rollup.fail += count;
    else if (match[2] === 'e') rollup.error += count;
    else {
      const bucket = Number(match[3]);
      if (bucket < rollup.latency.length) rollup.latency[bucket]! += count;
    }
    out.set(index, rollup);
  }
  return out;
}
