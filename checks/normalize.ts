/**
 * Turns what a check file exports (SDK objects, with durations like '30s') into wire definitions,
 * and validates them against the contract. Pure: returns diagnostics, never throws.
 */
import { zodProblems } from '../lib/zod-problems.ts';
import { checkTypeTraits, type CheckTypeTraits } from './check-types.ts';
import { CheckDefinition } from './contract.ts';
import type { Diagnostic } from './diagnostics.ts';
import { parseDuration } from './duration.ts';
import { convertOptionalDurations, sdkDurationField } from './policy-options.ts';
import type { CheckDefaults } from './project.ts';
import { CHECK_MARKER, type AnyCheck } from './sdk.ts';
import { referencedSecrets } from './secret-references.ts';
import { isSecretField, malformedSecretReference, mentionsSecret } from './secrets.ts';
import { unknownFields } from './unknown-fields.ts';

export const DEFAULT_FREQUENCY = '1m';
export const DEFAULT_TIMEOUT = '10s';

/** SDK field → wire field, for durations. */
const DURATION_FIELDS = [
  ['frequency', 'frequencyMs', DEFAULT_FREQUENCY],
  ['timeout', 'timeoutMs', DEFAULT_TIMEOUT],
] as const;

/**
 * `bundle`: the file's bundled code, which a browser check carries to the agents as its script.
 * `defaults`: the project's defaults (lookout.config.ts), used for every option the check leaves unset.
 */
export function normalizeCheck(check: AnyCheck, file: string, bundle?: string, defaults: CheckDefaults = {}): { definition?: CheckDefinition; problems: Diagnostic[] } {
  const problems: Diagnostic[] = [];
  const checkId = typeof check.id === 'string' ? check.id : undefined;
  const own: Record<string, unknown> = Object.fromEntries(Object.entries(check).filter(([, value]) => value !== undefined));
  delete own[CHECK_MARKER];
  const inherited = new Set(Object.keys(defaults).filter((key) => !(key in own)));
  const raw: Record<string, unknown> = { ...defaults, ...own };
  // Unknown types are left to the schema, which names the valid ones.
  const traits = checkTypeTraits(raw.type);
  if (traits?.script) {
    if (typeof raw.script !== 'function') problems.push({ file, checkId, field: 'script', message: `script must be ${traits.script.shape}` });
    if (bundle === undefined) problems.push({ file, checkId, field: 'script', message: `internal: ${String(raw.type)} checks need their bundled code` });
    raw.script = { bundle: bundle ?? '', file };
  }
  if (raw.regions === undefined) {
    problems.push({ file, checkId, field: 'regions', message: 'regions is required: set it on the check, or as defaults.regions in lookout.config.ts' });
  }
  // A check of an unknown type resolves no secret; its placeholders are reported too, with everything else.
  problems.push(...secretReferenceProblems(raw, traits?.secrets ?? { fields: [], elsewhere: 'secret() is not resolved in a check of an unknown type' }, file, checkId));
  for (const [sdkField, wireField, fallback] of DURATION_FIELDS) {
    const parsed = parseDuration(raw[sdkField] ?? fallback);
    delete raw[sdkField];
    if ('error' in parsed) problems.push({ file, checkId, field: sdkField, message: parsed.error });
    else raw[wireField] = parsed.ms;
  }
  for (const problem of convertOptionalDurations(raw)) problems.push({ file, checkId, ...problem });
  // A misspelt option is reported, not silently replaced by its default.
  const unknown = unknownFields(CheckDefinition, raw);
  for (const wireField of unknown) {
    const field = sdkFieldName(wireField);
    const origin = inherited.has(field.split('.')[0]!) ? ' (inherited from defaults in lookout.config.ts)' : '';
    problems.push({ file, checkId, field, message: `unknown option${origin}` });
  }
  // Validate the rest even when a duration was bad, so that every problem is reported at once.
  const result = CheckDefinition.safeParse(raw);
  if (!result.success) {
    const reported = new Set(problems.map((p) => p.field));
    for (const problem of zodProblems(result.error)) {
      const field = sdkFieldName(problem.field);
      if (reported.has(field)) continue;
      const top = field.split('.')[0]!;
      const origin = inherited.has(top) ? ' (inherited from defaults in lookout.config.ts)' : '';
      problems.push({ file, checkId, field, message: `${problem.message}${origin}` });
    }
  }
  if (problems.length > 0 || !result.success) return { problems };
  // The secrets it lists: those it declares plus every one it references, so agents resolve these only.
  const definition = result.data;
  definition.secrets = [...new Set([...definition.secrets, ...referencedSecrets(definition)])].sort();
  return { definition, problems };
}

/**
 * `secret('NAME')` is resolved by agents only in the fields its check type lists (an HTTP check's url,
 * header values and body): a reference anywhere else would be sent as literal text, and a malformed one
 * would never resolve.
 */
function secretReferenceProblems(raw: Record<string, unknown>, secrets: CheckTypeTraits<CheckDefinition>['secrets'], file: string, checkId: string | undefined): Diagnostic[] {
  const problems: Diagnostic[] = [];
  const visit = (value: unknown, path: string[]): void => {
    if (typeof value === 'string') {
      if (!mentionsSecret(value)) return;
      const field = path.join('.');
      if (!isSecretField(secrets.fields, path)) problems.push({ file, checkId, field, message: secrets.elsewhere });
      else {
        const bad = malformedSecretReference(value);
        if (bad) problems.push({ file, checkId, field, message: `malformed secret reference ${JSON.stringify(bad)}: use secret('NAME') with a name of letters, digits and "_"` });
      }
    } else if (Array.isArray(value)) value.forEach((item, i) => visit(item, [...path, String(i)]));
    else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        if (path[0] === 'headers' && path.length === 1 && mentionsSecret(key)) {
          problems.push({ file, checkId, field: `headers.${key}`, message: 'secret() cannot be used in a header name, only in its value' });
        }
        visit(item, [...path, key]);
      }
    }
  };
  // The script (a browser check's bundled code) inlines the SDK, whose secret() holds the placeholder text.
  for (const [key, value] of Object.entries(raw)) if (key !== 'script') visit(value, [key]);
  return problems;
}

/** Reports wire field names as the user wrote them (`timeoutMs` → `timeout`). */
function sdkFieldName(path: string): string {
  for (const [sdkField, wireField] of DURATION_FIELDS) {
    if (path === wireField) return sdkField;
  }
  return sdkDurationField(path) ?? path;
}
