/**
 * When a run was due, and the deterministic id of its result. Pure functions over the few job fields
 * they need, so they are tested without Redis.
 *
 * How BullMQ 6 marks scheduler-made jobs (read from `dist/esm/classes/job-scheduler.js` and the
 * `addJobScheduler` / `updateJobScheduler` Lua scripts): every iteration of scheduler `<key>` is a
 * job with id `repeat:<key>:<nextMillis>` and `repeatJobKey = <key>`, where `<nextMillis>` is the
 * slot's due time in epoch ms (any `every` offset is already folded in). The job's `delay` is
 * `nextMillis - now` clamped at 0, so `timestamp + delay` equals the due time only when the job was
 * created ahead of its slot; a scheduler that catches up late would make it "now". The id is the
 * reliable source; `timestamp + delay` is the fallback for plain (manual, confirmation) jobs, where
 * it is exactly when the job was meant to start.
 */

/** The job fields {@link scheduledAtOf} reads (a BullMQ `Job` has them all). */
export interface JobTiming {
  id?: string | undefined;
  repeatJobKey?: string | undefined;
  /** When the job was created, epoch ms. */
  timestamp: number;
  /** Milliseconds after `timestamp` at which the job became due. */
  delay?: number | undefined;
  opts?: { delay?: number | undefined } | undefined;
}

/**
 * The epoch ms at which a run was due. `fromData` (the job's own `scheduledAt`) wins when present;
 * then the slot encoded in a scheduler job's id; then `timestamp + delay`.
 */
export function scheduledAtOf(job: JobTiming, fromData?: number): number {
  if (fromData !== undefined) return fromData;
  const slot = schedulerSlotOf(job);
  if (slot !== undefined) return slot;
  const delay = job.delay ?? job.opts?.delay ?? 0;
  return Math.trunc(job.timestamp + (Number.isFinite(delay) && delay > 0 ? delay : 0));
}

/** The due time encoded in `repeat:<repeatJobKey>:<millis>`, if this is a scheduler job. */
export function schedulerSlotOf(job: Pick<JobTiming, 'id' | 'repeatJobKey'>): number | undefined {
  if (!job.id || !job.repeatJobKey) return undefined;
  const head = `repeat:${job.repeatJobKey}:`;
  if (!job.id.startsWith(head)) return undefined;
  const tail = job.id.slice(head.length);
  if (!/^\d{1,16}$/.test(tail)) return undefined;
  return Number(tail);
}

/** What makes one run's result unique. */
export interface ResultIdentity {
  checkId: string;
  region: string;
  scheduledAt: number;
  trigger: string;
}

/**
 * BullMQ job id of a result. Deterministic, so a re-run of the same slot (at-least-once delivery, a
 * publish retried after a timeout, a spool flush racing a late write) does not add a second result
 * job while the first is kept. BullMQ 6 refuses custom ids containing `:` unless they have exactly
 * three parts (`Custom Id cannot contain :`), and check ids and regions never contain `.`, so `.`
 * separates the parts unambiguously.
 */
export function resultJobId(identity: ResultIdentity): string {
  return `${identity.checkId}.${identity.region}.${identity.scheduledAt}.${identity.trigger}`;
}
