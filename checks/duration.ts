/**
 * Durations as people write them in check files: `'500ms'`, `'10s'`, `'1m'`, `'1h'`, `'30d'`, or `'1m30s'`.
 * Plain numbers are refused on purpose: `frequency: 60` could mean seconds or milliseconds.
 */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';
export type Duration = `${number}${DurationUnit}` | `${number}m${number}s`;

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** Parses a duration into milliseconds; returns an error message instead of throwing. */
export function parseDuration(input: unknown): { ms: number } | { error: string } {
  if (typeof input !== 'string' || input.trim() === '') {
    return { error: `expected a duration like "30s", "500ms" or "1m", got ${JSON.stringify(input)}` };
  }
  const text = input.trim();
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = PART.exec(text); match; match = PART.exec(text)) {
    total += Number(match[1]) * UNIT_MS[match[2] as DurationUnit];
    consumed = PART.lastIndex;
  }
  if (consumed !== text.length) {
    return { error: `expected a duration like "30s", "500ms" or "1m", got ${JSON.stringify(input)}` };
  }
  return { ms: Math.round(total) };
}

/** Formats milliseconds the way people read them: 1500 → "1.5s", 90000 → "1m30s". */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 60_000) return `${+(ms / 1_000).toFixed(3)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = +((ms % 60_000) / 1_000).toFixed(3);
  if (minutes < 60) return seconds ? `${minutes}m${seconds}s` : `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  const restMinutes = minutes % 60;
  return restMinutes ? `${hours}h${restMinutes}m` : `${hours}h`;
}
