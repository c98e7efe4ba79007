/**
 * Recording one run: the dedupe marker (SET NX PX), the recent-runs list and both rollups (rollups.ts)
 * change together in one Lua script, or not at all, so a duplicate delivery never counts twice.
 */
import type { Redis } from 'ioredis';
import type { RunResult } from '../../checks/contract.ts';
import { dedupeKey, hourRollupKey, minuteRollupKey, recentRunsKey } from '../../checks/keys.ts';
import { luaScript } from '../../lib/lua.ts';
import { DAY_MS, HOUR_MS, HOUR_RETENTION_MS, MINUTE_RETENTION_MS, RECENT_RUNS_KEPT, rollupKinds, rollupSlot, toRecentRun } from './rollups.ts';

/**
 * Returns -1 (writing nothing) when a fence key no longer holds the value the caller decided with (`*`:
 * not checked; a missing key counts as 0), 0 for a duplicate, 1 when recorded.
 */
const recordRunScript = luaScript({
  name: 'lookoutRecordRun',
  keys: ['dedupe', 'recentRuns', 'minuteRollup', 'hourRollup', 'registryFence', 'maintenanceFence'],
  args: ['dedupeTtlMs', 'recentRun', 'recentKept', 'minuteExpireAt', 'hourExpireAt', 'minuteOfHour', 'hourOfDay', 'registryRevision', 'maintenanceRevision'],
  rest: 'kinds',
  body: `
if registryRevision ~= '*' and (redis.call('GET', registryFence) or '0') ~= registryRevision then return -1 end
if maintenanceRevision ~= '*' and (redis.call('GET', maintenanceFence) or '0') ~= maintenanceRevision then return -1 end
if not redis.call('SET', dedupe, '1', 'NX', 'PX', dedupeTtlMs) then return 0 end
redis.call('LPUSH', recentRuns, recentRun)
redis.call('LTRIM', recentRuns, 0, tonumber(recentKept) - 1)
for _, kind in ipairs(kinds) do
  redis.call('HINCRBY', minuteRollup, minuteOfHour .. ':' .. kind, 1)
  redis.call('HINCRBY', hourRollup, hourOfDay .. ':' .. kind, 1)
end
redis.call('PEXPIREAT', minuteRollup, minuteExpireAt)
redis.call('PEXPIREAT', hourRollup, hourExpireAt)
return 1
`,
});

/** The revisions a result was judged with (registry, maintenance windows); null: not checked. */
export interface Fences {
  registry: { key: string; revision: number } | null;
  maintenance: { key: string; revision: number } | null;
}

export const NO_FENCES: Fences = { registry: null, maintenance: null };

/**
 * Records one result unless it was recorded before (same check, region, scheduled slot and trigger
 * within `dedupeTtlMs`), and only if every fence still holds its revision: `stale` (nothing written)
 * tells the caller that what it decided with changed, so it reads it again. `inMaintenance`: the run was
 * due during a maintenance window covering its check.
 */
export async function recordRun(
  redis: Redis, prefix: string, result: RunResult, options: { dedupeTtlMs: number; inMaintenance: boolean; fences: Fences },
): Promise<'recorded' | 'duplicate' | 'stale'> {
  const slot = rollupSlot(result.scheduledAt);
  const { registry, maintenance } = options.fences;
  const reply = await recordRunScript(redis, {
    dedupe: dedupeKey(prefix, result.checkId, result.region, result.scheduledAt, result.trigger),
    recentRuns: recentRunsKey(prefix, result.checkId, result.region),
    minuteRollup: minuteRollupKey(prefix, result.checkId, result.region, slot.hourStart),
    hourRollup: hourRollupKey(prefix, result.checkId, result.region, slot.dayStart),
    // Unchecked fences still name a key of the same slot (Redis Cluster wants every key declared).
    registryFence: registry?.key ?? dedupeKey(prefix, result.checkId, result.region, result.scheduledAt, result.trigger),
    maintenanceFence: maintenance?.key ?? dedupeKey(prefix, result.checkId, result.region, result.scheduledAt, result.trigger),
  }, {
    dedupeTtlMs: options.dedupeTtlMs,
    recentRun: JSON.stringify(toRecentRun(result)),
    recentKept: RECENT_RUNS_KEPT,
    minuteExpireAt: slot.hourStart + HOUR_MS + MINUTE_RETENTION_MS,
    hourExpireAt: slot.dayStart + DAY_MS + HOUR_RETENTION_MS,
    minuteOfHour: slot.minuteOfHour,
    hourOfDay: slot.hourOfDay,
    registryRevision: registry ? String(registry.revision) : '*',
    maintenanceRevision: maintenance ? String(maintenance.revision) : '*',
    kinds: rollupKinds(result, options.inMaintenance),
  });
  return reply === 1 ? 'recorded' : reply === 0 ? 'duplicate' : 'stale';
}
