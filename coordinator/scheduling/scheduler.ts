/**
 * The schedule: every (check, region) pair of the registry runs at `k × frequency + phase` (slots.ts),
 * and once at once when it is new; each run is issued when it is due by {@link CheckScheduler} and
 * added, signed, to its region's queue by the dispatcher (dispatcher.ts). Time is Redis time (lib/clock.ts)
 * for every coordinator.
 *
 * Every coordinator runs the same schedule from the same registry: whichever claims a slot first adds
 * its job (dispatcher.ts). A coordinator that stops costs nothing; if all stop, no run is issued, no
 * result comes, and the regions go `no-data` when they come back: the monitoring's own outage is never
 * the target's.
 *
 * Reconcile: the pairs are rebuilt from the registry only when its revision moved (a pass records the
 * revision it read, so a pass never repeats for the same revision and a slow pass cannot livelock), in
 * memory, with one round trip for the claims of new pairs and one for the known-regions set; regions
 * no check uses and nobody registered are pruned with their queues.
 */
import type { Redis } from 'ioredis';
import type { StoredCheck } from '../../checks/contract.ts';
import { issuedSlotsKey, knownRegionsKey, regionRecordsKey } from '../../checks/keys.ts';
import type { JobSigner } from '../../checks/signing.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { PlannedConfirmation } from '../detection/confirmation.ts';
import type { CoordinatorMetrics } from '../platform/metrics.ts';
import type { CheckRegistry } from '../registry/store.ts';
import { RunDispatcher, type IssuedRun, type RunRequest } from './dispatcher.ts';
import { MinHeap } from './heap.ts';
import { expiresAtFor, nextSlotAfter, pairId, phaseOf } from './slots.ts';

export interface ReconcileSummary {
  /** Pairs (`check@region`) added or changed (new version or frequency). */
  upserted: string[];
  /** Pairs removed. */
  removed: string[];
  unchanged: number;
  /** Regions watched now (regions of checks and registered regions). */
  regions: string[];
}

/** One (check, region) pair being scheduled. */
interface Pair {
  id: string;
  check: StoredCheck;
  region: string;
  phase: number;
  next: number;
}

/** How long a scheduler may wait before looking again when nothing is due sooner. */
const IDLE_TICK_MS = 1_000;
/** Runs due within this much of a tick are issued in it (one round trip for several). */
const BATCH_WINDOW_MS = 5;
/** A slot reached later than this after its time is skipped (counted as `missed`), not issued late. */
export const MISSED_AFTER_MS = 2_000;

/**
 * A run a tick could not issue (Redis away for a moment: a failover, a reconnect) is tried again at the
 * next ticks while it is this young: half the time an agent has to start it (its slot's expiry), and
 * never less than {@link MISSED_AFTER_MS}; older, it is counted `missed`.
 */
export const retryWindowMs = (frequencyMs: number): number => Math.max(MISSED_AFTER_MS, expiresAtFor(0, frequencyMs) / 2);

export interface CheckSchedulerOptions {
  redis: Redis;
  prefix: string;
  registry: CheckRegistry;
  signer: JobSigner;
  clock: Clock;
  logger: Logger;
  metrics?: CoordinatorMetrics;
  /**
   * Whether a region can take runs now (a live, consuming agent). Runs of other regions are not issued:
   * nothing would run them, their queue would only grow, and their checks go `no-data` anyway.
   * @defaultValue every region
   */
  regionAccepts?: (region: string) => boolean;
  /**
   * Told of every run this coordinator added to a queue, after it was added (detection watches them until
   * answered). A failure is logged; the run stands. @defaultValue nothing
   */
  onIssued?: (runs: IssuedRun[]) => Promise<unknown>;
}

export class CheckScheduler {
  readonly #o: CheckSchedulerOptions;
  readonly dispatcher: RunDispatcher;
  #pairs = new Map<string, Pair>();
  #heap = new MinHeap<Pair>((a, b) => a.next - b.next);
  #revision = -1;
  #reconciling: Promise<ReconcileSummary> | null = null;
  /** Regions watched as the last full pass found them (regions of checks and registered regions). */
  #regions: string[] = [];
  /** The pass after the running one, for calls made while it runs (see {@link reconcile}). */
  #nextPass: { force: boolean; promise: Promise<ReconcileSummary> } | null = null;
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;
  #stopped = false;
  #failing = false;
  /** Runs a failed tick did not issue: slots not claimed yet, and slots claimed whose jobs were not added. */
  #unclaimed: RunRequest[] = [];
  #unadded: RunRequest[] = [];

  constructor(options: CheckSchedulerOptions) {
    this.#o = options;
    this.dispatcher = new RunDispatcher({
      redis: options.redis, prefix: options.prefix, signer: options.signer, logger: options.logger, onIssued: options.onIssued,
      lookUp: async (checkId) => (await options.registry.getCheckAt(checkId)).check,
    });
  }

  /** The pairs scheduled now, with their next slot (tests, the API). */
  pairs(): Array<{ id: string; region: string; checkId: string; version: number; next: number }> {
    return [...this.#pairs.values()].map((p) => ({ id: p.id, region: p.region, checkId: p.check.definition.id, version: p.check.version, next: p.next }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The queue of one region (tests and manual runs). */
  queue(region: string): ReturnType<RunDispatcher['queue']> {
    return this.dispatcher.queue(region);
  }

  /**
   * Rebuilds the pairs from the registry if its revision moved since the last pass (`force`: even if
   * not). One pass runs at a time. A call made while one runs gets the next pass, which starts when that
   * one ends and is shared by every call made meanwhile: the running pass may have read the registry (and
   * the regions) before the change the caller is reacting to, and must not answer for it. So at most one
   * pass runs and one waits, however often reconcile is asked for.
   */
  reconcile(options: { force?: boolean } = {}): Promise<ReconcileSummary> {
    const force = options.force === true;
    if (this.#reconciling) {
      if (!this.#nextPass) {
        const next = { force, promise: null as unknown as Promise<ReconcileSummary> };
        next.promise = this.#reconciling.catch(() => null).then((last) => {
          this.#nextPass = null;
          // Closed meanwhile: no more passes (the last one's answer, or nothing done).
          if (this.#stopped) return last ?? { upserted: [], removed: [], unchanged: 0, regions: [] };
          return this.reconcile({ force: next.force });
        });
        this.#nextPass = next;
      }
      this.#nextPass.force ||= force;
      return this.#nextPass.promise;
    }
    this.#reconciling = this.#reconcileOnce(force).finally(() => { this.#reconciling = null; });
    return this.#reconciling;
  }

  /** Issues runs as they fall due, until {@link close}. */
  start(): void {
    this.#schedule(0);
  }

  /**
   * Adds planned confirmation runs: at once when due now, else into the due set (dispatcher.ts).
   * Idempotent per run. Returns how many were handed over.
   */
  async addConfirmationRuns(check: StoredCheck, runs: readonly PlannedConfirmation[]): Promise<number> {
    const now = this.#o.clock.now();
    const requests = runs.map((run) => ({ check, region: run.region, scheduledAt: run.scheduledAt, trigger: 'confirmation' as const, dueAt: run.scheduledAt }));
    const dueNow = requests.filter((r) => r.dueAt <= now + BATCH_WINDOW_MS);
    const later = requests.filter((r) => r.dueAt > now + BATCH_WINDOW_MS);
    await Promise.all([this.dispatcher.dispatch(dueNow), this.dispatcher.later(later)]);
    if (later.length > 0) this.#schedule(Math.max(0, Math.min(...later.map((r) => r.dueAt)) - now));
    return runs.length;
  }

  /** Issues one run of a check now (a manual run, and tests); returns whether this coordinator added it. */
  async runNow(check: StoredCheck, region: string, trigger: RunRequest['trigger'] = 'manual'): Promise<boolean> {
    return (await this.dispatcher.dispatch([{ check, region, scheduledAt: this.#o.clock.now(), trigger }])).length === 1;
  }

  async close(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#ticking?.catch(() => {});
    await this.#reconciling?.catch(() => {});
    await this.#nextPass?.promise.catch(() => {});
    await this.dispatcher.close();
  }

  async #reconcileOnce(force: boolean): Promise<ReconcileSummary> {
    const { registry, redis, prefix, clock } = this.#o;
    const revision = await registry.revision();
    const summary: ReconcileSummary = { upserted: [], removed: [], unchanged: 0, regions: [] };
    if (!force && revision === this.#revision) {
      summary.unchanged = this.#pairs.size;
      // The last full pass's: registered regions without checks included (their results queues stay consumed).
      summary.regions = this.#regions;
      return summary;
    }
    const checks = await registry.listChecks();
    const now = clock.now();
    const wanted = new Map<string, { check: StoredCheck; region: string }>();
    for (const check of checks) for (const region of check.definition.regions) wanted.set(pairId(check.definition.id, region), { check, region });

    const removed = [...this.#pairs.values()].filter((pair) => !wanted.has(pair.id));
    const fresh = [...wanted.entries()].filter(([id, want]) => {
      const have = this.#pairs.get(id);
      return !have || have.check.version !== want.check.version || have.check.definition.frequencyMs !== want.check.definition.frequencyMs;
    });
    // Redis first, memory after: a pass that fails (Redis away) leaves this scheduler as it was, to retry.
    const issued = fresh.length > 0 ? await redis.hmget(issuedSlotsKey(prefix), ...fresh.map(([id]) => id)) : [];
    summary.regions = await this.#updateKnownRegions(checks);
    this.#regions = summary.regions;

    // A pair no coordinator ever issued is new: it runs once at once (at its deploy time, the same for every
    // coordinator, so their claims agree), unless that is more than an interval ago (a coordinator starting late).
    const firstRuns: RunRequest[] = [];
    fresh.forEach(([id, { check, region }], i) => {
      const every = check.definition.frequencyMs;
      const phase = phaseOf(id, every);
      this.#pairs.set(id, { id, check, region, phase, next: nextSlotAfter(now, every, phase) });
      if (issued[i] === null && now - check.updatedAt < every) firstRuns.push({ check, region, scheduledAt: check.updatedAt, trigger: 'schedule' });
      summary.upserted.push(id);
    });
    for (const pair of removed) { this.#pairs.delete(pair.id); summary.removed.push(pair.id); }
    if (removed.length + fresh.length > 0) {
      this.#heap.removeWhere(() => true);
      for (const pair of this.#pairs.values()) this.#heap.push(pair);
    }
    summary.unchanged = this.#pairs.size - fresh.length;
    this.#revision = revision;
    if (firstRuns.length > 0) await this.dispatcher.dispatch(firstRuns.filter((r) => this.#accepts(r.region)));
    if (removed.length > 0) await this.dispatcher.forgetPairs(removed.map((p) => ({ checkId: p.check.definition.id, region: p.region })));
    summary.upserted.sort();
    summary.removed.sort();
    this.#o.metrics?.reconciles.inc();
    if (summary.upserted.length > 0) this.#o.metrics?.schedulerChanges.inc({ action: 'upserted' }, summary.upserted.length);
    if (summary.removed.length > 0) this.#o.metrics?.schedulerChanges.inc({ action: 'removed' }, summary.removed.length);
    if (summary.upserted.length + summary.removed.length > 0) {
      this.#o.logger.info('scheduler.reconciled', { revision, upserted: summary.upserted.length, removed: summary.removed.length, unchanged: summary.unchanged });
    }
    this.#schedule(0);
    return summary;
  }

  /**
   * Regions watched: those of checks and the registered ones. A region that was known but is neither
   * any more is pruned, with its check queue (its jobs could only be runs of removed checks).
   */
  async #updateKnownRegions(checks: readonly StoredCheck[]): Promise<string[]> {
    const { redis, prefix } = this.#o;
    const used = new Set(checks.flatMap((c) => c.definition.regions));
    const [known, registered] = await Promise.all([redis.smembers(knownRegionsKey(prefix)), redis.hkeys(regionRecordsKey(prefix))]);
    const keep = new Set([...used, ...registered]);
    const stale = known.filter((region) => !keep.has(region));
    const pipeline = redis.pipeline();
    if (keep.size > 0) pipeline.sadd(knownRegionsKey(prefix), ...keep);
    if (stale.length > 0) pipeline.srem(knownRegionsKey(prefix), ...stale);
    await pipeline.exec();
    for (const region of stale) {
      await this.dispatcher.queue(region).obliterate({ force: true })
        .catch((error: unknown) => this.#o.logger.warn('scheduler.prune_failed', { region, error }));
      this.#o.logger.info('scheduler.region_pruned', { region });
    }
    return [...keep].sort();
  }

  #accepts(region: string): boolean {
    return this.#o.regionAccepts?.(region) ?? true;
  }

  /** Arms the timer for the next tick, `inMs` from now at the latest. */
  #schedule(inMs: number): void {
    if (this.#stopped) return;
    const top = this.#heap.peek();
    const untilTop = top ? Math.max(0, top.next - this.#o.clock.now()) : IDLE_TICK_MS;
    const wait = Math.min(inMs, untilTop, IDLE_TICK_MS);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#tick(), wait);
  }

  #tick(): void {
    if (this.#stopped || this.#ticking) return;
    this.#ticking = this.#issueDue()
      .then(() => {
        if (this.#failing) this.#o.logger.info('scheduler.recovered');
        this.#failing = false;
      })
      .catch((error: unknown) => {
        // One line per failure streak: with Redis away this would log every tick.
        if (!this.#failing) this.#o.logger.warn('scheduler.issue_failed', { error });
        this.#failing = true;
      })
      .finally(() => {
        this.#ticking = null;
        this.#schedule(this.#failing ? 200 : IDLE_TICK_MS);
      });
  }

  /** Issues every run due now, moves due confirmation runs, and advances each pair to its next slot. */
  async #issueDue(): Promise<void> {
    const now = this.#o.clock.now();
    const due: RunRequest[] = [];
    let skipped = 0;
    let missed = 0;
    for (let top = this.#heap.peek(); top && top.next <= now + BATCH_WINDOW_MS; top = this.#heap.peek()) {
      const pair = this.#heap.pop()!;
      // A slot this scheduler reaches long after its time (it was stalled, or Redis was away) is skipped,
      // not issued late: the run would answer a past moment, and the next slot comes soon.
      if (now - pair.next > MISSED_AFTER_MS) missed++;
      else if (this.#accepts(pair.region)) due.push({ check: pair.check, region: pair.region, scheduledAt: pair.next, trigger: 'schedule' });
      else skipped++;
      pair.next = nextSlotAfter(Math.max(pair.next, now - 1), pair.check.definition.frequencyMs, pair.phase);
      this.#heap.push(pair);
    }
    // Runs an earlier tick could not issue go with these, while they are young enough.
    const young = (run: RunRequest): boolean => now - run.scheduledAt <= retryWindowMs(run.check.definition.frequencyMs);
    const retryClaims = this.#unclaimed.filter(young);
    const retryAdds = this.#unadded.filter(young);
    missed += this.#unclaimed.length + this.#unadded.length - retryClaims.length - retryAdds.length;
    this.#unclaimed = [];
    this.#unadded = [];
    if (skipped > 0) this.#o.metrics?.runsNotIssued.inc({ reason: 'no_agent' }, skipped);
    if (missed > 0) this.#o.metrics?.runsNotIssued.inc({ reason: 'missed' }, missed);
    let won: RunRequest[];
    try {
      won = await this.dispatcher.claim([...retryClaims, ...due]);
    } catch (error) {
      this.#unclaimed = [...retryClaims, ...due];
      this.#unadded = retryAdds;
      throw error;
    }
    try {
      await this.dispatcher.add([...retryAdds, ...won]);
    } catch (error) {
      // Claimed by this coordinator: no other one will add them, so this one tries again (add only).
      this.#unadded = [...retryAdds, ...won];
      throw error;
    }
    if (won.length > 0) this.#o.metrics?.runsIssued.inc({ trigger: 'schedule' }, won.length);
    await this.dispatcher.flushDue(now);
  }
}
