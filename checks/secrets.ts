/**
 * Secrets by reference. A check names a secret with `secret('STRIPE_KEY')`, which returns only a
 * placeholder, `{{secret:STRIPE_KEY}}`: the value never enters the check definition, and so never
 * Redis, a job payload or the coordinator. The agent running the check substitutes the value at run
 * time from its own environment (`LOOKOUT_SECRET_STRIPE_KEY`) or secrets file, and replaces every value
 * it knows with `[secret:NAME]` in what it reports. Pure: no I/O here.
 */

/** Secret names are identifiers, so that they map onto environment variables. */
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Environment variable prefix of an agent's secrets: `LOOKOUT_SECRET_<NAME>`. */
export const SECRET_ENV_PREFIX = 'LOOKOUT_SECRET_';
/**
 * A field of a definition `D` in which placeholders are resolved: a string field by name, or `name.*`
 * for every value (never a key) of a record of strings. Each check type lists its own (check-types.ts).
 */
export type SecretField<D> = {
  [K in keyof D & string]-?: NonNullable<D[K]> extends string ? K
    : NonNullable<D[K]> extends Readonly<Record<string, string>> ? `${K}.*` : never;
}[keyof D & string];

const PLACEHOLDER = /\{\{secret:([A-Za-z_][A-Za-z0-9_]{0,127})\}\}/g;
const ANY_REFERENCE = /\{\{\s*secret\s*:/;

/**
 * A reference to a secret that the agent supplies at run time. Usable in an HTTP check's `url`,
 * `headers` values and `body`, alone or inside a longer string:
 *
 * ```ts
 * headers: { authorization: `Bearer ${secret('STRIPE_KEY')}` }
 * ```
 *
 * Browser checks read secrets from their script's `secrets` argument instead.
 */
export function secret(name: string): string {
  return `{{secret:${name}}}`;
}

/** Names of the secrets referenced in `text`, in order of first appearance, without repeats. */
export function secretNamesIn(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

/** Whether `text` mentions a secret reference at all (well-formed or not). */
export function mentionsSecret(text: string): boolean {
  return ANY_REFERENCE.test(text);
}

/** A reference that looks like `{{secret:…}}` but is not a valid one (bad name, missing braces). */
export function malformedSecretReference(text: string): string | null {
  const withoutValid = text.replace(PLACEHOLDER, '');
  const match = /\{\{\s*secret\s*:[^}]{0,40}(\}\})?/.exec(withoutValid);
  return match ? match[0] : null;
}

/** Replaces every placeholder in `text`; names without a value are returned in `missing` (text unchanged). */
export function resolveSecretsIn(text: string, lookup: (name: string) => string | undefined): { text: string } | { missing: string[] } {
  const missing = secretNamesIn(text).filter((name) => lookup(name) === undefined);
  if (missing.length > 0) return { missing };
  return { text: text.replace(PLACEHOLDER, (_all, name: string) => lookup(name)!) };
}

/** Whether `path` (a field, then a key inside it) is one of `fields`, e.g. `['headers', 'x-key']` of `headers.*`. */
export function isSecretField(fields: readonly string[], path: readonly string[]): boolean {
  return fields.some((field) => {
    const parts = field.split('.');
    return parts.length === path.length && parts.every((part, i) => part === '*' || part === path[i]);
  });
}

/**
 * A copy of `definition` with the placeholders in `fields` replaced by the values in `secrets`, or the
 * names of the secrets it needs and `secrets` lacks, in order of first appearance (fields in the order
 * given). `definition` itself is not changed.
 */
export function resolveSecretFields<D extends object>(
  definition: D, fields: ReadonlyArray<SecretField<D>>, secrets: Readonly<Record<string, string>>,
): { definition: D } | { missing: string[] } {
  const lookup = (name: string): string | undefined => (Object.hasOwn(secrets, name) ? secrets[name] : undefined);
  const missing = new Set<string>();
  const resolve = (text: string): string => {
    const out = resolveSecretsIn(text, lookup);
    if ('missing' in out) { for (const name of out.missing) missing.add(name); return text; }
    return out.text;
  };
  const resolved = { ...definition } as Record<string, unknown>;
  for (const field of fields as readonly string[]) {
    const [name, each] = field.split('.') as [string, string | undefined];
    const value = resolved[name];
    if (each === '*' && value !== null && typeof value === 'object') {
      resolved[name] = Object.fromEntries(Object.entries(value).map(([key, item]) => [key, typeof item === 'string' ? resolve(item) : item]));
    } else if (typeof value === 'string') resolved[name] = resolve(value);
  }
  return missing.size > 0 ? { missing: [...missing] } : { definition: resolved as D };
}

/**
 * A function that replaces every known secret value in a string with `[secret:NAME]`. Besides the raw
 * value it also catches its URL-encoded forms (encodeURIComponent, and as a URL's path and query write it)
 * and its JSON-escaped form (how a value shows up in a URL or a JSON body echoed back in an error). Longer values are replaced first, so that a secret containing
 * another one is not half-replaced.
 */
export function createScrubber(secrets: Readonly<Record<string, string>>): (text: string) => string {
  const forms: Array<{ form: string; label: string }> = [];
  for (const [name, value] of Object.entries(secrets)) {
    if (value === '') continue;
    const label = `[secret:${name}]`;
    for (const form of new Set([value, encodeURIComponent(value), ...urlForms(value), JSON.stringify(value).slice(1, -1)])) forms.push({ form, label });
  }
  forms.sort((a, b) => b.form.length - a.form.length);
  if (forms.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const { form, label } of forms) if (out.includes(form)) out = out.split(form).join(label);
    return out;
  };
}

/**
 * How a URL writes a value in its path and in its query (WHATWG percent-encode sets, which leave `/`, `+`,
 * `&` and more as they are, unlike encodeURIComponent): a URL's `href` (in a message or in network facts)
 * holds a secret that way.
 */
function urlForms(value: string): string[] {
  const url = new URL('http://lookout.invalid/');
  url.pathname = `/${value}`;
  const path = url.pathname.slice(1);
  url.search = `?${value}`;
  return [path, url.search.slice(1)];
}

/** Applies `scrub` to every string inside `value` (objects and arrays walked; other values kept). */
export function scrubDeep<T>(value: T, scrub: (text: string) => string): T {
  if (typeof value === 'string') return scrub(value) as T;
  if (Array.isArray(value)) return value.map((item) => scrubDeep(item, scrub)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = scrubDeep(item, scrub);
    return out as T;
  }
  return value;
}
