/** Pure parts of the CLI: check selection patterns, plan lines, and report escaping. */
import { describe, expect, it } from 'vitest';
import { formatChange, planSummary } from '../../cli/plan-format.ts';
import { matchesPattern, splitArguments } from '../../cli/project.ts';
import { xml } from '../../cli/test-report.ts';

describe('check patterns', () => {
  const check = { id: 'api-health', file: 'checks/shop/api.check.ts' };
  it.each([
    ['api-health', true], ['api-*', true], ['*-health', true], ['api-?ealth', true], ['api', false],
    ['api.check.ts', true], ['checks/shop/*', true], ['checks/*.check.ts', true], ['shop', false], ['a.i-health', false],
  ])('%s matches: %s', (pattern, expected) => {
    expect(matchesPattern(check, pattern)).toBe(expected);
  });

  it('takes arguments that exist as paths and the rest as patterns', () => {
    expect(splitArguments(['checks', 'api-*', 'x.check.ts'], (p) => p !== 'api-*')).toEqual({ paths: ['checks', 'x.check.ts'], patterns: ['api-*'] });
  });
});

describe('plan lines', () => {
  it.each([
    [{ path: 'frequencyMs', before: 60_000, after: 30_000 }, 'frequency: 1m → 30s'],
    [{ path: 'timeoutMs', before: 10_000, after: 1_500 }, 'timeout: 10s → 1.5s'],
    [{ path: 'headers.accept', after: 'text/html' }, 'headers.accept: "text/html" (added)'],
    [{ path: 'tags', before: ['a'] }, 'tags: ["a"] (removed)'],
    [{ path: 'assertions.0.value', before: 200, after: 204 }, 'assertions.0.value: 200 → 204'],
  ])('%j', (change, line) => {
    expect(formatChange(change)).toBe(line);
  });

  it('summarises a plan', () => {
    expect(planSummary({ added: ['a'], changed: [], removed: ['b', 'c'], unchanged: ['d'] })).toBe('Plan: 1 to add, 0 to change, 2 to remove (1 unchanged).');
    expect(planSummary({ added: [], changed: [], removed: [], unchanged: ['d'] })).toBe('No changes: the 1 deployed check(s) already match.');
  });
});

describe('xml', () => {
  it('escapes markup and drops characters XML 1.0 forbids', () => {
    expect(xml(`<a href="x">Tom & 'Jerry'</a>\u0000\u001b[31m\ttab\n`)).toBe('&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;[31m\ttab\n');
  });
});
