import { describe, expect, it } from 'vitest';
import { Spool } from '../../../agent/results/spool.ts';

describe('Spool', () => {
  it('keeps entries in order and hands them out oldest first', () => {
    const spool = new Spool<number>(5);
    for (const n of [1, 2, 3]) spool.push(n);
    expect(spool.take(2)).toEqual([1, 2]);
    expect(spool.size).toBe(1);
    expect(spool.take(10)).toEqual([3]);
    expect(spool.take(1)).toEqual([]);
  });

  it('drops the oldest entries when full and counts them', () => {
    const spool = new Spool<number>(3);
    const drops = [1, 2, 3, 4, 5].map((n) => spool.push(n));
    expect(drops).toEqual([0, 0, 0, 1, 1]);
    expect(spool.dropped).toBe(2);
    expect(spool.take(10)).toEqual([3, 4, 5]);
  });

  it('puts a failed batch back in front of entries pushed meanwhile, dropping the oldest on overflow', () => {
    const spool = new Spool<number>(4);
    for (const n of [1, 2, 3]) spool.push(n);
    const batch = spool.take(2);
    spool.push(4);
    spool.push(5);
    expect(spool.restore(batch)).toBe(1);
    expect(spool.dropped).toBe(1);
    expect(spool.take(10)).toEqual([2, 3, 4, 5]);
  });

  it('stays correct over many pushes past capacity (the dead prefix is compacted)', () => {
    const spool = new Spool<number>(10_000);
    for (let n = 0; n < 25_000; n++) spool.push(n);
    expect(spool.size).toBe(10_000);
    expect(spool.dropped).toBe(15_000);
    expect(spool.take(2)).toEqual([15_000, 15_001]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new Spool(0)).toThrow(RangeError);
  });
});
