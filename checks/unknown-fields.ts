/**
 * The fields of a value that its schema does not know (a misspelt option such as `failureTreshold`, an
 * option of another check type), as dotted paths. Pure.
 *
 * The wire schemas stay lenient on purpose (zod drops unknown keys), so that an agent older than its
 * coordinator still accepts a job carrying a newer optional field. What people write — check files and
 * deployment bodies — is checked with this instead, so that a typo is reported rather than silently
 * replaced by a default.
 */
import type { z } from 'zod';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  values?: unknown[];
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Wrappers whose inner schema describes the value. */
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional', 'success']);

function unwrap(schema: z.ZodType): Def {
  let def = defOf(schema);
  for (let depth = 0; depth < 20; depth++) {
    if (WRAPPERS.has(def.type) && def.innerType) def = defOf(def.innerType);
    else if (def.type === 'pipe' && def.in) def = defOf(def.in);
    else if (def.type === 'lazy' && def.getter) def = defOf(def.getter());
    else break;
  }
  return def;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Whether an object schema could describe `value`: no literal field of it (`type`, `op`) says otherwise. */
function literalsMatch(def: Def, value: Record<string, unknown>): boolean {
  for (const [key, field] of Object.entries(def.shape ?? {})) {
    const fieldDef = unwrap(field);
    if (fieldDef.type === 'literal' && key in value && !(fieldDef.values ?? []).includes(value[key])) return false;
  }
  return true;
}

/** Unknown fields of `value` under `schema`, as dotted paths (`alerting.reminderEvry`, `assertions.0.sfot`). */
export function unknownFields(schema: z.ZodType, value: unknown, path: readonly string[] = []): string[] {
  const def = unwrap(schema);
  switch (def.type) {
    case 'object': {
      if (!isPlainObject(value)) return [];
      const shape = def.shape ?? {};
      const out: string[] = [];
      for (const [key, item] of Object.entries(value)) {
        if (!Object.hasOwn(shape, key)) out.push([...path, key].join('.'));
        else out.push(...unknownFields(shape[key]!, item, [...path, key]));
      }
      return out;
    }
    case 'array':
      return Array.isArray(value) && def.element ? value.flatMap((item, i) => unknownFields(def.element!, item, [...path, String(i)])) : [];
    case 'record':
      return isPlainObject(value) && def.valueType
        ? Object.entries(value).flatMap(([key, item]) => unknownFields(def.valueType!, item, [...path, key]))
        : [];
    case 'intersection':
      // A field is unknown only if neither side knows it.
      return def.left && def.right
        ? intersect(unknownFields(def.left, value, path), unknownFields(def.right, value, path))
        : [];
    case 'union': {
      // The options that could be meant (an object one whose literals match, for an object); the closest wins.
      if (!isPlainObject(value)) return [];
      const candidates = (def.options ?? []).filter((option) => couldDescribe(option, value));
      let best: string[] | null = null;
      for (const option of candidates) {
        const found = unknownFields(option, value, path);
        if (best === null || found.length < best.length) best = found;
      }
      return best ?? [];
    }
    default:
      return [];
  }
}

function couldDescribe(option: z.ZodType, value: Record<string, unknown>): boolean {
  const def = unwrap(option);
  if (def.type === 'object') return literalsMatch(def, value);
  if (def.type === 'union') return (def.options ?? []).some((inner) => couldDescribe(inner, value));
  return def.type === 'intersection' || def.type === 'record';
}

function intersect(a: string[], b: string[]): string[] {
  return a.filter((field) => b.includes(field));
}
