/**
 * JSON with object keys sorted at every level, so that two equal values always serialise the same way:
 * the registry compares definitions with it and the scheduler compares job templates with it.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/**
 * Whether `canonicalJson(a) === canonicalJson(b)`, without building either string: the state store asks
 * it of every transition, on the ingest hot path. Plain JSON values (what Redis states parse to) are
 * compared in place; anything else (a Date, a value with `toJSON`) is compared through canonicalJson.
 */
export function sameCanonicalJson(a: unknown, b: unknown): boolean {
  if (a === b && (typeof a !== 'number' || Number.isFinite(a))) return true;
  if (typeof a === 'number' && typeof b === 'number') {
    // JSON writes NaN and ±Infinity as null, and -0 as 0 (=== already equates 0 and -0).
    return Number.isFinite(a) && Number.isFinite(b) ? a === b : JSON.stringify(a) === JSON.stringify(b);
  }
  if (!isPlain(a) || !isPlain(b)) return canonicalJson(a) === canonicalJson(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameCanonicalJson(a[i] ?? null, b[i] ?? null)) return false;
    return true;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  // Keys holding undefined are left out of JSON, so they count as absent.
  let leftKeys = 0;
  for (const key of Object.keys(left)) {
    if (left[key] === undefined) continue;
    leftKeys++;
    if (!Object.hasOwn(right, key) || right[key] === undefined || !sameCanonicalJson(left[key], right[key])) return false;
  }
  let rightKeys = 0;
  for (const key of Object.keys(right)) if (right[key] !== undefined) rightKeys++;
  return leftKeys === rightKeys;
}

/** Arrays and plain objects (no `toJSON`), whose JSON is their own contents. */
function isPlain(value: unknown): value is object {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}
