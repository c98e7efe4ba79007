/**
 * Turns what a check file exports (SDK objects, with durations like '30s') into wire definitions,
 * and validates them against the contract. Pure: returns diagnostics, never throws.
 */
import { CheckDefinition } from './contract.ts';
import type { Diagnostic } from './diagnostics.ts';
import { parseDuration } from './duration.ts';
import { CHECK_MARKER, type AnyCheck } from './sdk.ts';

export const DEFAULT_FREQUENCY = '1m';
export const DEFAULT_TIMEOUT = '10s';

/** SDK field → wire field, for durations. */
const DURATION_FIELDS = [
  ['frequency', 'frequencyMs', DEFAULT_FREQUENCY],
  ['timeout', 'timeoutMs', DEFAULT_TIMEOUT],
] as const;

/** `bundle`: the file's bundled code, which a browser check carries to the agents as its script. */
export function normalizeCheck(check: AnyCheck, file: string, bundle?: string): { definition?: CheckDefinition; problems: Diagnostic[] } {
  const problems: Diagnostic[] = [];
  const checkId = typeof check.id === 'string' ? check.id : undefined;
  const raw: Record<string, unknown> = { ...check };
  delete raw[CHECK_MARKER];
  if (raw.type === 'browser') {
    if (typeof raw.script !== 'function') problems.push({ file, checkId, field: 'script', message: 'script must be an async function ({ page, step, expect }) => { … }' });
    if (bundle === undefined) problems.push({ file, checkId, field: 'script', message: 'internal: browser checks need their bundled code' });
    raw.script = { bundle: bundle ?? '', file };
  }
  for (const [sdkField, wireField, fallback] of DURATION_FIELDS) {
    const parsed = parseDuration(raw[sdkField] ?? fallback);
    delete raw[sdkField];
    if ('error' in parsed) problems.push({ file, checkId, field: sdkField, message: parsed.error });
    else raw[wireField] = parsed.ms;
  }
  // Validate the rest even when a duration was bad, so that every problem is reported at once.
  const result = CheckDefinition.safeParse(raw);
  if (!result.success) {
    const badDurations = new Set(problems.map((p) => p.field));
    for (const issue of result.error.issues) {
      const field = sdkFieldName(issue.path.map(String).join('.'));
      if (!badDurations.has(field)) problems.push({ file, checkId, field, message: issue.message });
    }
  }
  return problems.length > 0 || !result.success ? { problems } : { definition: result.data, problems };
}

/** Reports wire field names as the user wrote them (`timeoutMs` → `timeout`). */
function sdkFieldName(path: string): string {
  for (const [sdkField, wireField] of DURATION_FIELDS) {
    if (path === wireField) return sdkField;
  }
  return path;
}
