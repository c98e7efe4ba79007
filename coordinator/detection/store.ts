/**
 * Check states in Redis, changed only through optimistic transactions: WATCH the check's state key (and
 * the registry's revision, so a transition always uses the current definition), read, decide with the pure
 * functions of check-state.ts, then commit the state, the open-incident index, the resolved-incident
 * history and the emitted events (outbox) in one MULTI/EXEC. A lost race retries from the read, so each
 * transition (and its event) is committed exactly once however many coordinators race.
 *
 * Each transition is told whether a maintenance window covers the check now (maintenance-store.ts, read
 * through a per-revision cache, not watched: a window created during a transaction applies from the next).
 */
import { randomBytes } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import type { RunResult, StoredCheck } from '../../checks/contract.ts';
import {
  emptyCheckState, resultTransition, retireCheck, sweepCheck, unansweredTransition, type CheckState, type Transition, type TransitionContext,
} from './check-state.ts';
import type { UnansweredDecision, UnansweredRun } from './confirmation.ts';
import type { Incident } from './incident.ts';
import { checkStateKey, openIncidentsKey, outboxKey, recentRunsKey, regionEvidenceKey, registryRevisionKey, resolvedIncidentsKey } from '../../checks/keys.ts';
import { attachEvidence, evidenceWrite, readEvidence, writeEvidence } from './evidence-store.ts';
import type { RegionEvidence } from './evidence.ts';
import { isInMaintenance, type MaintenanceWindow } from '../maintenance/maintenance.ts';
import { MaintenanceStore } from '../maintenance/store.ts';
import type { CheckRegistry } from '../registry/store.ts';
import type { TransactionRunner } from '../platform/transaction.ts';

/** Resolved incidents kept for the API. */
export const RESOLVED_INCIDENTS_KEPT = 500;

export class CheckStateStore {
  readonly #redis: Redis;
  readonly #tx: TransactionRunner;
  readonly #prefix: string;
  readonly #now: () => number;
  readonly #registry: CheckRegistry;
  /** The maintenance windows, shared with ingest, the sweeper and the API (one cache). */
  readonly maintenance: MaintenanceStore;

  constructor(options: { redis: Redis; tx: TransactionRunner; prefix: string; registry: CheckRegistry; now?: () => number; maintenance?: MaintenanceStore }) {
    this.#registry = options.registry;
    this.maintenance = options.maintenance ?? new MaintenanceStore({ redis: options.redis, prefix: options.prefix, now: options.now });
    this.#redis = options.redis;
    this.#tx = options.tx;
    this.#prefix = options.prefix;
    this.#now = options.now ?? Date.now;
  }

  /** States of the given checks (absent for a check that never had one written). */
  async readMany(checkIds: readonly string[]): Promise<Map<string, CheckState>> {
    const out = new Map<string, CheckState>();
    if (checkIds.length === 0) return out;
    const raws = await this.#redis.mget(...checkIds.map((id) => checkStateKey(this.#prefix, id)));
    checkIds.forEach((id, i) => {
      const state = parseState(raws[i] ?? null);
      if (state) out.set(id, state);
    });
    return out;
  }

  /**
   * Applies one validated result to its check. Returns null when the check or the region is not
   * registered (any more), without writing anything. `confirmations`: plan confirmation runs (the
   * caller starts `transition.confirmations` after this returns). @defaultValue false. `windows`: the
   * maintenance windows, when the caller has just read them. @defaultValue read here
   */
  async applyResult(result: RunResult, options: { confirmations?: boolean; windows?: readonly MaintenanceWindow[] } = {}): Promise<Transition | null> {
    const windows = options.windows ?? await this.maintenance.list();
    return this.#transition(result.checkId, (state, check, now) => {
      if (!check || !check.definition.regions.includes(result.region)) return null;
      const context: TransitionContext = { inMaintenance: isInMaintenance(windows, check.definition, now), confirmations: options.confirmations === true };
      return resultTransition(state ?? emptyCheckState(check), check, result, now, () => newIncidentId(result.checkId, now), context);
    }, { evidence: evidenceWrite(result) });
  }

  /**
   * Decides about a run that has had no result so far (check-state.ts `unansweredTransition`) and commits
   * the confirmations it plans. `check` is null (and the decision `done`) when the check or region is
   * gone; the caller starts `transition.confirmations` with it.
   */
  async applyUnanswered(run: UnansweredRun): Promise<{ decision: UnansweredDecision; transition: Transition | null; check: StoredCheck | null }> {
    const windows = await this.maintenance.list();
    let decision: UnansweredDecision = { kind: 'done', reason: 'not-applicable' };
    let decidedWith: StoredCheck | null = null;
    const transition = await this.#transition(run.checkId, (state, check, now) => {
      decidedWith = check;
      decision = { kind: 'done', reason: 'not-applicable' };
      if (!check || !check.definition.regions.includes(run.region)) return null;
      const context: TransitionContext = { inMaintenance: isInMaintenance(windows, check.definition, now), confirmations: true };
      const next = unansweredTransition(state ?? emptyCheckState(check), check, run, now, () => newIncidentId(run.checkId, now), context);
      decision = next.decision;
      return next.transition;
    });
    return { decision, transition, check: decidedWith };
  }

  /** Marks silent regions of one check `no-data` and applies the time-based rules (see sweepCheck). Null when the check is gone. */
  async sweep(checkId: string, liveRegions: ReadonlySet<string>, judgedFrom?: number): Promise<Transition | null> {
    const windows = await this.maintenance.list();
    return this.#transition(checkId, (state, check, now) => {
      if (!check) return null;
      const context: TransitionContext = { inMaintenance: isInMaintenance(windows, check.definition, now), ...(judgedFrom !== undefined ? { judgedFrom } : {}) };
      return sweepCheck(state ?? emptyCheckState(check), check, liveRegions, now, () => newIncidentId(checkId, now), context);
    });
  }

  /**
   * Forgets a check that is no longer registered: resolves its open incident (emitting
   * `incident.resolved`) and deletes its state and recent runs. Null when it is registered again or had
   * no state.
   */
  async retire(checkId: string): Promise<Transition | null> {
    return this.#transition(checkId, (state, check, now) => {
      if (check || !state) return null;
      return retireCheck(state, now);
    }, { deleteState: true });
  }

  /** Open incidents of every check, newest first. */
  async openIncidents(): Promise<Incident[]> {
    const hash = await this.#redis.hgetall(openIncidentsKey(this.#prefix));
    return Object.values(hash).flatMap((raw) => parseIncident(raw)).sort((a, b) => b.openedAt - a.openedAt);
  }

  /** Ids of checks with an open incident (including checks removed since). */
  async checksWithOpenIncidents(): Promise<string[]> {
    return this.#redis.hkeys(openIncidentsKey(this.#prefix));
  }

  /** Recently resolved incidents, newest first. */
  async resolvedIncidents(limit = RESOLVED_INCIDENTS_KEPT): Promise<Incident[]> {
    const raws = await this.#redis.lrange(resolvedIncidentsKey(this.#prefix), 0, limit - 1);
    return raws.flatMap((raw) => parseIncident(raw));
  }

  /**
   * `evidence`: the facts the result being applied adds (written with the transition; see evidence-store.ts).
   * While the check has an open incident, its evidence is recomputed here, from the stored facts.
   */
  async #transition(
    checkId: string,
    decide: (state: CheckState | null, check: StoredCheck | null, now: number) => Transition | null,
    options: { deleteState?: boolean; evidence?: { region: string; facts: RegionEvidence } | null } = {},
  ): Promise<Transition | null> {
    const stateKey = checkStateKey(this.#prefix, checkId);
    return this.#tx.run([stateKey, registryRevisionKey(this.#prefix)], async (conn) => {
      // One command for both reads: the state, and the registry revision that tells whether the cached definition is current.
      const [rawState, rawRevision] = await conn.mget(stateKey, registryRevisionKey(this.#prefix));
      const check = await this.#registry.getCheckWithin(conn, checkId, Number(rawRevision ?? 0));
      let transition = decide(parseState(rawState), check, this.#now());
      if (!transition || (!transition.changed && !options.deleteState)) return { result: transition };
      if (transition.state.incident && !options.deleteState) {
        transition = attachEvidence(transition, await readEvidence(conn, this.#prefix, checkId), options.evidence ?? null);
      }
      const decided = transition;
      return { result: decided, write: (multi) => this.#write(multi, decided, options.deleteState ?? false, options.evidence ?? null) };
    });
  }

  #write(multi: ChainableCommander, transition: Transition, deleteState: boolean, evidence: { region: string; facts: RegionEvidence } | null): void {
    const { state } = transition;
    const prefix = this.#prefix;
    if (deleteState) {
      multi.del(checkStateKey(prefix, state.checkId));
      multi.del(regionEvidenceKey(prefix, state.checkId));
      for (const region of Object.keys(state.verdicts)) multi.del(recentRunsKey(prefix, state.checkId, region));
    } else {
      multi.set(checkStateKey(prefix, state.checkId), JSON.stringify(state));
      if (evidence) writeEvidence(multi, prefix, state.checkId, evidence);
    }
    if (state.incident) multi.hset(openIncidentsKey(prefix), state.checkId, JSON.stringify(state.incident));
    else multi.hdel(openIncidentsKey(prefix), state.checkId);
    if (transition.resolved) {
      multi.lpush(resolvedIncidentsKey(prefix), JSON.stringify(transition.resolved));
      multi.ltrim(resolvedIncidentsKey(prefix), 0, RESOLVED_INCIDENTS_KEPT - 1);
    }
    for (const event of transition.events) multi.lpush(outboxKey(prefix), JSON.stringify(event));
  }
}

/** Incident ids are unique and readable: `${checkId}-${time base 36}-${random}`. */
function newIncidentId(checkId: string, now: number): string {
  return `${checkId}-${now.toString(36)}-${randomBytes(3).toString('hex')}`;
}

function parseState(raw: string | null): CheckState | null {
  if (raw === null) return null;
  try {
    const value = JSON.parse(raw) as CheckState;
    return value && typeof value.checkId === 'string' && typeof value.verdicts === 'object' ? value : null;
  } catch {
    return null;
  }
}

function parseIncident(raw: string): Incident[] {
  try {
    const value = JSON.parse(raw) as Incident;
    return value && typeof value.id === 'string' ? [value] : [];
  } catch {
    return [];
  }
}
