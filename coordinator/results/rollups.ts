/**
 * How run counts are kept in Redis. Per (check, region):
 * - per-minute rollups, grouped in one hash per hour (field `${minuteOfHour}:${kind}`), kept 48 h;
 * - per-hour rollups, grouped in one hash per UTC day (field `${hourOfDay}:${kind}`), kept 35 d;
 * where `kind` is `p` / `f` / `e` (pass, fail, error counts) or `l${bucket}` (latency histogram bucket of
 * `timings.totalMs`, see uptime.ts). Grouping makes a 24 h window 25 hash reads instead of 1,440 keys.
 * Runs during a maintenance window count apart, as `mp` / `mf` / `me` only: they are recorded, but
 * uptime, latency and SLOs, which read the plain kinds, leave them out (see maintenance.ts).
 *
 * Recording a run is one Lua script: the dedupe marker (SET NX PX), the recent-runs list and both
 * rollups change together or not at all, so a duplicate delivery never counts twice.
 */
import type { Redis } from 'ioredis';
import type { RunResult } from '../../checks/contract.ts';
import { dedupeKey, hourRollupKey, minuteRollupKey, recentRunsKey } from '../../checks/keys.ts';
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

/**
 * The record-run script, checking first that each of `fences` keys (KEYS[5..]) still holds the value
 * the caller decided with (ARGV[8..]; a missing key counts as 0); returns -1, writing nothing, if one
 * does not.
 */
function recordRunLua(fences: number): string {
  const kindsFrom = 8 + fences;
  return `
for j = 1, ${fences} do
  if (redis.call('GET', KEYS[4 + j]) or '0') ~= ARGV[7 + j] then return -1 end
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
for i = ${kindsFrom}, #ARGV do
  redis.call('HINCRBY', KEYS[3], ARGV[6] .. ':' .. ARGV[i], 1)
  redis.call('HINCRBY', KEYS[4], ARGV[7] .. ':' .. ARGV[i], 1)
end
redis.call('PEXPIREAT', KEYS[3], ARGV[4])
redis.call('PEXPIREAT', KEYS[4], ARGV[5])
return 1
`;
}

type RecordRunCommand = (...args: Array<string | number>) => Promise<number>;

/**
 * Records one result unless it was recorded before (same check, region, scheduled slot and trigger
 * within `dedupeTtlMs`). Returns false for a duplicate. `inMaintenance`: the run was due during a
 * maintenance window covering its check.
 */
export async function recordRun(redis: Redis, prefix: string, result: RunResult, dedupeTtlMs: number, inMaintenance = false): Promise<boolean> {
  return await recordRunIfCurrent(redis, prefix, result, dedupeTtlMs, inMaintenance, []) === 'recorded';
}

/** A key whose value a decision was made with (e.g. a revision counter), and that value. */
export interface Fence {
  key: string;
  value: number;
}

/**
 * {@link recordRun}, in the same round trip only if every fence key still holds its value (a missing key
 * counts as 0): `stale` (nothing written) tells the caller that what it decided with (the registry, the
 * maintenance windows) changed, so it reads them again. With no fences, it never answers `stale`.
 */
export async function recordRunIfCurrent(
  redis: Redis, prefix: string, result: RunResult, dedupeTtlMs: number, inMaintenance: boolean, fences: readonly Fence[],
): Promise<'recorded' | 'duplicate' | 'stale'> {
  const command = recordRunCommand(redis, fences.length);
  const slot = rollupSlot(result.scheduledAt);
  const reply = await command(
    dedupeKey(prefix, result.checkId, result.region, result.scheduledAt, result.trigger),
    recentRunsKey(prefix, result.checkId, result.region),
    minuteRollupKey(prefix, result.checkId, result.region, slot.hourStart),
    hourRollupKey(prefix, result.checkId, result.region, slot.dayStart),
    ...fences.map((f) => f.key),
    dedupeTtlMs,
    JSON.stringify(toRecentRun(result)),
    RECENT_RUNS_KEPT,
    slot.hourStart + HOUR_MS + MINUTE_RETENTION_MS,
    slot.dayStart + DAY_MS + HOUR_RETENTION_MS,
    slot.minuteOfHour,
    slot.hourOfDay,
    ...fences.map((f) => String(f.value)),
    ...rollupKinds(result, inMaintenance),
  );
  return reply === 1 ? 'recorded' : reply === 0 ? 'duplicate' : 'stale';
}

function recordRunCommand(redis: Redis, fences: number): RecordRunCommand {
  const name = fences === 0 ? 'lookoutRecordRun' : `lookoutRecordRunFenced${fences}`;
  const commands = redis as unknown as Record<string, RecordRunCommand | undefined>;
  if (!commands[name]) redis.defineCommand(name, { numberOfKeys: 4 + fences, lua: recordRunLua(fences) });
  return commands[name]!.bind(redis);
}
