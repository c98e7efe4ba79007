/**
 * The check registry: versioned check definitions in one Redis hash, shared by every coordinator.
 *
 * A deployment is applied atomically: one optimistic transaction (WATCH registry, revision and history;
 * MULTI/EXEC) computes the plan from what is stored (checks/plan.ts), checks the delete guard, and
 * writes every change, the revision bump and the deployment's history record together, or nothing.
 * A definition whose content is unchanged keeps its version and `updatedAt`; a changed one gets
 * version + 1. Schedulers follow the registry afterwards by reconcile: the registry commit is the
 * atomic unit, and a failed reconcile is retried until the schedulers match (coordinator.ts).
 */
import { describeZodError } from '../../lib/zod-problems.ts';
import type { ChainableCommander, Redis } from 'ioredis';
import { StoredCheck, type CheckDefinition } from '../../checks/contract.ts';
import { checkDeleteGuard, computePlan, planHasChanges, type DeploymentPlan } from '../../checks/plan.ts';
import { validateDefinitions, type DefinitionProblem } from './definitions.ts';
import {
  ANONYMOUS_ACTOR, DEPLOYMENT_HISTORY_LIMIT, buildRecord, describeRecords, parseRecords, rollbackConflicts, rollbackTarget,
  type Actor, type DeploymentInfo, type DeploymentKind, type DeploymentRecord,
} from './deployments.ts';
import { CodedError } from '../../lib/errors.ts';
import { deploymentsKey, registryKey, registryRevisionKey } from '../../checks/keys.ts';
import type { Logger } from '../../lib/log.ts';
import type { TransactionRunner } from '../platform/transaction.ts';

/** Why the registry refused a change; the API maps each code to its HTTP status (registry/api.ts). */
export type RegistryErrorCode = 'REGISTRY_CHANGED' | 'DELETE_GUARD' | 'NOTHING_TO_ROLL_BACK' | 'ROLLBACK_CONFLICT' | 'DEPLOY_FAILED';
export class RegistryError extends CodedError<RegistryErrorCode> {}

/** What a deployment did, by check id (each list sorted). */
export interface DeploymentSummary {
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
  /** CheckRegistry revision after the deployment. */
  revision: number;
}

interface RegistrySnapshot {
  revision: number;
  checks: Map<string, StoredCheck>;
  sorted: StoredCheck[];
}

export type DeploymentResult = { summary: DeploymentSummary } | { problems: DefinitionProblem[] };

/** A deployment's outcome with its plan (property-level) and history record (null when nothing changed). */
export type DetailedDeploymentResult =
  | { summary: DeploymentSummary; plan: DeploymentPlan; deployment: DeploymentInfo | null }
  | { problems: DefinitionProblem[] };

export interface DeploymentOptions {
  /** Remove registered checks that are not in the deployment. @defaultValue false */
  prune: boolean;
  /** Who deploys, for the history. @defaultValue anonymous */
  actor?: Actor;
  /**
   * Apply only if the registry is still at this revision (the one a plan was computed at); otherwise
   * fail with `REGISTRY_CHANGED`, so that what is applied is what was reviewed. @defaultValue any revision
   */
  expectedRevision?: number;
  /** Largest share (0..1) of the registered checks the deployment may remove (`DELETE_GUARD`). @defaultValue 1 (no limit) */
  maxDeleteShare?: number;
  /** Ignore `maxDeleteShare`. @defaultValue false */
  force?: boolean;
}

/** A plan computed against the registry, without applying it. */
export interface PlanResult {
  plan: DeploymentPlan;
  /** CheckRegistry revision the plan was computed at (pass it back as `expectedRevision`). */
  revision: number;
  /** Checks registered now (the delete guard's denominator). */
  registered: number;
}

export interface RollbackResult {
  /** The history record that was (or would be) undone. */
  rolledBack: string;
  plan: DeploymentPlan;
  /** The rollback's own record; null for a dry run. */
  deployment: DeploymentInfo | null;
  revision: number;
}

type Changes = Map<string, CheckDefinition | null>;

export class CheckRegistry {
  readonly #redis: Redis;
  readonly #tx: TransactionRunner;
  readonly #prefix: string;
  readonly #logger: Logger;
  readonly #now: () => number;
  #cache: RegistrySnapshot | null = null;

  constructor(options: { redis: Redis; tx: TransactionRunner; prefix: string; logger: Logger; now?: () => number }) {
    this.#redis = options.redis;
    this.#tx = options.tx;
    this.#prefix = options.prefix;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /** {@link deploy}, reporting only the summary. */
  async applyDeployment(definitions: readonly unknown[], options: DeploymentOptions): Promise<DeploymentResult> {
    const result = await this.deploy(definitions, options);
    return 'problems' in result ? result : { summary: result.summary };
  }

  /**
   * Validates every definition (nothing is stored when any is invalid), then, in one transaction,
   * stores the changed ones with their version bumped, removes (with `prune`) the checks absent from
   * `definitions`, and records the deployment in the history. Throws `REGISTRY_CHANGED`, `DELETE_GUARD`
   * or `DEPLOY_FAILED` (nothing applied).
   */
  async deploy(definitions: readonly unknown[], options: DeploymentOptions): Promise<DetailedDeploymentResult> {
    const validation = await validateDefinitions(definitions);
    if ('problems' in validation) return validation;
    const wanted = validation.definitions;
    const outcome = await this.#change('deploy', options.actor, (stored, revision) => {
      if (options.expectedRevision !== undefined && options.expectedRevision !== revision) {
        throw new RegistryError('REGISTRY_CHANGED', `the registry changed since the plan was made (revision ${options.expectedRevision}, now ${revision}); plan again`);
      }
      const plan = computePlan(definitionsOf(stored), wanted, { prune: options.prune });
      const guard = checkDeleteGuard(plan, stored.size, options.maxDeleteShare ?? 1, options.force ?? false);
      if (!guard.allowed) throw new RegistryError('DELETE_GUARD', guard.message);
      const byId = new Map(wanted.map((d) => [d.id, d]));
      const changes: Changes = new Map();
      for (const id of plan.added) changes.set(id, byId.get(id)!);
      for (const { id } of plan.changed) changes.set(id, byId.get(id)!);
      for (const id of plan.removed) changes.set(id, null);
      return { plan, changes };
    });
    const { plan, revision, record } = outcome;
    const summary: DeploymentSummary = {
      added: plan.added, changed: plan.changed.map((c) => c.id), removed: plan.removed, unchanged: plan.unchanged, revision,
    };
    this.#logger.info('registry.deployed', { ...summary, deployment: record?.id ?? null, actor: record?.actor.name ?? null });
    return { summary, plan, deployment: record ? describeRecords([record])[0]! : null };
  }

  /** The plan of a deployment against the registry as it is now; nothing is written. */
  async plan(definitions: readonly unknown[], options: { prune: boolean }): Promise<PlanResult | { problems: DefinitionProblem[] }> {
    const validation = await validateDefinitions(definitions);
    if ('problems' in validation) return validation;
    const snapshot = await this.#snapshot();
    return { plan: computePlan(definitionsOf(snapshot.checks), validation.definitions, options), revision: snapshot.revision, registered: snapshot.checks.size };
  }

  /**
   * Undoes the newest deployment (or API deletion) not yet rolled back: its checks get back their
   * definitions from before it, in one transaction recorded as a `rollback`. Throws
   * `NOTHING_TO_ROLL_BACK`, or `ROLLBACK_CONFLICT` when those checks changed since (undoing it would
   * also undo the later change). With `dryRun`, only says what it would do; with `expectedTarget`
   * (the id a dry run named), throws `REGISTRY_CHANGED` if another deployment is now the one undone.
   */
  async rollback(options: { actor?: Actor; dryRun?: boolean; expectedTarget?: string } = {}): Promise<RollbackResult> {
    let target: DeploymentRecord | null = null;
    const outcome = await this.#change('rollback', options.actor, (stored, _revision, history) => {
      target = rollbackTarget(history);
      if (!target) throw new RegistryError('NOTHING_TO_ROLL_BACK', 'there is no deployment to roll back in the history');
      if (options.expectedTarget !== undefined && options.expectedTarget !== target.id) {
        throw new RegistryError('REGISTRY_CHANGED', `the deployment to roll back is now ${target.id}, not ${options.expectedTarget}; look again`);
      }
      const current = definitionsOf(stored);
      const conflicts = rollbackConflicts(target, current);
      if (conflicts.length > 0) {
        throw new RegistryError('ROLLBACK_CONFLICT', `cannot roll back ${target.id}: ${conflicts.join(', ')} changed since; deploy the wanted definitions instead`);
      }
      const changes: Changes = new Map(Object.entries(target.before));
      const desired = new Map(current);
      for (const [id, definition] of changes) {
        if (definition) desired.set(id, definition);
        else desired.delete(id);
      }
      return { plan: computePlan(current, [...desired.values()], { prune: true }), changes, rollbackOf: target.id, dryRun: options.dryRun };
    });
    const rolledBack = (target as DeploymentRecord | null)!.id;
    if (outcome.record) this.#logger.info('registry.rolled_back', { rolledBack, deployment: outcome.record.id, actor: outcome.record.actor.name });
    return { rolledBack, plan: outcome.plan, deployment: outcome.record ? describeRecords([outcome.record])[0]! : null, revision: outcome.revision };
  }

  /** The deployment history, newest first. */
  async history(): Promise<DeploymentInfo[]> {
    const { records, skipped } = parseRecords(await this.#redis.lrange(deploymentsKey(this.#prefix), 0, -1));
    if (skipped > 0) this.#logger.warn('registry.invalid_history_entries', { skipped });
    return describeRecords(records);
  }

  /**
   * One registry change in one optimistic transaction: `decide` sees the stored checks, the revision
   * and the history, and returns the plan and the definitions to write (null: remove). The changes,
   * the revision bump and the history record are written in one MULTI/EXEC. A Redis error from the EXEC
   * becomes `DEPLOY_FAILED` (Redis discards a transaction with a refused command as a whole).
   */
  async #change(
    kind: DeploymentKind,
    actor: Actor | undefined,
    decide: (stored: Map<string, StoredCheck>, revision: number, history: DeploymentRecord[]) => { plan: DeploymentPlan; changes: Changes; rollbackOf?: string; dryRun?: boolean },
  ): Promise<{ plan: DeploymentPlan; revision: number; record: DeploymentRecord | null }> {
    const key = registryKey(this.#prefix);
    const revisionKey = registryRevisionKey(this.#prefix);
    const historyKey = deploymentsKey(this.#prefix);
    try {
      return await this.#tx.run<{ plan: DeploymentPlan; revision: number; record: DeploymentRecord | null }>([key, revisionKey, historyKey], async (conn) => {
        const stored = this.#parseAll(await conn.hgetall(key));
        const revision = Number(await conn.get(revisionKey) ?? 0);
        const type = await conn.type(historyKey);
        if (type !== 'none' && type !== 'list') {
          throw new RegistryError('DEPLOY_FAILED', `the deployment history key ${historyKey} holds a ${type}, not a list; nothing was applied`);
        }
        const history = kind === 'rollback' ? parseRecords(await conn.lrange(historyKey, 0, -1)).records : [];
        const decided = decide(stored, revision, history);
        if (decided.dryRun || !planHasChanges(decided.plan)) return { result: { plan: decided.plan, revision, record: null } };
        const now = this.#now();
        const record = buildRecord({
          kind, at: now, actor: actor ?? ANONYMOUS_ACTOR, revision: revision + 1, rollbackOf: decided.rollbackOf ?? null,
          before: new Map([...decided.changes.keys()].map((id) => [id, stored.get(id)?.definition ?? null])),
          after: decided.changes,
        });
        return {
          result: { plan: decided.plan, revision: revision + 1, record },
          write: (multi) => this.#write(multi, stored, decided.changes, record, now),
        };
      });
    } catch (error) {
      if ((error as { name?: unknown }).name === 'ReplyError') {
        throw new RegistryError('DEPLOY_FAILED', `Redis refused the change, so nothing was applied: ${(error as Error).message}`, { cause: error });
      }
      throw error;
    }
  }

  #write(multi: ChainableCommander, stored: Map<string, StoredCheck>, changes: Changes, record: DeploymentRecord, now: number): void {
    const key = registryKey(this.#prefix);
    const writes: Record<string, string> = {};
    const removes: string[] = [];
    for (const [id, definition] of changes) {
      if (definition === null) removes.push(id);
      else writes[id] = JSON.stringify({ definition, version: (stored.get(id)?.version ?? 0) + 1, updatedAt: now } satisfies StoredCheck);
    }
    if (Object.keys(writes).length > 0) multi.hset(key, writes);
    if (removes.length > 0) multi.hdel(key, ...removes);
    multi.incr(registryRevisionKey(this.#prefix));
    multi.lpush(deploymentsKey(this.#prefix), JSON.stringify(record));
    multi.ltrim(deploymentsKey(this.#prefix), 0, DEPLOYMENT_HISTORY_LIMIT - 1);
  }

  /** Every registered check, sorted by id. */
  async listChecks(): Promise<StoredCheck[]> {
    return (await this.#snapshot()).sorted;
  }

  async getCheck(id: string): Promise<StoredCheck | null> {
    return (await this.#snapshot()).checks.get(id) ?? null;
  }

  /** {@link getCheck}, with the registry revision the answer belongs to. */
  async getCheckAt(id: string): Promise<{ check: StoredCheck | null; revision: number }> {
    const snapshot = await this.#snapshot();
    return { check: snapshot.checks.get(id) ?? null, revision: snapshot.revision };
  }

  /**
   * One check as of the last registry read, without asking Redis (null before any read). It may be out
   * of date: a caller must confirm the revision where it acts on the answer (ingest fences its write on
   * {@link registryRevisionKey} holding that revision, and reads again when it does not).
   */
  peekCheck(id: string): { check: StoredCheck | null; revision: number } | null {
    return this.#cache ? { check: this.#cache.checks.get(id) ?? null, revision: this.#cache.revision } : null;
  }

  /**
   * One check, read through `conn` inside an optimistic transaction that WATCHes
   * {@link registryRevisionKey}: every registry change bumps the revision in the same MULTI, so watching
   * it is watching the registry, without reading every (possibly large) definition each time.
   * `revision`: that key's value, when the caller has just read it through `conn` under the WATCH.
   * @defaultValue read here
   */
  async getCheckWithin(conn: Redis, id: string, revision?: number): Promise<StoredCheck | null> {
    revision ??= Number(await conn.get(registryRevisionKey(this.#prefix)) ?? 0);
    if (this.#cache?.revision === revision) return this.#cache.checks.get(id) ?? null;
    const raw = await conn.hget(registryKey(this.#prefix), id);
    return raw === null ? null : this.#parse(id, raw);
  }

  /** Removes one check (recorded in the history, so it can be rolled back); false when it was not registered. */
  async removeCheck(id: string, actor?: Actor): Promise<boolean> {
    const outcome = await this.#change('delete', actor, (stored) => {
      const present = stored.has(id);
      return {
        plan: { added: [], changed: [], removed: present ? [id] : [], unchanged: [] },
        changes: new Map(present ? [[id, null]] : []),
      };
    });
    if (outcome.record) this.#logger.info('registry.removed', { checkId: id, deployment: outcome.record.id, actor: outcome.record.actor.name });
    return outcome.record !== null;
  }

  /** Bumped by every change; 0 for an empty registry that never changed. */
  async revision(): Promise<number> {
    return Number(await this.#redis.get(registryRevisionKey(this.#prefix)) ?? 0);
  }

  /**
   * The parsed registry, cached per revision: definitions can be large (browser checks carry their
   * bundled script), and the sweeper and ingest read them all the time; the revision is one small GET.
   */
  async #snapshot(): Promise<RegistrySnapshot> {
    const revision = await this.revision();
    if (this.#cache && this.#cache.revision === revision) return this.#cache;
    // Revision and hash read atomically, so the cache never pairs a revision with other contents.
    const replies = await this.#redis.multi().get(registryRevisionKey(this.#prefix)).hgetall(registryKey(this.#prefix)).exec();
    if (!replies || replies[0]![0] || replies[1]![0]) throw replies?.[0]?.[0] ?? replies?.[1]?.[0] ?? new Error('registry read aborted');
    const checks = this.#parseAll(replies[1]![1] as Record<string, string>);
    const snapshot: RegistrySnapshot = {
      revision: Number(replies[0]![1] ?? 0),
      checks,
      sorted: [...checks.values()].sort((a, b) => a.definition.id.localeCompare(b.definition.id)),
    };
    if (!this.#cache || snapshot.revision >= this.#cache.revision) this.#cache = snapshot;
    return snapshot;
  }

  #parseAll(hash: Record<string, string>): Map<string, StoredCheck> {
    const out = new Map<string, StoredCheck>();
    for (const [id, raw] of Object.entries(hash)) {
      const parsed = this.#parse(id, raw);
      if (parsed) out.set(id, parsed);
    }
    return out;
  }

  /** Stored entries are validated too: one written by an incompatible version is skipped and logged, not trusted. */
  #parse(id: string, raw: string): StoredCheck | null {
    let json: unknown;
    try { json = JSON.parse(raw); } catch { json = undefined; }
    const parsed = StoredCheck.safeParse(json);
    if (parsed.success && parsed.data.definition.id === id) return parsed.data;
    this.#logger.error('registry.invalid_entry', { checkId: id, issues: parsed.success ? ['id does not match its key'] : describeZodError(parsed.error) });
    return null;
  }
}


function definitionsOf(checks: ReadonlyMap<string, StoredCheck>): Map<string, CheckDefinition> {
  return new Map([...checks].map(([id, check]) => [id, check.definition]));
}

/**
 * A check's tags as the registry holds them, read without a registry instance (alert routing needs only
 * this); `[]` when the check is gone or its entry unreadable.
 */
export async function readCheckTags(redis: Redis, prefix: string, checkId: string): Promise<readonly string[]> {
  const raw = await redis.hget(registryKey(prefix), checkId);
  if (raw === null) return [];
  try {
    const stored = StoredCheck.safeParse(JSON.parse(raw));
    return stored.success ? stored.data.definition.tags : [];
  } catch {
    return [];
  }
}
