/**
 * The check registry: versioned check definitions in one Redis hash, shared by every coordinator.
 *
 * A deployment is applied atomically (one optimistic transaction over the whole hash): a definition
 * whose canonical JSON is unchanged keeps its version and `updatedAt`; a changed one gets version + 1.
 * Every change bumps a registry revision so that schedulers can tell that they must reconcile.
 */
import type { Redis } from 'ioredis';
import { StoredCheck } from '../checks/contract.ts';
import { canonicalJson } from './canonical-json.ts';
import { validateDefinitions, type DefinitionProblem } from './definitions.ts';
import { registryKey, registryRevisionKey } from './keys.ts';
import type { Logger } from './log.ts';
import type { TransactionRunner } from './transaction.ts';

/** What a deployment did, by check id (each list sorted). */
export interface DeploymentSummary {
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
  /** Registry revision after the deployment. */
  revision: number;
}

interface RegistrySnapshot {
  revision: number;
  checks: Map<string, StoredCheck>;
  sorted: StoredCheck[];
}

export type DeploymentResult = { summary: DeploymentSummary } | { problems: DefinitionProblem[] };

export interface DeploymentOptions {
  /** Remove registered checks that are not in the deployment. @defaultValue false */
  prune: boolean;
}

export class Registry {
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

  /**
   * Validates every definition (nothing is stored when any is invalid), then stores the changed ones
   * with their version bumped and, with `prune`, removes the checks absent from `definitions`.
   */
  async applyDeployment(definitions: readonly unknown[], options: DeploymentOptions): Promise<DeploymentResult> {
    const validation = validateDefinitions(definitions);
    if ('problems' in validation) return validation;
    const wanted = validation.definitions;
    const key = registryKey(this.#prefix);
    const revisionKey = registryRevisionKey(this.#prefix);

    const summary = await this.#tx.run([key, revisionKey], async (conn) => {
      const stored = this.#parseAll(await conn.hgetall(key));
      const revision = Number(await conn.get(revisionKey) ?? 0);
      const now = this.#now();
      const added: string[] = [];
      const changed: string[] = [];
      const unchanged: string[] = [];
      const writes: Record<string, string> = {};
      for (const definition of wanted) {
        const current = stored.get(definition.id);
        if (current && canonicalJson(current.definition) === canonicalJson(definition)) {
          unchanged.push(definition.id);
          continue;
        }
        (current ? changed : added).push(definition.id);
        const next: StoredCheck = { definition, version: (current?.version ?? 0) + 1, updatedAt: now };
        writes[definition.id] = JSON.stringify(next);
      }
      const wantedIds = new Set(wanted.map((d) => d.id));
      const removed = options.prune ? [...stored.keys()].filter((id) => !wantedIds.has(id)) : [];
      const changes = added.length + changed.length + removed.length;
      const result: DeploymentSummary = {
        added: added.sort(), changed: changed.sort(), removed: removed.sort(), unchanged: unchanged.sort(),
        revision: changes > 0 ? revision + 1 : revision,
      };
      if (changes === 0) return { result };
      return {
        result,
        write: (multi) => {
          if (Object.keys(writes).length > 0) multi.hset(key, writes);
          if (removed.length > 0) multi.hdel(key, ...removed);
          multi.incr(revisionKey);
        },
      };
    });
    this.#logger.info('registry.deployed', { ...summary });
    return { summary };
  }

  /** Every registered check, sorted by id. */
  async listChecks(): Promise<StoredCheck[]> {
    return (await this.#snapshot()).sorted;
  }

  async getCheck(id: string): Promise<StoredCheck | null> {
    return (await this.#snapshot()).checks.get(id) ?? null;
  }

  /**
   * One check, read through `conn` inside an optimistic transaction that WATCHes
   * {@link registryRevisionKey}: every registry change bumps the revision in the same MULTI, so watching
   * it is watching the registry, without reading every (possibly large) definition each time.
   */
  async getCheckWithin(conn: Redis, id: string): Promise<StoredCheck | null> {
    const revision = Number(await conn.get(registryRevisionKey(this.#prefix)) ?? 0);
    if (this.#cache?.revision === revision) return this.#cache.checks.get(id) ?? null;
    const raw = await conn.hget(registryKey(this.#prefix), id);
    return raw === null ? null : this.#parse(id, raw);
  }

  /** Removes one check; false when it was not registered. */
  async removeCheck(id: string): Promise<boolean> {
    const key = registryKey(this.#prefix);
    const revisionKey = registryRevisionKey(this.#prefix);
    const removed = await this.#tx.run([key], async (conn) => {
      if (!(await conn.hexists(key, id))) return { result: false };
      return { result: true, write: (multi) => { multi.hdel(key, id); multi.incr(revisionKey); } };
    });
    if (removed) this.#logger.info('registry.removed', { checkId: id });
    return removed;
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
    this.#logger.error('registry.invalid_entry', { checkId: id, issues: parsed.success ? ['id does not match its key'] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
    return null;
  }
}

