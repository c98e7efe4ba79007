import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../checks/duration.ts';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500], ['10s', 10_000], ['1.5s', 1_500], ['1m', 60_000], ['1m30s', 90_000], ['2h', 7_200_000], [' 30s ', 30_000],
  ])('%s → %i ms', (input, ms) => {
    expect(parseDuration(input)).toEqual({ ms });
  });
  it.each([[60], ['60'], ['10x'], [''], ['s'], ['1 m'], [null], ['-5s']])('refuses %j with an explanation', (input) => {
    const parsed = parseDuration(input);
    expect(parsed).toHaveProperty('error');
    expect((parsed as { error: string }).error).toContain('expected a duration like');
  });
});

describe('formatDuration', () => {
  it.each([[500, '500ms'], [1_500, '1.5s'], [60_000, '1m'], [90_000, '1m30s'], [3_600_000, '1h'], [5_400_000, '1h30m']])('%i → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
