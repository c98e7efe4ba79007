/**
 * The watcher of silent runs: every `intervalMs` (100 ms by default: the budgets it serves are a few
 * hundred milliseconds) it asks the unanswered-run store for the runs due for a look, decides about each
 * in the check's transaction (store.ts `applyUnanswered`, pure `planForUnanswered` inside), starts the
 * confirmation runs it planned, and then forgets the run or looks at it again later. A look that fails
 * (Redis away) leaves the run in the set for the next tick.
 *
 * Runs enter the store when a coordinator issues them (scheduling/dispatcher.ts `onIssued`) and leave it
 * when ingest records any result of their slot.
 */
import type { StoredCheck } from '../../checks/contract.ts';
import type { Logger } from '../../lib/log.ts';
import type { CoordinatorMetrics } from '../platform/metrics.ts';
import type { PlannedConfirmation } from './confirmation.ts';
import type { CheckStateStore } from './store.ts';
import type { UnansweredRunStore } from './unanswered-store.ts';
import { repeat, type Repeating } from '../../lib/repeat.ts';

/** How often the watcher looks, by default. */
export const UNANSWERED_WATCH_INTERVAL_MS = 100;

export interface UnansweredWatchOptions {
  runs: UnansweredRunStore;
  states: CheckStateStore;
  /** Starts confirmation runs (e.g. `scheduler.addConfirmationRuns`). */
  confirm: (check: StoredCheck, runs: readonly PlannedConfirmation[]) => Promise<unknown>;
  logger: Logger;
  metrics?: CoordinatorMetrics;
  /** @defaultValue {@link UNANSWERED_WATCH_INTERVAL_MS} */
  intervalMs?: number;
  /** Redis time (lib/clock.ts), as the slots are. @defaultValue Date.now */
  now?: () => number;
}

export interface WatchReport {
  /** Runs whose confirmations started on this tick. */
  confirmed: Array<{ checkId: string; region: string; scheduledAt: number; runs: Array<{ region: string; reason: string }> }>;
  looked: number;
}

export class UnansweredWatcher {
  readonly #o: UnansweredWatchOptions;
  readonly #now: () => number;
  #loop: Repeating | null = null;

  constructor(options: UnansweredWatchOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Looks every interval until {@link stop}; a tick never overlaps the previous one. */
  start(): void {
    const intervalMs = this.#o.intervalMs ?? UNANSWERED_WATCH_INTERVAL_MS;
    this.#loop ??= repeat(() => this.tick(), () => intervalMs, (error) => this.#o.logger.warn('unanswered.watch_failed', { error }));
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  /** One look: every run due now. */
  async tick(): Promise<WatchReport> {
    const { runs, states, logger, metrics } = this.#o;
    const due = await runs.unansweredRuns(this.#now());
    const report: WatchReport = { confirmed: [], looked: due.length };
    const forget: string[] = [];
    for (const { member, run } of due) {
      if (!run) { forget.push(member); continue; }
      const { decision, transition, check } = await states.applyUnanswered(run);
      const label = decision.kind === 'done' ? decision.reason : decision.kind;
      metrics?.unansweredDecisions.inc({ decision: label });
      if (decision.kind === 'wait') {
        await runs.lookAgainAt(member, decision.until);
        continue;
      }
      forget.push(member);
      if (decision.kind !== 'confirm' || !check || !transition || transition.confirmations.length === 0) continue;
      const planned = transition.confirmations;
      try {
        await this.#o.confirm(check, planned);
        report.confirmed.push({ ...run, runs: planned.map((p) => ({ region: p.region, reason: p.reason })) });
        logger.info('confirmation.started', {
          checkId: run.checkId, after: { region: run.region, silentForMs: this.#now() - run.scheduledAt }, runs: planned.map((p) => ({ region: p.region, reason: p.reason, delayMs: p.delayMs })),
        });
      } catch (error) {
        logger.warn('confirmation.start_failed', { checkId: run.checkId, regions: planned.map((p) => p.region), error });
      }
    }
    await runs.forget(forget);
    return report;
  }
}
