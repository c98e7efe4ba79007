/** The degraded verdict (slow or soft-failed passes) and what makes a run degraded. */
import { describe, expect, it } from 'vitest';
import { degradedReason } from '../../../coordinator/detection/policy.ts';
import { playVerdict } from './verdict-steps.ts';

const play = playVerdict;

describe('degraded verdicts', () => {
  const cases: Array<{ name: string; steps: string; expected: string }> = [
    { name: 'a degraded first pass makes a fresh region degraded at once', steps: 'D', expected: 'degraded' },
    { name: 'a clean pass after a degraded one is up again', steps: 'PDP', expected: 'up degraded up' },
    { name: 'degraded passes keep resetting the failure streak (degraded is a pass)', steps: 'DFDF', expected: 'degraded degraded degraded degraded' },
    { name: 'failures take a degraded region down as from up', steps: 'DFF', expected: 'degraded degraded down' },
    { name: 'degraded passes count toward recovery, and recovery lands on degraded', steps: 'FFDD', expected: 'no-data down down degraded' },
    { name: 'recovery lands on up when the proving pass is clean', steps: 'FFDP', expected: 'no-data down down up' },
    { name: 'after no-data a degraded region last up is degraded at once', steps: 'DND', expected: 'degraded no-data degraded' },
  ];
  it.each(cases)('$name', ({ steps, expected }) => {
    expect(play(steps).statuses).toBe(expected);
  });

  it('counts degraded as up in lastKnown and moves since only on a status change', () => {
    const { verdict } = play('PDD');
    expect(verdict.lastKnown).toBe('up');
    expect(verdict.since).toBe(2_000);
  });
});

describe('degradedReason', () => {
  const softFailed = { passed: false, expected: 'status 200', actual: 'status 203', assertion: { soft: true } };
  const hardPassed = { passed: true, expected: 'status 200', actual: 'status 200', assertion: {} };
  const cases: Array<{ name: string; outcome: string; totalMs: number | null; assertions: Array<typeof softFailed | typeof hardPassed>; after: number | null; expected: unknown }> = [
    { name: 'fast clean pass', outcome: 'pass', totalMs: 100, assertions: [hardPassed], after: 500, expected: null },
    { name: 'slow pass', outcome: 'pass', totalMs: 700, assertions: [hardPassed], after: 500, expected: { slowMs: 700, softFailures: [] } },
    { name: 'exactly at the limit is not slow', outcome: 'pass', totalMs: 500, assertions: [], after: 500, expected: null },
    { name: 'no limit set: never slow', outcome: 'pass', totalMs: 60_000, assertions: [], after: null, expected: null },
    { name: 'failed soft assertion', outcome: 'pass', totalMs: 100, assertions: [hardPassed, softFailed], after: null, expected: { slowMs: null, softFailures: ['expected status 200, got status 203'] } },
    { name: 'a failed run is never degraded', outcome: 'fail', totalMs: 900, assertions: [softFailed], after: 500, expected: null },
    { name: 'a pass without timings is judged on assertions only', outcome: 'pass', totalMs: null, assertions: [], after: 500, expected: null },
  ];
  it.each(cases)('$name', ({ outcome, totalMs, assertions, after, expected }) => {
    expect(degradedReason({ outcome, timings: totalMs === null ? null : { totalMs }, assertions }, after)).toEqual(expected);
  });
});
