/**
 * Runs issued and not answered yet, in one Redis sorted set ({@link unansweredRunsKey}): whoever issues a
 * run adds it ({@link UnansweredRunStore.issued}), ingest removes it when any result of its slot arrives
 * ({@link UnansweredRunStore.answered}), and the watcher (unanswered-watch.ts) asks for the runs due for a
 * look ({@link UnansweredRunStore.unansweredRuns}) and decides about each with the pure
 * `planForUnanswered` (confirmation.ts). The score is when to look next: first the run's slot plus the
 * shortest budget; the decision may move it later ({@link UnansweredRunStore.lookAgainAt}) or forget the run.
 *
 * Every member leaves the set within its run's timeout plus a grace: answered, confirmed early, or given up
 * as lost. Nothing here decides anything; a lost write costs at most an early confirmation not started.
 */
import type { Redis } from 'ioredis';
import { unansweredRunsKey } from '../../checks/keys.ts';
import { RunTrigger } from '../../checks/contract.ts';
import { UNANSWERED_MIN_BUDGET_MS, type UnansweredRun } from './confirmation.ts';

/** The slot of a run: what names it (the trigger too: a confirmation and a scheduled run may share a slot). */
export type RunSlot = Pick<UnansweredRun, 'checkId' | 'region' | 'scheduledAt' | 'trigger'>;

/** Most runs one call to {@link UnansweredRunStore.unansweredRuns} returns. */
export const UNANSWERED_BATCH = 500;

/** The set member of a run: its parts joined by spaces (check ids, regions and triggers hold none). */
export function runMember(run: RunSlot): string {
  return `${run.checkId} ${run.region} ${run.scheduledAt} ${run.trigger}`;
}

/** The run a member names; null for anything malformed (skipped and forgotten by the caller). */
export function parseRunMember(member: string): UnansweredRun | null {
  const parts = member.split(' ');
  if (parts.length !== 4) return null;
  const [checkId, region, slot, trigger] = parts as [string, string, string, string];
  const scheduledAt = Number(slot);
  const parsedTrigger = RunTrigger.safeParse(trigger);
  if (!checkId || !region || !/^\d{1,16}$/.test(slot) || !parsedTrigger.success) return null;
  return { checkId, region, scheduledAt, trigger: parsedTrigger.data };
}

export class UnansweredRunStore {
  readonly #redis: Redis;
  readonly #key: string;

  constructor(options: { redis: Redis; prefix: string }) {
    this.#redis = options.redis;
    this.#key = unansweredRunsKey(options.prefix);
  }

  /**
   * Records runs as issued: each is first looked at {@link UNANSWERED_MIN_BUDGET_MS} after its slot,
   * unless a result comes first. Idempotent (a run issued twice keeps its place).
   */
  async issued(runs: readonly RunSlot[]): Promise<void> {
    if (runs.length === 0) return;
    const args = runs.flatMap((run) => [run.scheduledAt + UNANSWERED_MIN_BUDGET_MS, runMember(run)]);
    await this.#redis.zadd(this.#key, 'NX', ...args);
  }

  /** A result of this slot arrived (whatever it says): the run is no longer unanswered. */
  async answered(run: RunSlot): Promise<void> {
    await this.#redis.zrem(this.#key, runMember(run));
  }

  /** Runs due for a look at `now`, the longest due first, at most `limit`. */
  async unansweredRuns(now: number, limit = UNANSWERED_BATCH): Promise<Array<{ member: string; run: UnansweredRun | null }>> {
    const members = await this.#redis.zrangebyscore(this.#key, '-inf', now, 'LIMIT', 0, limit);
    return members.map((member) => ({ member, run: parseRunMember(member) }));
  }

  /** Looks at a run again at `at`, unless it was answered (removed) meanwhile. */
  async lookAgainAt(member: string, at: number): Promise<void> {
    await this.#redis.zadd(this.#key, 'XX', at, member);
  }

  /** Forgets runs that need nothing more. */
  async forget(members: readonly string[]): Promise<void> {
    if (members.length > 0) await this.#redis.zrem(this.#key, ...members);
  }

  /** How many runs are unanswered (for metrics and tests). */
  async size(): Promise<number> {
    return this.#redis.zcard(this.#key);
  }
}
