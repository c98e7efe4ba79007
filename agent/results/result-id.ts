/** The deterministic id of a run's result job. Pure. */

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
