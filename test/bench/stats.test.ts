import { describe, expect, it } from 'vitest';
import { median, quantile, round, trimmedMean } from '../../bench/lib/stats.ts';

describe('bench stats', () => {
  it.each([
    { values: [], q: 0.5, expected: null },
    { values: [7], q: 0.99, expected: 7 },
    { values: [3, 1, 2], q: 0.5, expected: 2 },
    { values: [1, 2, 3, 4], q: 0.5, expected: 2.5 },
    { values: [0, 10], q: 0.9, expected: 9 },
    { values: [5, 1, 4, 2, 3], q: 0, expected: 1 },
    { values: [5, 1, 4, 2, 3], q: 1, expected: 5 },
  ])('quantile($values, $q) = $expected', ({ values, q, expected }) => {
    expect(quantile(values, q)).toBe(expected);
  });

  it.each([
    { values: [], trim: 0.2, expected: null },
    { values: [1, 2, 3], trim: 0, expected: 2 },
    { values: [100, 1, 2, 3, -100], trim: 0.2, expected: 2 },
    { values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 1000], trim: 0.1, expected: 5.5 },
  ])('trimmedMean($values, $trim) = $expected', ({ values, trim, expected }) => {
    expect(trimmedMean(values, trim)).toBe(expected);
  });

  it('refuses a quantile outside 0..1', () => {
    expect(() => quantile([1], 1.5)).toThrow(RangeError);
  });

  it('does not reorder its input', () => {
    const values = [3, 1, 2];
    expect(median(values)).toBe(2);
    expect(values).toEqual([3, 1, 2]);
  });

  it('rounds, keeping null and non-finite as null', () => {
    expect(round(0.1 + 0.2)).toBe(0.3);
    expect(round(1.23456, 3)).toBe(1.235);
    expect(round(null)).toBeNull();
    expect(round(Number.POSITIVE_INFINITY)).toBeNull();
  });
});
