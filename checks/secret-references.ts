/**
 * Which secrets a check uses, read from the check itself: the `{{secret:NAME}}` placeholders in the
 * fields its type resolves (checks/check-types.ts), and, for a type that ships a script, the names its
 * bundle reads from the `secrets` argument (`secrets.NAME`, `secrets['NAME']`, `secrets?.NAME`,
 * `{ secrets: { NAME } }`, `const { NAME } = secrets`). The loader writes them into the definition's
 * `secrets` list, the coordinator refuses a list that leaves one out, and an agent resolves only the
 * listed names. A script that reads a secret in a way this cannot see (a computed name, the whole
 * object handed to a helper under another name) lists it in its check's `secrets` option instead.
 * Pure.
 */
import { checkTypeTraits } from './check-types.ts';
import type { CheckDefinition } from './definitions.ts';
import { SECRET_NAME, secretNamesIn } from './secrets.ts';

const IDENTIFIER = '[A-Za-z_][A-Za-z0-9_]*';
/** `secrets.NAME`, `secrets?.NAME`, `secrets['NAME']`, `secrets?.["NAME"]`. */
const MEMBER = new RegExp(`\\bsecrets\\s*(?:\\?\\.\\s*|\\.\\s*)(?:(${IDENTIFIER})|\\[\\s*(['"\`])(${IDENTIFIER})\\2\\s*\\])|\\bsecrets\\s*\\[\\s*(['"\`])(${IDENTIFIER})\\4\\s*\\]`, 'g');
/** `{ secrets: { A, B: b, C = 'x' } }` (a script's parameter) and `{ A, B } = secrets`. */
const NESTED_PATTERN = /\bsecrets\s*:\s*\{([^{}]*)\}/g;
const DESTRUCTURED = /\{([^{}]*)\}\s*=\s*secrets\b/g;

/** The names read from `secrets` in a script's code, sorted, without repeats. */
export function scriptSecretNames(code: string): string[] {
  const names = new Set<string>();
  for (const match of code.matchAll(MEMBER)) names.add((match[1] ?? match[3] ?? match[5])!);
  for (const pattern of [NESTED_PATTERN, DESTRUCTURED]) {
    for (const match of code.matchAll(pattern)) {
      for (const part of match[1]!.split(',')) {
        // A rest element (`...others`) names no secret.
        const key = /^\s*([A-Za-z_][A-Za-z0-9_]*)/.exec(part)?.[1];
        if (key) names.add(key);
      }
    }
  }
  return [...names].filter((name) => SECRET_NAME.test(name)).sort();
}

/** The secrets `definition` references (placeholders in its type's fields, its script's reads), sorted. */
export function referencedSecrets(definition: CheckDefinition): string[] {
  const traits = checkTypeTraits(definition.type);
  if (!traits) return [];
  const names = new Set<string>();
  const record = definition as unknown as Record<string, unknown>;
  for (const field of traits.secrets.fields as readonly string[]) {
    const [name, each] = field.split('.') as [string, string | undefined];
    const value = record[name];
    const texts = each === '*' && value !== null && typeof value === 'object' ? Object.values(value) : [value];
    for (const text of texts) if (typeof text === 'string') for (const secret of secretNamesIn(text)) names.add(secret);
  }
  if (traits.script && 'script' in definition) for (const secret of scriptSecretNames(definition.script.bundle)) names.add(secret);
  return [...names].sort();
}

/** Names `definition` references but does not list in `secrets` (a hand-made definition claiming too few). */
export function unlistedSecrets(definition: CheckDefinition): string[] {
  const listed = new Set(definition.secrets);
  return referencedSecrets(definition).filter((name) => !listed.has(name));
}
