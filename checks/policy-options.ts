/**
 * The optional durations of the detection and alert options (`degradedAfter`, `confirmation.backoff`,
 * `alerting.reminderEvery`, `slo.latency.threshold`, …), turned from what people write (`'1s'`) into the
 * wire's milliseconds (`backoffMs`). Pure; used by normalize.ts.
 *
 * Only present values are converted: an absent one stays absent, so the coordinator's default applies.
 * `null` passes through (it means "off" where the contract allows it).
 */
import { parseDuration } from './duration.ts';

/** SDK path → wire path, for every optional duration in nested options. */
export const OPTIONAL_DURATION_FIELDS: ReadonlyArray<readonly [sdkPath: string, wirePath: string]> = [
  ['degradedAfter', 'degradedAfterMs'],
  ['confirmation.backoff', 'confirmation.backoffMs'],
  ['alerting.global.for', 'alerting.global.forMs'],
  ['alerting.reminderEvery', 'alerting.reminderEveryMs'],
  ['alerting.flapping.window', 'alerting.flapping.windowMs'],
  ['alerting.flapping.stableFor', 'alerting.flapping.stableForMs'],
  ['slo.availability.window', 'slo.availability.windowMs'],
  ['slo.latency.window', 'slo.latency.windowMs'],
  ['slo.latency.threshold', 'slo.latency.thresholdMs'],
];

/**
 * Converts, in `raw`, every optional duration that is set. Objects along a path are copied before they
 * change (they may be shared, e.g. with the project's defaults). Returns a problem per bad duration.
 */
export function convertOptionalDurations(raw: Record<string, unknown>): Array<{ field: string; message: string }> {
  const problems: Array<{ field: string; message: string }> = [];
  for (const [sdkPath, wirePath] of OPTIONAL_DURATION_FIELDS) {
    const parts = sdkPath.split('.');
    const key = parts.pop()!;
    const wireKey = wirePath.split('.').pop()!;
    const parent = ownedParent(raw, parts);
    if (!parent || !(key in parent)) continue;
    const value = parent[key];
    delete parent[key];
    if (value === undefined) continue;
    if (value === null) { parent[wireKey] = null; continue; }
    const parsed = parseDuration(value);
    if ('error' in parsed) problems.push({ field: sdkPath, message: parsed.error });
    else parent[wireKey] = parsed.ms;
  }
  return problems;
}

/** The SDK name of a wire path (or of a field under it), e.g. `confirmation.backoffMs` → `confirmation.backoff`; null when none. */
export function sdkDurationField(wirePath: string): string | null {
  for (const [sdkPath, wire] of OPTIONAL_DURATION_FIELDS) {
    if (wirePath === wire) return sdkPath;
  }
  return null;
}

/** The object at `path` inside `root`, copied (and re-attached) at every level; null when a level is not a plain object. */
function ownedParent(root: Record<string, unknown>, path: string[]): Record<string, unknown> | null {
  let current = root;
  for (const part of path) {
    const next = current[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) return null;
    const copy = { ...(next as Record<string, unknown>) };
    current[part] = copy;
    current = copy;
  }
  return current;
}
