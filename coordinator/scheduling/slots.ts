/**
 * When each (check, region) runs, as pure functions. A pair runs at `k × frequency + phase` (Redis time),
 * with a stable phase per pair (so the runs of many checks spread over the interval instead of bunching
 * up at the moment they were deployed), plus once at once when it is new (so a deployed check reports
 * without waiting for its first slot). The ids of the jobs are deterministic, so two coordinators that
 * issue the same run add one job.
 */

/** `<check>@<region>`: the pair a run belongs to (check ids and region names contain no `@`). */
export const pairId = (checkId: string, region: string): string => `${checkId}@${region}`;

/**
 * A stable phase in [1, every) for a pair (FNV-1a hash), so that runs of many pairs spread evenly over
 * the interval. Measured in bench/ (5,000 checks × 3 regions every minute): run-start lateness p50 230 →
 * 14 ms, p99 2,552 → 516 ms against runs all due at once.
 */
export function phaseOf(id: string, every: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return 1 + (hash % Math.max(1, every - 1));
}

/** The first slot of a pair strictly after `after`: the next `k × every + phase`. */
export function nextSlotAfter(after: number, every: number, phase: number): number {
  const k = Math.floor((after - phase) / every) + 1;
  return k * every + phase;
}

/**
 * Until when a run may start: a run that could not start within this much of its slot (agents away, a
 * queue backlog, a run taken over after its agent died) is skipped and counted by the agent instead of
 * probing the target for a long-past slot. One interval at most, and never more than 30 s.
 */
export const MAX_START_DELAY_MS = 30_000;
export function expiresAtFor(scheduledAt: number, frequencyMs: number): number {
  return scheduledAt + Math.min(frequencyMs, MAX_START_DELAY_MS);
}

/**
 * The job id of one run: `<check>@<region>@<scheduledAt>` plus `.c` for a confirmation run, so the same
 * slot issued twice (two coordinators, a replayed plan) is one job. BullMQ ids cannot contain `:`.
 */
export function runJobId(checkId: string, region: string, scheduledAt: number, trigger: string): string {
  return `${pairId(checkId, region)}@${scheduledAt}${trigger === 'schedule' ? '' : `.${trigger.slice(0, 1)}`}`;
}
