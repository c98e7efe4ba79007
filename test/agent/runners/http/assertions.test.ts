import { describe, expect, it } from 'vitest';
import { Assertion } from '../../../../checks/contract.ts';
import {
  assertionsNeedBody, describeFailures, evaluateAssertion, evaluateAssertions, jsonEqual, lazyJson, parsePath, resolvePath,
  type ResponseFacts,
} from '../../../../agent/runners/http/assertions.ts';

function facts(over: Partial<Omit<ResponseFacts, 'json'>> & { bodyText?: string } = {}): ResponseFacts {
  const bodyText = over.bodyText ?? '{"data":{"items":[{"id":7,"tags":["a","b"]}],"ok":true,"nothing":null},"name":"lookout"}';
  return {
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8', 'set-cookie': ['a=1', 'b=2'] },
    totalMs: 120.4,
    ...over,
    bodyText,
    json: lazyJson(() => bodyText),
  };
}

/** Every case goes through the contract's schema first: what the evaluator gets is what the wire allows. */
const cases: Array<{ name: string; assertion: unknown; facts?: ResponseFacts; passed: boolean; expected: string; actual: string | RegExp }> = [
  { name: 'status equals, pass', assertion: { type: 'status', op: 'equals', value: 200 }, passed: true, expected: 'status 200', actual: 'status 200' },
  { name: 'status equals, fail', assertion: { type: 'status', op: 'equals', value: 200 }, facts: facts({ status: 503 }), passed: false, expected: 'status 200', actual: 'status 503' },
  { name: 'status oneOf', assertion: { type: 'status', op: 'oneOf', values: [200, 204] }, facts: facts({ status: 204 }), passed: true, expected: 'status one of 200, 204', actual: 'status 204' },
  { name: 'status oneOf, fail', assertion: { type: 'status', op: 'oneOf', values: [200, 204] }, facts: facts({ status: 404 }), passed: false, expected: 'status one of 200, 204', actual: 'status 404' },
  { name: 'status between, lower bound', assertion: { type: 'status', op: 'between', min: 200, max: 299 }, passed: true, expected: 'status between 200 and 299', actual: 'status 200' },
  { name: 'status between, above', assertion: { type: 'status', op: 'between', min: 200, max: 299 }, facts: facts({ status: 301 }), passed: false, expected: 'status between 200 and 299', actual: 'status 301' },

  { name: 'header exists, any case', assertion: { type: 'header', name: 'Content-Type', op: 'exists' }, passed: true, expected: 'a content-type header', actual: 'content-type: "application/json; charset=utf-8"' },
  { name: 'header exists, absent', assertion: { type: 'header', name: 'x-cache', op: 'exists' }, passed: false, expected: 'a x-cache header', actual: 'no x-cache header' },
  { name: 'header equals', assertion: { type: 'header', name: 'content-type', op: 'equals', value: 'application/json; charset=utf-8' }, passed: true, expected: 'content-type: "application/json; charset=utf-8"', actual: 'content-type: "application/json; charset=utf-8"' },
  { name: 'header equals, other value', assertion: { type: 'header', name: 'content-type', op: 'equals', value: 'text/html' }, passed: false, expected: 'content-type: "text/html"', actual: 'content-type: "application/json; charset=utf-8"' },
  { name: 'header contains', assertion: { type: 'header', name: 'CONTENT-TYPE', op: 'contains', value: 'json' }, passed: true, expected: 'content-type containing "json"', actual: 'content-type: "application/json; charset=utf-8"' },
  { name: 'header contains, absent header', assertion: { type: 'header', name: 'x-missing', op: 'contains', value: 'a' }, passed: false, expected: 'x-missing containing "a"', actual: 'no x-missing header' },
  { name: 'header matches a repeated header', assertion: { type: 'header', name: 'set-cookie', op: 'matches', value: '^a=1, b=\\d$' }, passed: true, expected: 'set-cookie matching /^a=1, b=\\d$/', actual: 'set-cookie: "a=1, b=2"' },
  { name: 'header matches, no match', assertion: { type: 'header', name: 'content-type', op: 'matches', value: '^text/' }, passed: false, expected: 'content-type matching /^text//', actual: 'content-type: "application/json; charset=utf-8"' },

  { name: 'body contains', assertion: { type: 'body', op: 'contains', value: 'lookout' }, passed: true, expected: 'body containing "lookout"', actual: /^found at character 79: ".*lookout.*"$/ },
  { name: 'body contains, missing: shows an excerpt', assertion: { type: 'body', op: 'contains', value: 'Welcome' }, facts: facts({ bodyText: '<html>\n  <h1>Maintenance</h1>\n</html>' }), passed: false, expected: 'body containing "Welcome"', actual: 'body "<html> <h1>Maintenance</h1> </html>"' },
  { name: 'body contains, empty body', assertion: { type: 'body', op: 'contains', value: 'x' }, facts: facts({ bodyText: '' }), passed: false, expected: 'body containing "x"', actual: 'an empty body' },
  { name: 'body notContains', assertion: { type: 'body', op: 'notContains', value: 'error' }, facts: facts({ bodyText: 'all good' }), passed: true, expected: 'body not containing "error"', actual: 'body "all good"' },
  { name: 'body notContains, present', assertion: { type: 'body', op: 'notContains', value: 'error' }, facts: facts({ bodyText: 'an error happened' }), passed: false, expected: 'body not containing "error"', actual: 'found at character 3: "an error happened"' },
  { name: 'body matches', assertion: { type: 'body', op: 'matches', value: '"id":\\d+' }, passed: true, expected: 'body matching /"id":\\d+/', actual: /^matched at character 19: ".*\\"id\\":7.*"$/ },
  { name: 'body matches, no match', assertion: { type: 'body', op: 'matches', value: 'v\\d+\\.\\d+' }, facts: facts({ bodyText: 'hello' }), passed: false, expected: 'body matching /v\\d+\\.\\d+/', actual: 'no match in body "hello"' },
  { name: 'long body is cut in the excerpt', assertion: { type: 'body', op: 'contains', value: 'zzz' }, facts: facts({ bodyText: 'a'.repeat(5000) }), passed: false, expected: 'body containing "zzz"', actual: `body "${'a'.repeat(120)}…"` },

  { name: 'jsonPath exists', assertion: { type: 'jsonPath', path: '$.data.items[0].id', op: 'exists' }, passed: true, expected: '$.data.items[0].id to exist', actual: '$.data.items[0].id = 7' },
  { name: 'jsonPath exists, null counts as present', assertion: { type: 'jsonPath', path: '$.data.nothing', op: 'exists' }, passed: true, expected: '$.data.nothing to exist', actual: '$.data.nothing = null' },
  { name: 'jsonPath exists, missing key', assertion: { type: 'jsonPath', path: '$.data.missing.x', op: 'exists' }, passed: false, expected: '$.data.missing.x to exist', actual: '$.data has no key "missing"' },
  { name: 'jsonPath exists, index out of range', assertion: { type: 'jsonPath', path: '$.data.items[3]', op: 'exists' }, passed: false, expected: '$.data.items[3] to exist', actual: '$.data.items has 1 item, no [3]' },
  { name: 'jsonPath exists, index into an object', assertion: { type: 'jsonPath', path: '$.data[0]', op: 'exists' }, passed: false, expected: '$.data[0] to exist', actual: '$.data is an object, not an array' },
  { name: 'jsonPath exists, key into a string', assertion: { type: 'jsonPath', path: 'name.first', op: 'exists' }, passed: false, expected: 'name.first to exist', actual: '$.name is a string "lookout", not an object' },
  { name: 'jsonPath equals a number', assertion: { type: 'jsonPath', path: '$.data.items[0].id', op: 'equals', value: 7 }, passed: true, expected: '$.data.items[0].id = 7', actual: '$.data.items[0].id = 7' },
  { name: 'jsonPath equals, deep', assertion: { type: 'jsonPath', path: '$.data.items[0]', op: 'equals', value: { tags: ['a', 'b'], id: 7 } }, passed: true, expected: '$.data.items[0] = {"tags":["a","b"],"id":7}', actual: '$.data.items[0] = {"id":7,"tags":["a","b"]}' },
  { name: 'jsonPath equals, deep difference', assertion: { type: 'jsonPath', path: '$.data.items[0].tags', op: 'equals', value: ['b', 'a'] }, passed: false, expected: '$.data.items[0].tags = ["b","a"]', actual: '$.data.items[0].tags = ["a","b"]' },
  { name: 'jsonPath equals, "7" is not 7', assertion: { type: 'jsonPath', path: '$.data.items[0].id', op: 'equals', value: '7' }, passed: false, expected: '$.data.items[0].id = "7"', actual: '$.data.items[0].id = 7' },
  { name: 'jsonPath equals, no value given', assertion: { type: 'jsonPath', path: '$.data.ok', op: 'equals' }, passed: false, expected: '$.data.ok = (no value)', actual: '$.data.ok = true' },
  { name: 'jsonPath root', assertion: { type: 'jsonPath', path: '$', op: 'equals', value: [1, 2] }, facts: facts({ bodyText: '[1,2]' }), passed: true, expected: '$ = [1,2]', actual: '$ = [1,2]' },
  { name: 'jsonPath on a non-JSON body', assertion: { type: 'jsonPath', path: '$.a', op: 'exists' }, facts: facts({ bodyText: '<html>' }), passed: false, expected: '$.a to exist', actual: /^body is not JSON: .+/ },

  { name: 'responseTime', assertion: { type: 'responseTime', op: 'lessThan', ms: 500 }, passed: true, expected: 'response time under 500 ms', actual: 'response time 120 ms' },
  { name: 'responseTime, too slow', assertion: { type: 'responseTime', op: 'lessThan', ms: 100 }, passed: false, expected: 'response time under 100 ms', actual: 'response time 120 ms' },
  { name: 'responseTime, equal is not less', assertion: { type: 'responseTime', op: 'lessThan', ms: 120.4 }, passed: false, expected: 'response time under 120.4 ms', actual: 'response time 120 ms' },
];

describe('evaluateAssertion', () => {
  it.each(cases)('$name', ({ assertion, facts: given, passed, expected, actual }) => {
    const parsed = Assertion.parse(assertion);
    const result = evaluateAssertion(parsed, given ?? facts());
    expect(result.assertion).toEqual(parsed);
    expect(result.passed).toBe(passed);
    expect(result.expected).toBe(expected);
    if (typeof actual === 'string') expect(result.actual).toBe(actual);
    else expect(result.actual).toMatch(actual);
  });

  it('reads neither body nor JSON for status, header and time assertions', () => {
    let bodyReads = 0;
    let jsonReads = 0;
    const counting: ResponseFacts = {
      status: 200,
      headers: {},
      totalMs: 1,
      get bodyText() { bodyReads++; return ''; },
      json: () => { jsonReads++; return { ok: true, value: null }; },
    };
    const list = [{ type: 'status', op: 'equals', value: 200 }, { type: 'header', name: 'a', op: 'exists' }, { type: 'responseTime', op: 'lessThan', ms: 5 }]
      .map((a) => Assertion.parse(a));
    expect(evaluateAssertions(list, counting).map((r) => r.passed)).toEqual([true, false, true]);
    expect({ bodyReads, jsonReads }).toEqual({ bodyReads: 0, jsonReads: 0 });
    expect(assertionsNeedBody(list)).toBe(false);
    expect(assertionsNeedBody([...list, Assertion.parse({ type: 'jsonPath', path: '$.a', op: 'exists' })])).toBe(true);
  });

  it('parses the body as JSON once for several jsonPath assertions', () => {
    let reads = 0;
    const json = lazyJson(() => { reads++; return '{"a":1}'; });
    const shared: ResponseFacts = { status: 200, headers: {}, totalMs: 1, bodyText: '{"a":1}', json };
    const list = [{ type: 'jsonPath', path: '$.a', op: 'exists' }, { type: 'jsonPath', path: '$.a', op: 'equals', value: 1 }].map((a) => Assertion.parse(a));
    expect(evaluateAssertions(list, shared).every((r) => r.passed)).toBe(true);
    expect(reads).toBe(1);
  });
});

describe('describeFailures', () => {
  it('lists each failed assertion with what was expected and seen', () => {
    const results = evaluateAssertions(
      [{ type: 'status', op: 'equals', value: 200 }, { type: 'body', op: 'contains', value: 'ok' }, { type: 'responseTime', op: 'lessThan', ms: 50 }]
        .map((a) => Assertion.parse(a)),
      facts({ status: 503, bodyText: 'down for maintenance', totalMs: 20 }),
    );
    expect(describeFailures(results)).toBe(
      '2 of 3 assertions failed: expected status 200, got status 503; expected body containing "ok", got body "down for maintenance"');
  });
});

describe('JSON paths', () => {
  it.each([
    ['$', []],
    ['$.a', ['a']],
    ['a.b', ['a', 'b']],
    ['$.data.items[0].id', ['data', 'items', 0, 'id']],
    ['$[2][0]', [2, 0]],
    ['$.with-dash.$dollar', ['with-dash', '$dollar']],
    ['$a', ['$a']],
  ])('parses %s', (path, segments) => {
    expect(parsePath(path)).toEqual(segments);
  });

  it.each(['$.', 'a..b', '$.a[x]', '$.a[-1]', 'a b', '$.a]', 'a[0]b'])('refuses %s', (path) => {
    expect(parsePath(path)).toBeNull();
  });

  it('follows own properties only, never the prototype chain', () => {
    const root: unknown = JSON.parse('{"a":{}}');
    expect(resolvePath(root, ['a', 'constructor'])).toEqual({ found: false, missing: '$.a has no key "constructor"' });
    expect(resolvePath(JSON.parse('{"__proto__":{"x":1}}'), ['__proto__', 'x'])).toEqual({ found: true, value: 1 });
  });

  it.each([
    [1, 1, true], ['a', 'a', true], [null, null, true], [null, 0, false], [[], {}, false],
    [{ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }, true], [{ a: 1 }, { a: 1, b: undefined }, false], [[1, 2], [1, 2, 3], false],
  ])('jsonEqual(%j, %j) is %s', (a, b, equal) => {
    expect(jsonEqual(a, b)).toBe(equal);
  });
});
