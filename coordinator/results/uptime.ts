/**
 * Uptime and latency math over rollups. A rollup counts runs of one (check, region) in one time
 * bucket; latencies go into fixed log-spaced histogram buckets so that rollups merge by addition and
 * percentiles over any window cost the same. Percentiles are estimates: linear within a bucket.
 *
 * Uptime counts target results only: `pass / (pass + fail)`. Agent errors and no-data are excluded;
 * a window with no target result has no uptime (null), not 0 % or 100 %.
 */

/** Upper bounds (ms) of the latency buckets; a last implicit bucket holds everything above. */
export const LATENCY_BOUNDS_MS = [
  1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750,
  1_000, 1_500, 2_000, 3_000, 5_000, 7_500, 10_000, 15_000, 30_000, 60_000, 300_000,
] as const;

export interface Rollup {
  pass: number;
  fail: number;
  error: number;
  /** Counts per latency bucket (length LATENCY_BOUNDS_MS.length + 1), for target results with a total time. */
  latency: number[];
}

export function emptyRollup(): Rollup {
  return { pass: 0, fail: 0, error: 0, latency: new Array(LATENCY_BOUNDS_MS.length + 1).fill(0) };
}

/** Index of the bucket a latency falls into. */
export function latencyBucket(ms: number): number {
  for (let i = 0; i < LATENCY_BOUNDS_MS.length; i++) if (ms <= LATENCY_BOUNDS_MS[i]!) return i;
  return LATENCY_BOUNDS_MS.length;
}

export function mergeRollups(rollups: Iterable<Rollup>): Rollup {
  const total = emptyRollup();
  for (const r of rollups) {
    total.pass += r.pass; total.fail += r.fail; total.error += r.error;
    for (let i = 0; i < total.latency.length; i++) total.latency[i]! += r.latency[i] ?? 0;
  }
  return total;
}

/** Share of target results that passed, in [0, 1]; null when there were none. */
export function uptimeRatio(r: Rollup): number | null {
  const results = r.pass + r.fail;
  return results === 0 ? null : r.pass / results;
}

/** Estimated latency percentile (p in (0, 100]) in ms; null when there is no sample. */
export function latencyPercentile(r: Rollup, p: number): number | null {
  const count = r.latency.reduce((a, b) => a + b, 0);
  if (count === 0) return null;
  const rank = (p / 100) * count;
  let seen = 0;
  for (let i = 0; i < r.latency.length; i++) {
    const inBucket = r.latency[i]!;
    if (inBucket > 0 && seen + inBucket >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
      const upper = i < LATENCY_BOUNDS_MS.length ? LATENCY_BOUNDS_MS[i]! : lower * 2;
      return lower + ((rank - seen) / inBucket) * (upper - lower);
    }
    seen += inBucket;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
}
