/**
 * The deployment history: one record per registry change (a deployment, a rollback, a check deleted
 * through the API), written in the same MULTI/EXEC as the change itself (registry.ts), newest first in a
 * capped Redis list. A record keeps, for every check it touched, the definition before and after, so
 * that it can be undone: a rollback restores the `before` of the newest deployment not yet rolled back,
 * provided those checks still look as that deployment left them. Rolling back again walks further back.
 * Pure: parsing, listing and choosing what to roll back.
 */
import { z } from 'zod';
import { CheckDefinition } from '../../checks/contract.ts';
import { diffValues, sameValue, shortenPlan, type ChangedCheck } from '../../checks/plan.ts';

/** Records kept; older ones are dropped (and can no longer be rolled back). */
export const DEPLOYMENT_HISTORY_LIMIT = 20;

export const DeploymentKind = z.enum(['deploy', 'rollback', 'delete']);
export type DeploymentKind = z.infer<typeof DeploymentKind>;

export const Actor = z.object({ tokenId: z.string().nullable(), name: z.string() });
export type Actor = z.infer<typeof Actor>;

export const ANONYMOUS_ACTOR: Actor = { tokenId: null, name: 'anonymous' };

const Ids = z.array(z.string());

export const DeploymentRecord = z.object({
  /** `dep-<registry revision>`: unique, and ordered like the changes. */
  id: z.string(),
  kind: DeploymentKind,
  at: z.number().int().nonnegative(),
  actor: Actor,
  /** Registry revision after the change. */
  revision: z.number().int().positive(),
  summary: z.object({ added: Ids, changed: Ids, removed: Ids }),
  /** For a rollback: the record it undid. */
  rollbackOf: z.string().nullable(),
  /** Definitions of the touched checks before and after (null: absent). */
  before: z.record(z.string(), CheckDefinition.nullable()),
  after: z.record(z.string(), CheckDefinition.nullable()),
});
export type DeploymentRecord = z.infer<typeof DeploymentRecord>;

/** A record as the API lists it: no full definitions, but a property-level diff of changed checks. */
export interface DeploymentInfo {
  id: string;
  kind: DeploymentKind;
  at: number;
  actor: Actor;
  revision: number;
  summary: DeploymentRecord['summary'];
  rollbackOf: string | null;
  /** A later rollback undid this one. */
  rolledBack: boolean;
  changes: ChangedCheck[];
}

export const deploymentId = (revision: number): string => `dep-${revision}`;

/** Builds the record of a change from the touched checks' definitions before and after. */
export function buildRecord(input: {
  kind: DeploymentKind; at: number; actor: Actor; revision: number; rollbackOf?: string | null;
  before: ReadonlyMap<string, CheckDefinition | null>; after: ReadonlyMap<string, CheckDefinition | null>;
}): DeploymentRecord {
  const ids = [...new Set([...input.before.keys(), ...input.after.keys()])].sort();
  const summary = { added: [] as string[], changed: [] as string[], removed: [] as string[] };
  for (const id of ids) {
    const b = input.before.get(id) ?? null;
    const a = input.after.get(id) ?? null;
    if (b === null && a !== null) summary.added.push(id);
    else if (b !== null && a === null) summary.removed.push(id);
    else if (b !== null && a !== null) summary.changed.push(id);
  }
  return {
    id: deploymentId(input.revision), kind: input.kind, at: input.at, actor: input.actor, revision: input.revision, summary,
    rollbackOf: input.rollbackOf ?? null,
    before: Object.fromEntries(ids.map((id) => [id, input.before.get(id) ?? null])),
    after: Object.fromEntries(ids.map((id) => [id, input.after.get(id) ?? null])),
  };
}

/** Parses stored records (newest first); unreadable ones are skipped and counted. */
export function parseRecords(raw: readonly string[]): { records: DeploymentRecord[]; skipped: number } {
  const records: DeploymentRecord[] = [];
  let skipped = 0;
  for (const text of raw) {
    let json: unknown;
    try { json = JSON.parse(text); } catch { json = undefined; }
    const parsed = DeploymentRecord.safeParse(json);
    if (parsed.success) records.push(parsed.data);
    else skipped++;
  }
  return { records, skipped };
}

/** Ids of records undone by a rollback in `records`. */
function rolledBackIds(records: readonly DeploymentRecord[]): Set<string> {
  return new Set(records.flatMap((r) => (r.kind === 'rollback' && r.rollbackOf ? [r.rollbackOf] : [])));
}

/** The records for the API, newest first. */
export function describeRecords(records: readonly DeploymentRecord[]): DeploymentInfo[] {
  const undone = rolledBackIds(records);
  return records.map((r) => ({
    id: r.id, kind: r.kind, at: r.at, actor: r.actor, revision: r.revision, summary: r.summary, rollbackOf: r.rollbackOf,
    rolledBack: undone.has(r.id),
    changes: shortenPlan({
      added: [], removed: [], unchanged: [],
      changed: r.summary.changed.map((id) => ({ id, changes: diffValues(r.before[id], r.after[id]) })),
    }).changed,
  }));
}

/**
 * What a rollback undoes: the newest record that is not a rollback and was not rolled back. Null
 * when there is none in the (capped) history.
 */
export function rollbackTarget(records: readonly DeploymentRecord[]): DeploymentRecord | null {
  const undone = rolledBackIds(records);
  return records.find((r) => r.kind !== 'rollback' && !undone.has(r.id)) ?? null;
}

/** Checks that `target` touched and that changed since (rolling back would silently undo those changes). */
export function rollbackConflicts(target: DeploymentRecord, current: ReadonlyMap<string, CheckDefinition>): string[] {
  return Object.keys(target.after).filter((id) => !sameValue(current.get(id) ?? null, target.after[id] ?? null)).sort();
}
