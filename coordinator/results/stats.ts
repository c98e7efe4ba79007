/**
 * Uptime and latency of (check, region) pairs over fixed windows, read from the rollups (rollups.ts)
 * with one pipeline. Windows end now and include the current, partial minute or hour:
 * - `1h` and `24h`: the last 60 / 1,440 minutes, from minute rollups;
 * - `7d` and `30d`: the last 168 / 720 hours, from hour rollups;
 * - latency percentiles: the last 24 h, from minute rollups (reported with `window: '24h'`).
 */
import type { Redis } from 'ioredis';
import { hourRollupKey, minuteRollupKey } from '../../checks/keys.ts';
import { DAY_MS, HOUR_MS, MINUTE_MS, decodeRollupHash } from './rollups.ts';
import { emptyRollup, latencyPercentile, mergeRollups, uptimeRatio, type Rollup } from './uptime.ts';

export type UptimeWindow = '1h' | '24h' | '7d' | '30d';
/** Share of target results that passed per window, in [0, 1]; null when the window has none. */
export type Uptime = Record<UptimeWindow, number | null>;

export interface LatencySummary {
  /** The window the percentiles cover. */
  window: '24h';
  /** Target results with a total time in the window. */
  samples: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface PairStats {
  uptime: Uptime;
  latency: LatencySummary;
  /** Counts over the last 24 h, for context next to the ratios. */
  counts24h: { pass: number; fail: number; error: number };
}

const MINUTE_WINDOWS = { '1h': 60, '24h': 1_440 } as const;
const HOUR_WINDOWS = { '7d': 168, '30d': 720 } as const;

/** Start times of the hashes to read: 25 hour-hashes of minute rollups, 31 day-hashes of hour rollups. */
export function hashesToRead(now: number): { hourStarts: number[]; dayStarts: number[] } {
  const currentMinute = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const currentHour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const hourStarts: number[] = [];
  for (let h = Math.floor((currentMinute - (MINUTE_WINDOWS['24h'] - 1) * MINUTE_MS) / HOUR_MS) * HOUR_MS; h <= currentHour; h += HOUR_MS) hourStarts.push(h);
  const dayStarts: number[] = [];
  const currentDay = Math.floor(now / DAY_MS) * DAY_MS;
  for (let d = Math.floor((currentHour - (HOUR_WINDOWS['30d'] - 1) * HOUR_MS) / DAY_MS) * DAY_MS; d <= currentDay; d += DAY_MS) dayStarts.push(d);
  return { hourStarts, dayStarts };
}

/** Pure: the stats of one pair from its decoded hashes (keyed by hash start time). */
export function summarizeWindows(
  minuteHashes: ReadonlyMap<number, Record<string, string>>,
  hourHashes: ReadonlyMap<number, Record<string, string>>,
  now: number,
): PairStats {
  const currentMinute = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const currentHour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const windows: Record<UptimeWindow, Rollup[]> = { '1h': [], '24h': [], '7d': [], '30d': [] };

  for (const [hourStart, hash] of minuteHashes) {
    for (const [minute, rollup] of decodeRollupHash(hash)) {
      const age = (currentMinute - (hourStart + minute * MINUTE_MS)) / MINUTE_MS;
      if (age < 0) continue;
      if (age < MINUTE_WINDOWS['1h']) windows['1h'].push(rollup);
      if (age < MINUTE_WINDOWS['24h']) windows['24h'].push(rollup);
    }
  }
  for (const [dayStart, hash] of hourHashes) {
    for (const [hour, rollup] of decodeRollupHash(hash)) {
      const age = (currentHour - (dayStart + hour * HOUR_MS)) / HOUR_MS;
      if (age < 0) continue;
      if (age < HOUR_WINDOWS['7d']) windows['7d'].push(rollup);
      if (age < HOUR_WINDOWS['30d']) windows['30d'].push(rollup);
    }
  }
  const day = windows['24h'].length > 0 ? mergeRollups(windows['24h']) : emptyRollup();
  const samples = day.latency.reduce((a, b) => a + b, 0);
  return {
    uptime: {
      '1h': uptimeRatio(mergeRollups(windows['1h'])),
      '24h': uptimeRatio(day),
      '7d': uptimeRatio(mergeRollups(windows['7d'])),
      '30d': uptimeRatio(mergeRollups(windows['30d'])),
    },
    latency: { window: '24h', samples, p50: latencyPercentile(day, 50), p95: latencyPercentile(day, 95), p99: latencyPercentile(day, 99) },
    counts24h: { pass: day.pass, fail: day.fail, error: day.error },
  };
}

export interface Pair { checkId: string; region: string }
export const pairKey = (pair: Pair): string => `${pair.checkId}@${pair.region}`;

/** Reads the stats of many pairs with one pipeline; keyed by `${checkId}@${region}`. */
export async function readStats(redis: Redis, prefix: string, pairs: readonly Pair[], now: number): Promise<Map<string, PairStats>> {
  const { hourStarts, dayStarts } = hashesToRead(now);
  const pipeline = redis.pipeline();
  for (const pair of pairs) {
    for (const h of hourStarts) pipeline.hgetall(minuteRollupKey(prefix, pair.checkId, pair.region, h));
    for (const d of dayStarts) pipeline.hgetall(hourRollupKey(prefix, pair.checkId, pair.region, d));
  }
  const replies = pairs.length > 0 ? (await pipeline.exec()) ?? [] : [];
  const out = new Map<string, PairStats>();
  let i = 0;
  for (const pair of pairs) {
    const minuteHashes = new Map<number, Record<string, string>>();
    const hourHashes = new Map<number, Record<string, string>>();
    for (const h of hourStarts) minuteHashes.set(h, replyHash(replies[i++]));
    for (const d of dayStarts) hourHashes.set(d, replyHash(replies[i++]));
    out.set(pairKey(pair), summarizeWindows(minuteHashes, hourHashes, now));
  }
  return out;
}

function replyHash(reply: [Error | null, unknown] | undefined): Record<string, string> {
  if (!reply || reply[0]) return {};
  return (reply[1] ?? {}) as Record<string, string>;
}
