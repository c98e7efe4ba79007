/** Small pure statistics helpers for the benchmark reports. */

/** The q-quantile (0..1) of `values` by linear interpolation between closest ranks; null when empty. */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be within 0..1, got ${q}`);
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

export const median = (values: readonly number[]): number | null => quantile(values, 0.5);

/** The mean without the `trim` share (0..0.5) of the lowest and of the highest values; null when nothing is left. */
export function trimmedMean(values: readonly number[], trim: number): number | null {
  if (!(trim >= 0 && trim < 0.5)) throw new RangeError(`trim must be within 0..0.5, got ${trim}`);
  const sorted = [...values].sort((a, b) => a - b);
  const cut = Math.floor(sorted.length * trim);
  const kept = sorted.slice(cut, sorted.length - cut);
  return kept.length === 0 ? null : kept.reduce((sum, value) => sum + value, 0) / kept.length;
}

/** Rounds to `digits` decimals (null stays null), so reports do not print 0.30000000000000004. */
export function round(value: number | null | undefined, digits = 2): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
