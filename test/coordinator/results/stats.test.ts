import { describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, MINUTE_MS, decodeRollupHash, rollupKinds, rollupSlot } from '../../../coordinator/results/rollups.ts';
import { hashesToRead, summarizeWindows } from '../../../coordinator/results/stats.ts';
import { latencyBucket } from '../../../coordinator/results/uptime.ts';

// A fixed "now": 2030-01-10 12:30:15 UTC.
const NOW = Date.UTC(2030, 0, 10, 12, 30, 15);

/** Builds rollup hashes from runs (time, outcome) exactly as the ingest script writes them. */
function hashes(runs: Array<[at: number, outcome: 'pass' | 'fail' | 'error']>) {
  const minute = new Map<number, Record<string, string>>();
  const hour = new Map<number, Record<string, string>>();
  const bump = (map: Map<number, Record<string, string>>, key: number, field: string) => {
    const hash = map.get(key) ?? {};
    hash[field] = String(Number(hash[field] ?? 0) + 1);
    map.set(key, hash);
  };
  for (const [at, outcome] of runs) {
    const slot = rollupSlot(at);
    for (const kind of rollupKinds({ outcome, timings: outcome === 'error' ? null : { dnsMs: null, connectMs: null, tlsMs: null, firstByteMs: null, downloadMs: null, totalMs: 100 } })) {
      bump(minute, slot.hourStart, `${slot.minuteOfHour}:${kind}`);
      bump(hour, slot.dayStart, `${slot.hourOfDay}:${kind}`);
    }
  }
  return { minute, hour };
}

describe('rollup encoding', () => {
  it('slots a time into its hour and day hashes', () => {
    expect(rollupSlot(NOW)).toEqual({ hourStart: Date.UTC(2030, 0, 10, 12), minuteOfHour: 30, dayStart: Date.UTC(2030, 0, 10), hourOfDay: 12 });
  });
  it('counts outcomes and the latency of target results only', () => {
    const timings = { dnsMs: null, connectMs: null, tlsMs: null, firstByteMs: null, downloadMs: null, totalMs: 42 };
    expect(rollupKinds({ outcome: 'pass', timings })).toEqual(['p', `l${latencyBucket(42)}`]);
    expect(rollupKinds({ outcome: 'fail', timings: null })).toEqual(['f']);
    expect(rollupKinds({ outcome: 'error', timings })).toEqual(['e']);
  });
  it('decodes fields and ignores foreign ones', () => {
    const decoded = decodeRollupHash({ '3:p': '2', '3:f': '1', '3:l4': '3', '7:e': '5', junk: '1', '3:x': '9' });
    expect(decoded.get(3)).toMatchObject({ pass: 2, fail: 1, error: 0 });
    expect(decoded.get(3)!.latency[4]).toBe(3);
    expect(decoded.get(7)).toMatchObject({ error: 5 });
    expect(decoded.size).toBe(2);
  });
});

describe('uptime windows', () => {
  it('reads 25 minute hashes and 31 hour hashes', () => {
    const { hourStarts, dayStarts } = hashesToRead(NOW);
    expect(hourStarts).toHaveLength(25);
    expect(hourStarts.at(-1)).toBe(Date.UTC(2030, 0, 10, 12));
    expect(dayStarts).toHaveLength(31);
    expect(dayStarts.at(-1)).toBe(Date.UTC(2030, 0, 10));
  });

  const cases: Array<{ name: string; runs: Array<[number, 'pass' | 'fail' | 'error']>; uptime: Record<string, number | null> }> = [
    { name: 'nothing at all', runs: [], uptime: { '1h': null, '24h': null, '7d': null, '30d': null } },
    { name: 'a failure this minute counts everywhere', runs: [[NOW, 'pass'], [NOW, 'fail']], uptime: { '1h': 0.5, '24h': 0.5, '7d': 0.5, '30d': 0.5 } },
    { name: 'a failure 59 minutes ago is in 1h, one 60 minutes ago is not', runs: [[NOW, 'pass'], [NOW - 59 * MINUTE_MS, 'fail'], [NOW - 60 * MINUTE_MS, 'fail']],
      uptime: { '1h': 0.5, '24h': 1 / 3, '7d': 1 / 3, '30d': 1 / 3 } },
    { name: 'a failure 2 days ago is only in 7d and 30d', runs: [[NOW, 'pass'], [NOW - 2 * DAY_MS, 'fail']], uptime: { '1h': 1, '24h': 1, '7d': 0.5, '30d': 0.5 } },
    { name: 'a failure 10 days ago is only in 30d', runs: [[NOW, 'pass'], [NOW - 10 * DAY_MS, 'fail']], uptime: { '1h': 1, '24h': 1, '7d': 1, '30d': 0.5 } },
    { name: 'a failure 31 days ago is in no window', runs: [[NOW, 'pass'], [NOW - 31 * DAY_MS, 'fail']], uptime: { '1h': 1, '24h': 1, '7d': 1, '30d': 1 } },
    { name: 'agent errors are excluded', runs: [[NOW, 'pass'], [NOW, 'error'], [NOW, 'error']], uptime: { '1h': 1, '24h': 1, '7d': 1, '30d': 1 } },
    { name: 'the 24h window ends 1,440 minutes back', runs: [[NOW, 'pass'], [NOW - 1_439 * MINUTE_MS, 'fail'], [NOW - 1_440 * MINUTE_MS, 'fail']],
      uptime: { '1h': 1, '24h': 0.5, '7d': 1 / 3, '30d': 1 / 3 } },
    { name: 'the 7d window ends 168 hours back', runs: [[NOW, 'pass'], [NOW - 167 * HOUR_MS, 'fail'], [NOW - 168 * HOUR_MS, 'fail']],
      uptime: { '1h': 1, '24h': 1, '7d': 0.5, '30d': 1 / 3 } },
  ];
  it.each(cases)('$name', ({ runs, uptime }) => {
    const { minute, hour } = hashes(runs);
    const stats = summarizeWindows(minute, hour, NOW);
    for (const [window, value] of Object.entries(uptime)) {
      if (value === null) expect(stats.uptime[window as '1h']).toBeNull();
      else expect(stats.uptime[window as '1h']).toBeCloseTo(value, 10);
    }
  });

  it('computes latency percentiles over 24 h of target results', () => {
    const { minute, hour } = hashes([[NOW, 'pass'], [NOW - HOUR_MS, 'fail'], [NOW, 'error'], [NOW - 2 * DAY_MS, 'pass']]);
    const stats = summarizeWindows(minute, hour, NOW);
    expect(stats.latency).toMatchObject({ window: '24h', samples: 2 });
    expect(stats.latency.p50).toBeGreaterThan(75);
    expect(stats.latency.p50).toBeLessThanOrEqual(100);
    expect(stats.counts24h).toEqual({ pass: 1, fail: 1, error: 1 });
  });
});
