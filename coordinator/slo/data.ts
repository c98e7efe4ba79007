/**
 * Rollups for SLOs, read with one pipeline per call:
 * - burn-rate windows (5 m, 30 m, 1 h, 6 h) from minute rollups (the last 7 hour-hashes);
 * - the SLO window (1 h to 30 d) from hour rollups (one day-hash per UTC day).
 * Windows end now and include the current, partial minute or hour (as stats.ts does). The windowing is
 * pure ({@link burnWindowRollups}, {@link sloWindowRollup}); reading is the I/O around it.
 */
import type { Redis } from 'ioredis';
import { hourRollupKey, minuteRollupKey } from '../../checks/keys.ts';
import { DAY_MS, HOUR_MS, MINUTE_MS, decodeRollupHash } from '../results/rollups.ts';
import { BURN_RATE_WINDOWS, type BurnRateWindow } from './slo.ts';
import { pairKey, type Pair } from '../results/stats.ts';
import { emptyRollup, mergeRollups, type Rollup } from '../results/uptime.ts';

const LONGEST_BURN_WINDOW_MS = Math.max(...Object.values(BURN_RATE_WINDOWS));

/** Start times of the hour-hashes of minute rollups that the burn-rate windows need. */
export function burnHourStarts(now: number): number[] {
  const currentMinute = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const out: number[] = [];
  for (let h = Math.floor((currentMinute - LONGEST_BURN_WINDOW_MS + MINUTE_MS) / HOUR_MS) * HOUR_MS; h <= currentMinute; h += HOUR_MS) out.push(h);
  return out;
}

/** Start times of the day-hashes of hour rollups that an SLO window of `windowMs` needs. */
export function sloDayStarts(now: number, windowMs: number): number[] {
  const currentHour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const hours = Math.max(1, Math.ceil(windowMs / HOUR_MS));
  const out: number[] = [];
  for (let d = Math.floor((currentHour - (hours - 1) * HOUR_MS) / DAY_MS) * DAY_MS; d <= currentHour; d += DAY_MS) out.push(d);
  return out;
}

/** Pure: one merged rollup per burn-rate window from minute-rollup hashes (keyed by hour start). */
export function burnWindowRollups(minuteHashes: ReadonlyMap<number, Record<string, string>>, now: number): Record<BurnRateWindow, Rollup> {
  const currentMinute = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const parts = Object.fromEntries(Object.keys(BURN_RATE_WINDOWS).map((name) => [name, [] as Rollup[]])) as Record<BurnRateWindow, Rollup[]>;
  for (const [hourStart, hash] of minuteHashes) {
    for (const [minute, rollup] of decodeRollupHash(hash)) {
      const age = (currentMinute - (hourStart + minute * MINUTE_MS)) / MINUTE_MS;
      if (age < 0) continue;
      for (const [name, length] of Object.entries(BURN_RATE_WINDOWS) as Array<[BurnRateWindow, number]>) {
        if (age < length / MINUTE_MS) parts[name].push(rollup);
      }
    }
  }
  const out = {} as Record<BurnRateWindow, Rollup>;
  for (const name of Object.keys(parts) as BurnRateWindow[]) out[name] = mergeRollups(parts[name]);
  return out;
}

/** Pure: the merged rollup of the last `windowMs` (whole hours, the current one included) from hour-rollup hashes (keyed by day start). */
export function sloWindowRollup(hourHashes: ReadonlyMap<number, Record<string, string>>, now: number, windowMs: number): Rollup {
  const currentHour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const hours = Math.max(1, Math.ceil(windowMs / HOUR_MS));
  const parts: Rollup[] = [];
  for (const [dayStart, hash] of hourHashes) {
    for (const [hour, rollup] of decodeRollupHash(hash)) {
      const age = (currentHour - (dayStart + hour * HOUR_MS)) / HOUR_MS;
      if (age >= 0 && age < hours) parts.push(rollup);
    }
  }
  return parts.length > 0 ? mergeRollups(parts) : emptyRollup();
}

/** Burn-rate window rollups of many pairs, keyed by `${checkId}@${region}`. */
export async function readBurnWindows(redis: Redis, prefix: string, pairs: readonly Pair[], now: number): Promise<Map<string, Record<BurnRateWindow, Rollup>>> {
  const hourStarts = burnHourStarts(now);
  const hashes = await readHashes(redis, pairs.flatMap((pair) => hourStarts.map((h) => minuteRollupKey(prefix, pair.checkId, pair.region, h))));
  const out = new Map<string, Record<BurnRateWindow, Rollup>>();
  pairs.forEach((pair, p) => {
    const byHour = new Map(hourStarts.map((h, i) => [h, hashes[p * hourStarts.length + i]!]));
    out.set(pairKey(pair), burnWindowRollups(byHour, now));
  });
  return out;
}

/** SLO-window rollups of many pairs (each with its own window), keyed by `${checkId}@${region}`. */
export async function readSloWindows(redis: Redis, prefix: string, pairs: ReadonlyArray<Pair & { windowMs: number }>, now: number): Promise<Map<string, Rollup>> {
  const days = pairs.map((pair) => sloDayStarts(now, pair.windowMs));
  const hashes = await readHashes(redis, pairs.flatMap((pair, p) => days[p]!.map((d) => hourRollupKey(prefix, pair.checkId, pair.region, d))));
  const out = new Map<string, Rollup>();
  let i = 0;
  pairs.forEach((pair, p) => {
    const byDay = new Map(days[p]!.map((d) => [d, hashes[i++]!]));
    out.set(pairKey(pair), sloWindowRollup(byDay, now, pair.windowMs));
  });
  return out;
}

async function readHashes(redis: Redis, keys: readonly string[]): Promise<Array<Record<string, string>>> {
  if (keys.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.hgetall(key);
  const replies = (await pipeline.exec()) ?? [];
  return keys.map((_, i) => {
    const reply = replies[i];
    return !reply || reply[0] ? {} : (reply[1] ?? {}) as Record<string, string>;
  });
}
