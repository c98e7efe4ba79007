/**
 * What the loader, the agents and the coordinator need to know about each check type beyond its schema
 * (definitions.ts), in one table keyed by type: a type added to the contract fails to compile until it
 * has an entry here. Code outside a type's own folder reads these traits instead of naming the type.
 * Pure, and free of anything but types at import time, so the coordinator can use it.
 */
import type { CheckDefinition, CheckDefinitionOf, CheckType } from './definitions.ts';
import type { SecretField } from './secrets.ts';

export interface CheckTypeTraits<D extends CheckDefinition> {
  /** What a check of this type probes, as people see it (check lists, CLI output): a URL, a script's file. */
  target(definition: D): string;
  /** Where checks of this type may use `secret('NAME')`. */
  secrets: {
    /**
     * The fields agents resolve placeholders in, just before a run, in this order: a string field by
     * name, or `name.*` for every value (never a key) of a record of strings. Empty: none.
     */
    fields: ReadonlyArray<SecretField<D>>;
    /** The loader's problem for a placeholder anywhere else in a check of this type. */
    elsewhere: string;
  };
  /**
   * Set when checks of this type carry a `script` function that agents run: the loader then sends the
   * check file's bundle with the definition (`script: { bundle, file }`), built under the agents' import
   * policy. `shape` says what the function looks like, in the problem shown when `script` is not one.
   * `null`: the definition is plain data.
   */
  script: { shape: string } | null;
}

const SECRETS_ONLY_IN_HTTP_FIELDS = "secret() is only resolved in an HTTP check's url, header values and body (browser scripts use their secrets argument)";

/** One entry per check type. */
export const CHECK_TYPES: { readonly [T in CheckType]: CheckTypeTraits<CheckDefinitionOf<T>> } = {
  http: {
    target: (definition) => definition.url,
    secrets: { fields: ['url', 'headers.*', 'body'], elsewhere: SECRETS_ONLY_IN_HTTP_FIELDS },
    script: null,
  },
  browser: {
    target: (definition) => definition.script.file,
    // Scripts read secrets from their `secrets` argument, which the agent fills; no field is resolved.
    secrets: { fields: [], elsewhere: SECRETS_ONLY_IN_HTTP_FIELDS },
    script: { shape: 'an async function ({ page, step, expect }) => { … }' },
  },
};

/** The check types, in table order. */
export const CHECK_TYPE_NAMES = Object.keys(CHECK_TYPES) as CheckType[];

/**
 * The traits of `type`, or `undefined` when it is not a check type (a value from a check file or a
 * payload that has not been validated yet).
 */
export function checkTypeTraits(type: unknown): CheckTypeTraits<CheckDefinition> | undefined {
  if (typeof type !== 'string' || !Object.hasOwn(CHECK_TYPES, type)) return undefined;
  // Each entry takes its own type's definition; callers pass a definition of `type` (or plain data
  // checked against the schema afterwards), which is what makes widening the entry safe.
  return CHECK_TYPES[type as CheckType] as CheckTypeTraits<CheckDefinition>;
}

/**
 * What a check probes, as people see it: an HTTP check's URL, a browser check's script file. The
 * dashboard's check list and the CLI show it next to the check's id.
 */
export function checkTarget(definition: CheckDefinition): string {
  return checkTypeTraits(definition.type)!.target(definition);
}
