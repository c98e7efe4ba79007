/** The pure helpers the benchmark sections decide with. */
import { describe, expect, it } from 'vitest';
import { areaOf, summarizeProfile } from '../../bench/lib/profile-summary.ts';
import { cellFigures, numericLeaves, smokeArgs } from '../../bench/sections/browser-section.ts';
import { browserFlagFrom } from '../../bench/sections/memory.ts';
import { auditSlots } from '../../bench/sections/scheduling.ts';
import { curlPhases } from '../../bench/sections/timing-accuracy.ts';

describe('auditSlots', () => {
  const every = 60_000;
  const next = 1_000_000 + 2 * every; // pending slot; earlier slots at 1_060_000 and 1_000_000
  it.each([
    { runs: [1_000_000, 1_060_000], from: 999_000, certainFrom: 999_000, until: 1_100_000, expected: { expected: 2, observed: 2, missed: 0, offGrid: 0 } },
    { runs: [1_000_000], from: 999_000, certainFrom: 999_000, until: 1_100_000, expected: { expected: 2, observed: 1, missed: 1, offGrid: 0 } },
    // Before the deployment began nothing is expected; the pending slot past `until` neither.
    { runs: [1_060_000], from: 1_030_000, certainFrom: 1_030_000, until: 1_100_000, expected: { expected: 1, observed: 1, missed: 0, offGrid: 0 } },
    // During the deployment, a slot counts only if it ran (the scheduler may not have existed yet).
    { runs: [1_060_000], from: 990_000, certainFrom: 1_010_000, until: 1_100_000, expected: { expected: 1, observed: 1, missed: 0, offGrid: 0 } },
    { runs: [1_000_000, 1_060_000], from: 990_000, certainFrom: 1_010_000, until: 1_100_000, expected: { expected: 2, observed: 2, missed: 0, offGrid: 0 } },
    { runs: [1_000_000, 1_060_000, 1_030_000], from: 999_000, certainFrom: 999_000, until: 1_100_000, expected: { expected: 2, observed: 2, missed: 0, offGrid: 1 } },
    { runs: [], from: 999_000, certainFrom: 999_000, until: 1_200_000, expected: { expected: 3, observed: 0, missed: 3, offGrid: 0 } },
  ])('runs $runs in [$from ($certainFrom), $until]', ({ runs, from, certainFrom, until, expected }) => {
    expect(auditSlots(next, every, from, certainFrom, until, new Set(runs))).toEqual(expected);
  });
});

describe('curlPhases', () => {
  it('turns cumulative seconds into Lookout phases', () => {
    const w = { namelookup: 0.0002, connect: 0.0005, appconnect: 0.0025, starttransfer: 0.0035 };
    const https = curlPhases(w, true);
    expect(https.dns).toBeCloseTo(0.2);
    expect(https.connect).toBeCloseTo(0.3);
    expect(https.tls).toBeCloseTo(2);
    expect(https.firstByte).toBeCloseTo(1);
    const http = curlPhases({ ...w, appconnect: 0 }, false);
    expect(http.tls).toBeNull();
    expect(http.firstByte).toBeCloseTo(3);
  });
});

describe('browserFlagFrom', () => {
  it.each([
    { help: '  --region <value>   Region\n  --concurrency <value>  Runs', expected: null },
    { help: '  --enable-browser        Run browser checks', expected: ['--enable-browser'] },
    { help: '  --browser <on|off>      Browser checks', expected: ['--browser', 'on'] },
    { help: '  --browser-checks <value>  Serve browser checks', expected: ['--browser-checks', 'true'] },
    { help: '  --browser-checks <value>     Run browser checks in Chromium: on or off (default: off)', expected: ['--browser-checks', 'on'] },
    { help: '  --browser-concurrency <value>  Browser runs at once', expected: null },
  ])('$help', ({ help, expected }) => {
    expect(browserFlagFrom(help)).toEqual(expected);
  });
});

describe('browser section helpers', () => {
  it('finds the numbers of any JSON, by path, up to a limit', () => {
    expect(numericLeaves({ a: 1, b: { c: [2, 'x', { d: 3 }] }, e: null, f: Number.NaN })).toEqual([
      { path: 'a', value: 1 }, { path: 'b.c[0]', value: 2 }, { path: 'b.c[2].d', value: 3 },
    ]);
    expect(numericLeaves([1, 2, 3], 2)).toHaveLength(2);
  });

  it('puts the browser runner beside raw Playwright per concurrency', () => {
    const figures = cellFigures({ cells: [
      { impl: 'lookout', concurrency: 1, perSecond: 2, pssMeanMiB: 300, pssPeakMiB: 350 },
      { impl: 'raw', concurrency: 1, perSecond: 4, pssMeanMiB: 250, pssPeakMiB: 280 },
      { impl: 'lookout', concurrency: 2, perSecond: 3 },
    ] });
    expect(figures.map((f) => [f.name, f.value, f.limit?.value, f.ratio])).toEqual([
      ['journeys/s at concurrency 1', 2, 4, 0.5],
      ['browser PSS mean at concurrency 1', 300, 250, 1.2],
      ['browser PSS peak at concurrency 1', 350, 280, 1.25],
      ['journeys/s at concurrency 2', 3, null, null],
      ['browser PSS mean at concurrency 2', null, null, null],
      ['browser PSS peak at concurrency 2', null, null, null],
    ]);
    expect(cellFigures({ other: 1 })).toEqual([]);
  });

  it.each([
    { source: "parseArgs({ options: { smoke: { type: 'boolean' } } })", expected: ['--smoke'] },
    { source: "parseArgs({ options: { 'seconds-per-cell': { type: 'string' } } })", expected: ['--seconds-per-cell', '1'] },
    { source: 'nothing to see', expected: [] },
  ])('smoke flags of $source', ({ source, expected }) => {
    expect(smokeArgs(source)).toEqual(expected);
  });
});

describe('profile summary', () => {
  it.each([
    { url: 'file:///w/node_modules/bullmq/dist/cjs/classes/job.js', fn: 'x', area: 'bullmq' },
    { url: 'file:///w/node_modules/@scope/pkg/index.js', fn: 'x', area: '@scope/pkg' },
    { url: 'node:net', fn: 'x', area: 'node:internal' },
    { url: 'file:///w/agent/worker.ts', fn: 'x', area: 'lookout:agent' },
    { url: '', fn: '(garbage collector)', area: '(garbage collector)' },
    { url: '', fn: 'writeBuffer', area: '(native)' },
  ])('$url $fn → $area', ({ url, fn, area }) => {
    expect(areaOf(url, fn)).toBe(area);
  });

  it('sums self time by area and function, leaving idle out', () => {
    const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });
    const summary = summarizeProfile({
      startTime: 0, endTime: 10,
      nodes: [
        { id: 1, callFrame: frame('(root)', '') , children: [2, 3, 4] },
        { id: 2, callFrame: frame('(idle)', '') },
        { id: 3, callFrame: frame('run', 'file:///w/agent/run.ts') },
        { id: 4, callFrame: frame('add', 'file:///w/node_modules/bullmq/q.js') },
      ],
      samples: [2, 3, 3, 4, 2],
      timeDeltas: [1000, 1000, 1000, 2000, 5000],
    });
    expect(summary.busyMs).toBe(4);
    expect(summary.byArea).toEqual([{ area: 'lookout:agent', ms: 2, share: 0.5 }, { area: 'bullmq', ms: 2, share: 0.5 }]);
    expect(summary.topFunctions[0]).toEqual({ fn: 'run agent/run.ts:1', ms: 2, share: 0.5 });
  });
});
