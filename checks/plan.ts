/**
 * Deployment plans, like `terraform plan`: which checks a deployment adds, removes and changes, with a
 * property-level diff of each change; and the delete guard. Pure: the coordinator computes plans from
 * its registry (the same function decides what `applyDeployment` writes), the CLI prints them.
 *
 * A deployment states the desired set: with `prune`, every registered check absent from it is removed.
 */
import type { CheckDefinition } from './contract.ts';

/** One property that differs, by dotted path (`assertions.0.value`, `headers.authorization`). */
export interface PropertyChange {
  path: string;
  /** Absent when the property is new. */
  before?: unknown;
  /** Absent when the property was removed. */
  after?: unknown;
}

export interface ChangedCheck {
  id: string;
  changes: PropertyChange[];
}

/** What a deployment does, by check id (each list sorted by id). */
export interface DeploymentPlan {
  added: string[];
  changed: ChangedCheck[];
  removed: string[];
  unchanged: string[];
}

/** Plan of making `current` into `wanted`; with `prune`, checks absent from `wanted` are removed. */
export function computePlan(current: ReadonlyMap<string, CheckDefinition>, wanted: readonly CheckDefinition[], options: { prune: boolean }): DeploymentPlan {
  const plan: DeploymentPlan = { added: [], changed: [], removed: [], unchanged: [] };
  const wantedIds = new Set<string>();
  for (const definition of wanted) {
    wantedIds.add(definition.id);
    const before = current.get(definition.id);
    if (!before) { plan.added.push(definition.id); continue; }
    const changes = diffValues(before, definition);
    if (changes.length === 0) plan.unchanged.push(definition.id);
    else plan.changed.push({ id: definition.id, changes });
  }
  if (options.prune) plan.removed = [...current.keys()].filter((id) => !wantedIds.has(id));
  plan.added.sort();
  plan.removed.sort();
  plan.unchanged.sort();
  plan.changed.sort((a, b) => a.id.localeCompare(b.id));
  return plan;
}

/** Whether a plan changes anything. */
export function planHasChanges(plan: DeploymentPlan): boolean {
  return plan.added.length + plan.changed.length + plan.removed.length > 0;
}

/**
 * Property-level differences between two JSON-like values. Objects are compared key by key (a key
 * holding `undefined` counts as absent, as in JSON); arrays of objects item by item; arrays of plain
 * values (regions, tags) as a whole, since an insertion would otherwise show as a change of every item.
 */
export function diffValues(before: unknown, after: unknown, path = ''): PropertyChange[] {
  if (sameValue(before, after)) return [];
  const at = (key: string): string => (path ? `${path}.${key}` : key);
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => {
      const b = before[key];
      const a = after[key];
      if (b === undefined && a === undefined) return [];
      if (b === undefined) return [{ path: at(key), after: a }];
      if (a === undefined) return [{ path: at(key), before: b }];
      return diffValues(b, a, at(key));
    });
  }
  if (Array.isArray(before) && Array.isArray(after) && (before.some(isStructured) || after.some(isStructured))) {
    const changes: PropertyChange[] = [];
    for (let i = 0; i < Math.max(before.length, after.length); i++) {
      if (i >= before.length) changes.push({ path: at(String(i)), after: after[i] });
      else if (i >= after.length) changes.push({ path: at(String(i)), before: before[i] });
      else changes.push(...diffValues(before[i], after[i], at(String(i))));
    }
    return changes;
  }
  return [{ path: path || '(value)', before, after }];
}

/** Deep equality of JSON-like values (object key order ignored, `undefined` keys ignored). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) if (!sameValue(a[key], b[key])) return false;
    return true;
  }
  return false;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isStructured(value: unknown): boolean {
  return value !== null && typeof value === 'object';
}

/** Default largest share of the registered checks one deployment may remove without `force`. */
export const DEFAULT_MAX_DELETE_SHARE = 0.5;

export type DeleteGuardVerdict = { allowed: true } | { allowed: false; message: string };

/**
 * The delete guard: refuses a plan that removes more than `maxDeleteShare` (0..1) of the `registered`
 * checks, unless `force`. Removing nothing is always allowed; so is any removal with `force`.
 */
export function checkDeleteGuard(plan: Pick<DeploymentPlan, 'removed'>, registered: number, maxDeleteShare: number, force: boolean): DeleteGuardVerdict {
  const removing = plan.removed.length;
  if (force || removing === 0 || registered === 0) return { allowed: true };
  const share = removing / registered;
  if (share <= maxDeleteShare) return { allowed: true };
  return {
    allowed: false,
    message: `the deployment would remove ${removing} of ${registered} deployed check(s) (${Math.round(share * 100)}%, more than the ${Math.round(maxDeleteShare * 100)}% allowed): ${plan.removed.join(', ')}. Deploy from the right folder, or pass --force (API: "force": true) if this is intended`,
  };
}

/** Long values (a browser check's bundled script) shortened for display and API responses. */
export function shortenValue(value: unknown, maxChars = 200): unknown {
  if (typeof value === 'string' && value.length > maxChars) return `${value.slice(0, 60)}… (${value.length} characters)`;
  if (value !== undefined && typeof value === 'object' && value !== null) {
    const text = JSON.stringify(value);
    if (text.length > maxChars) return `${text.slice(0, 60)}… (${text.length} characters of JSON)`;
  }
  return value;
}

/** A plan with every change's values shortened ({@link shortenValue}), to send or print. */
export function shortenPlan(plan: DeploymentPlan, maxChars = 200): DeploymentPlan {
  return {
    ...plan,
    changed: plan.changed.map((c) => ({
      id: c.id,
      changes: c.changes.map((change) => ({
        path: change.path,
        ...('before' in change ? { before: shortenValue(change.before, maxChars) } : {}),
        ...('after' in change ? { after: shortenValue(change.after, maxChars) } : {}),
      })),
    })),
  };
}
