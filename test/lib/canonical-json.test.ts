import { describe, expect, it } from 'vitest';
import { canonicalJson, sameCanonicalJson } from '../../lib/canonical-json.ts';

class WithToJson { toJSON(): string { return 'x'; } }

// Each pair: sameCanonicalJson must answer exactly what comparing the canonical strings answers.
const pairs: Array<[string, unknown, unknown]> = [
  ['equal primitives', 1, 1],
  ['different numbers', 1, 2],
  ['0 and -0', 0, -0],
  ['NaN and null', NaN, null],
  ['Infinity and NaN', Infinity, NaN],
  ['NaN and 0', NaN, 0],
  ['number and string', 1, '1'],
  ['null and undefined', null, undefined],
  ['key order', { a: 1, b: { c: [1, 2], d: 'x' } }, { b: { d: 'x', c: [1, 2] }, a: 1 }],
  ['nested difference', { a: { b: [1, { c: 2 }] } }, { a: { b: [1, { c: 3 }] } }],
  ['undefined key is absent', { a: 1, b: undefined }, { a: 1 }],
  ['undefined key vs present', { a: 1, b: undefined }, { a: 1, b: null }],
  ['extra key', { a: 1 }, { a: 1, b: 2 }],
  ['same key count, different keys', { a: 1, b: undefined, c: 3 }, { a: 1, d: 3 }],
  ['undefined array element is null', [1, undefined], [1, null]],
  ['array lengths', [1], [1, 1]],
  ['array and object', [1], { 0: 1 }],
  ['empty object and empty array', {}, []],
  ['toJSON value', { a: new WithToJson() }, { a: 'x' }],
  ['Date', { at: new Date(0) }, { at: '1970-01-01T00:00:00.000Z' }],
  ['booleans', { a: true }, { a: false }],
];

describe('sameCanonicalJson', () => {
  it.each(pairs)('%s: agrees with comparing canonicalJson strings', (_name, a, b) => {
    const expected = canonicalJson(a) === canonicalJson(b);
    expect(sameCanonicalJson(a, b)).toBe(expected);
    expect(sameCanonicalJson(b, a)).toBe(expected);
  });

  it('answers both ways in the table (the table tests something)', () => {
    const answers = new Set(pairs.map(([, a, b]) => sameCanonicalJson(a, b)));
    expect([...answers].sort()).toEqual([false, true]);
  });
});
