import { describe, expect, it } from 'vitest';
import { compileUserRegex, toLinearSource, userRegexProblem, type UserRegex } from '../../checks/regex.ts';

const compiled = (pattern: string): UserRegex => {
  const regex = compileUserRegex(pattern);
  if ('error' in regex) throw new Error(regex.error);
  return regex;
};

describe('toLinearSource', () => {
  it.each([
    ['^(a|aa)+$', '^(a|aa)+$', false],
    ['(?i:json)', 'json', true],
    ['(?i:[A-Z]+\\x41)', '[a-z]+\\x61', true],
    ['[0-9a-f]{32}', '(?:[0-9a-f]){16}(?:[0-9a-f]){16}', false],
    ['a{3,40}?b', '(?:a){3}(?:a){0,16}?(?:a){0,16}?(?:a){0,5}?b', false],
    ['(ab){20,}', '(?:(?:ab)){16}(?:(?:ab)){4}(?:(?:ab))*', false],
    ['\\(a\\){17}', '\\(a(?:\\)){16}(?:\\)){1}', false],
    ['(?<id>x){17}', '(?:(?:x)){16}(?:(?:x)){1}', false],
  ])('%s → %s', (pattern, source, foldCase) => {
    expect(toLinearSource(pattern)).toEqual({ source, foldCase });
  });

  it.each([
    ['(a)\\1', 'backreferences'],
    ['(?=x)', 'lookahead'],
    ['(?m:x)', 'inline flags'],
    ['x{1001}', 'above 1000'],
    ['a|(?i:b)', 'inline flags'],
  ])('refuses %s (%s)', (pattern, why) => {
    expect(userRegexProblem(pattern)).toContain(why);
  });

  it('refuses what is not a regular expression at all', () => {
    expect(userRegexProblem('(')).toContain('not a valid regular expression');
  });
});

describe('compileUserRegex', () => {
  it('matches like JavaScript, case-insensitively for (?i:…), with positions in the original text', () => {
    expect(compiled('(?i:application/JSON)').exec('xx Application/Json; charset=utf-8')).toEqual({ index: 3, length: 16 });
    expect(compiled('[0-9a-f]{32}').test(`id=${'ab'.repeat(16)}`)).toBe(true);
    expect(compiled('[0-9a-f]{32}').test('ab'.repeat(15))).toBe(false);
    expect(compiled('^(a|aa)+$').test('aaaa')).toBe(true);
  });

  it('answers a pathological pattern on hostile input (64 KiB) instead of backtracking exponentially', () => {
    // On the backtracking engine this pattern on 35 characters took about a second; doubling the input
    // squares that. Finishing at all is the behaviour; bench/sections/bad-input.ts measures the time.
    const input = `${'a'.repeat(64 * 1024)}b`;
    expect(compiled('^(a|aa)+$').test(input)).toBe(false);
    expect(compiled('(x+x+)+y').test('x'.repeat(64 * 1024))).toBe(false);
  });

  it('estimates more states for larger automata', () => {
    expect(compiled('(.*a){12}').states).toBeGreaterThan(compiled('json').states);
  });
});
