import { describe, expect, it } from 'vitest';
import type { CheckDefinition } from '../../checks/contract.ts';
import { checkDeleteGuard, computePlan, diffValues, sameValue, shortenPlan } from '../../checks/plan.ts';

function http(id: string, overrides: Record<string, unknown> = {}): CheckDefinition {
  return {
    type: 'http', id, name: id, url: `http://127.0.0.1:9/${id}`, regions: ['us-east', 'eu-west'], frequencyMs: 60_000, timeoutMs: 5_000,
    failureThreshold: 2, successThreshold: 2, tags: [], method: 'GET', headers: {}, assertions: [{ type: 'status', op: 'equals', value: 200 }],
    followRedirects: true, maxRedirects: 5, maxBodyBytes: 1_048_576, secrets: [], ...overrides,
  } as CheckDefinition;
}

describe('diffValues', () => {
  it.each([
    ['equal scalars', 1, 1, []],
    ['a changed scalar', 1, 2, [{ path: '(value)', before: 1, after: 2 }]],
    ['key order and undefined keys do not matter', { a: 1, b: undefined }, { a: 1 }, []],
    ['a nested change', { a: { b: 1 } }, { a: { b: 2 } }, [{ path: 'a.b', before: 1, after: 2 }]],
    ['an added and a removed key', { a: 1 }, { b: 2 }, [{ path: 'a', before: 1 }, { path: 'b', after: 2 }]],
    ['arrays of plain values as a whole', { regions: ['a', 'b'] }, { regions: ['b', 'c'] }, [{ path: 'regions', before: ['a', 'b'], after: ['b', 'c'] }]],
    ['arrays of objects item by item', { list: [{ v: 1 }, { v: 2 }] }, { list: [{ v: 1 }, { v: 3 }, { v: 4 }] },
      [{ path: 'list.1.v', before: 2, after: 3 }, { path: 'list.2', after: { v: 4 } }]],
    ['an item removed from an array of objects', { list: [{ v: 1 }, { v: 2 }] }, { list: [{ v: 1 }] }, [{ path: 'list.1', before: { v: 2 } }]],
    ['a type change', { a: [1] }, { a: { x: 1 } }, [{ path: 'a', before: [1], after: { x: 1 } }]],
  ])('%s', (_name, before, after, expected) => {
    expect(diffValues(before, after)).toEqual(expected);
    expect(sameValue(before, after)).toBe(expected.length === 0);
  });
});

describe('computePlan', () => {
  const current = new Map([['a', http('a')], ['b', http('b')], ['c', http('c')]]);

  it('lists added, changed (property by property), removed (with prune) and unchanged checks, sorted', () => {
    const plan = computePlan(current, [
      http('d'),
      http('b', { frequencyMs: 30_000, headers: { authorization: 'Bearer {{secret:TOKEN}}' }, assertions: [{ type: 'status', op: 'equals', value: 204 }] }),
      http('a'),
    ], { prune: true });
    expect(plan).toEqual({
      added: ['d'],
      changed: [{ id: 'b', changes: [
        { path: 'assertions.0.value', before: 200, after: 204 },
        { path: 'frequencyMs', before: 60_000, after: 30_000 },
        { path: 'headers.authorization', after: 'Bearer {{secret:TOKEN}}' },
      ] }],
      removed: ['c'],
      unchanged: ['a'],
    });
  });

  it('keeps checks absent from the set without prune', () => {
    expect(computePlan(current, [http('a')], { prune: false })).toEqual({ added: [], changed: [], removed: [], unchanged: ['a'] });
  });

  it('shortens long values (a browser bundle) for display, keeping short ones', () => {
    const long = 'x'.repeat(5_000);
    const plan = computePlan(new Map([['a', http('a', { name: 'old' })]]), [http('a', { name: long })], { prune: false });
    const [change] = shortenPlan(plan).changed[0]!.changes;
    expect(change).toEqual({ path: 'name', before: 'old', after: expect.stringMatching(/^x{60}… \(5000 characters\)$/) });
  });
});

describe('checkDeleteGuard', () => {
  const removing = (n: number) => ({ removed: Array.from({ length: n }, (_, i) => `c${i}`) });
  it.each([
    ['nothing removed', 0, 10, 0.5, false, true],
    ['exactly the share', 5, 10, 0.5, false, true],
    ['more than the share', 6, 10, 0.5, false, false],
    ['more than the share, forced', 6, 10, 0.5, true, true],
    ['all of one check', 1, 1, 0.5, false, false],
    ['a zero share refuses any removal', 1, 10, 0, false, false],
    ['a full share allows removing everything', 10, 10, 1, false, true],
  ])('%s', (_name, removed, registered, share, force, allowed) => {
    const verdict = checkDeleteGuard(removing(removed), registered, share, force);
    expect(verdict.allowed).toBe(allowed);
    if (!verdict.allowed) expect(verdict.message).toMatch(new RegExp(`remove ${removed} of ${registered} deployed check\\(s\\).*--force`));
  });
});
