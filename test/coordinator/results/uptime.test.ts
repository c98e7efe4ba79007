import { describe, expect, it } from 'vitest';
import { LATENCY_BOUNDS_MS, emptyRollup, latencyBucket, latencyPercentile, mergeRollups, uptimeRatio, type Rollup } from '../../../coordinator/results/uptime.ts';

function rollup(pass: number, fail: number, error: number, latencies: number[] = []): Rollup {
  const r = { ...emptyRollup(), pass, fail, error };
  for (const ms of latencies) r.latency[latencyBucket(ms)]! += 1;
  return r;
}

describe('uptime', () => {
  const cases: Array<{ name: string; r: Rollup; ratio: number | null }> = [
    { name: 'no results: no uptime (not 0 or 100 %)', r: rollup(0, 0, 0), ratio: null },
    { name: 'only agent errors: still no uptime', r: rollup(0, 0, 5), ratio: null },
    { name: 'all pass', r: rollup(10, 0, 0), ratio: 1 },
    { name: 'errors are excluded from the ratio', r: rollup(3, 1, 100), ratio: 0.75 },
    { name: 'all fail', r: rollup(0, 4, 0), ratio: 0 },
  ];
  it.each(cases)('$name', ({ r, ratio }) => expect(uptimeRatio(r)).toBe(ratio));

  it('merges rollups by addition, latency buckets included', () => {
    const merged = mergeRollups([rollup(1, 2, 3, [10, 500]), rollup(4, 0, 1, [10])]);
    expect([merged.pass, merged.fail, merged.error]).toEqual([5, 2, 4]);
    expect(merged.latency[latencyBucket(10)]).toBe(2);
    expect(merged.latency[latencyBucket(500)]).toBe(1);
    expect(merged.latency.reduce((a, b) => a + b, 0)).toBe(3);
  });
});

describe('latency buckets and percentiles', () => {
  const bucketCases: Array<{ ms: number; bucket: number }> = [
    { ms: 0, bucket: 0 }, { ms: 1, bucket: 0 }, { ms: 1.5, bucket: 1 }, { ms: 100, bucket: LATENCY_BOUNDS_MS.indexOf(100) },
    { ms: 101, bucket: LATENCY_BOUNDS_MS.indexOf(150) }, { ms: 300_000, bucket: LATENCY_BOUNDS_MS.length - 1 }, { ms: 1e9, bucket: LATENCY_BOUNDS_MS.length },
  ];
  it.each(bucketCases)('$ms ms falls in bucket $bucket', ({ ms, bucket }) => expect(latencyBucket(ms)).toBe(bucket));

  it('has no percentile without samples', () => {
    expect(latencyPercentile(emptyRollup(), 50)).toBeNull();
  });

  it('estimates percentiles within the bucket of the true value', () => {
    // 100 samples: 1..100 ms.
    const samples = Array.from({ length: 100 }, (_, i) => i + 1);
    const r = rollup(100, 0, 0, samples);
    const cases: Array<[p: number, truth: number]> = [[50, 50], [95, 95], [99, 99]];
    for (const [p, truth] of cases) {
      const estimate = latencyPercentile(r, p)!;
      const bucket = latencyBucket(truth);
      const lower = bucket === 0 ? 0 : LATENCY_BOUNDS_MS[bucket - 1]!;
      expect(estimate).toBeGreaterThanOrEqual(lower);
      expect(estimate).toBeLessThanOrEqual(LATENCY_BOUNDS_MS[bucket]!);
    }
  });

  it('interpolates linearly inside a bucket', () => {
    // Four samples in (50, 75]: p50 is half-way through that bucket.
    const r = rollup(4, 0, 0, [60, 60, 60, 60]);
    expect(latencyPercentile(r, 50)).toBeCloseTo(62.5, 5);
    expect(latencyPercentile(r, 100)).toBeCloseTo(75, 5);
  });

  it('puts a single huge sample above the last bound', () => {
    const r = rollup(1, 0, 0, [1e9]);
    const last = LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
    expect(latencyPercentile(r, 99)!).toBeGreaterThan(last);
  });

  it('orders p50 <= p95 <= p99 on a skewed distribution', () => {
    const r = rollup(100, 0, 0, [...Array(90).fill(20), ...Array(9).fill(800), 5_000]);
    const [p50, p95, p99] = [50, 95, 99].map((p) => latencyPercentile(r, p)!);
    expect(p50).toBeLessThanOrEqual(20);
    expect(p95).toBeGreaterThan(750);
    expect(p95).toBeLessThanOrEqual(1_000);
    expect(p99).toBeGreaterThanOrEqual(p95);
  });
});
