/**
 * STAND-IN until coordinators issue every run themselves (the trust redesign: signed jobs added at their
 * slot time). Today BullMQ's job schedulers make each scheduled job inside a worker's script, so no
 * coordinator sees a scheduled run being issued. Their slots are known, though: a scheduler with
 * `every` E and offset O (`phaseOf`) makes one run at every `k × E + O` (BullMQ 6
 * `getJobSchedulerEveryNextMillis`), and the agent reports exactly that `scheduledAt`. So each tick
 * registers, per (check, region), the slots that came due since the last tick as issued runs
 * (detection/unanswered-store.ts), which is what the issuer will do when it adds a job.
 *
 * A slot of a scheduler that does not exist yet (a check deployed a moment ago) is registered too; its
 * region has no data yet, and the watcher does nothing about it. When the issuer lands, it calls
 * `UnansweredRunStore.issued` for each job it adds and this file goes.
 */
import type { StoredCheck } from '../../checks/contract.ts';
import type { RunSlot, UnansweredRunStore } from '../detection/unanswered-store.ts';
import { phaseOf, schedulerId } from './scheduler.ts';

/** The newest slot `k × every + offset` at or before `now`. */
export function latestSlot(now: number, every: number, offset: number): number {
  return Math.floor((now - offset) / every) * every + offset;
}

/**
 * The scheduled slots of `checks` that came due in (`since`, `now`], per (check, region); at most the
 * newest one per pair (older ones are past helping). Pure.
 */
export function slotsDue(checks: readonly StoredCheck[], since: number, now: number): RunSlot[] {
  const due: RunSlot[] = [];
  for (const check of checks) {
    const every = check.definition.frequencyMs;
    for (const region of check.definition.regions) {
      const slot = latestSlot(now, every, phaseOf(schedulerId(check.definition.id, region), every));
      if (slot > since) due.push({ checkId: check.definition.id, region, scheduledAt: slot, trigger: 'schedule' });
    }
  }
  return due;
}

export class SchedulerSlots {
  readonly #checks: () => Promise<readonly StoredCheck[]>;
  readonly #runs: UnansweredRunStore;
  #since: number | null = null;

  constructor(options: { checks: () => Promise<readonly StoredCheck[]>; runs: UnansweredRunStore }) {
    this.#checks = options.checks;
    this.#runs = options.runs;
  }

  /** Registers the slots due since the previous call (none on the first call: it only starts the clock). */
  async register(now: number): Promise<number> {
    const since = this.#since;
    if (since === null || now <= since) {
      this.#since = now;
      return 0;
    }
    const due = slotsDue(await this.#checks(), since, now);
    await this.#runs.issued(due);
    this.#since = now;
    return due.length;
  }
}
