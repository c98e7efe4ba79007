/**
 * The detection and alert policy of one check, with every default filled in. Check definitions carry
 * only what their author (or the project's `lookout.config.ts` defaults) set; the defaults live here,
 * once, so that changing one does not rewrite (and re-version) every stored definition. Pure.
 */
import type { CheckDefinition } from '../../checks/contract.ts';

export const DEFAULT_CONFIRMATION_RETRIES = 1;
export const DEFAULT_CONFIRMATION_BACKOFF_MS = 1_000;
export const DEFAULT_FLAPPING = { changes: 5, windowMs: 600_000, stableForMs: 600_000 } as const;
export const DEFAULT_SLO_WINDOW_MS = 30 * 86_400_000;

export interface FlappingRule { changes: number; windowMs: number; stableForMs: number }

export interface EffectivePolicy {
  failureThreshold: number;
  successThreshold: number;
  /** A passing run slower than this is degraded; null: speed never degrades. */
  degradedAfterMs: number | null;
  confirmation: { retries: number; backoffMs: number; otherRegions: boolean };
  /** Failing regions that make an incident global; null: every reporting region (none passing). */
  globalRegions: number | null;
  /** How long the global quorum must hold before the incident turns global. */
  globalForMs: number;
  reminderEveryMs: number | null;
  /** Null: flapping detection is off. */
  flapping: FlappingRule | null;
  notifyDegraded: boolean;
  slo: EffectiveSlo | null;
}

export interface EffectiveSlo {
  availability: { objective: number; windowMs: number } | null;
  latency: { objective: number; thresholdMs: number; windowMs: number } | null;
  burnRateAlerts: boolean;
}

/** The check's policy with defaults applied. Tolerates definitions stored before these fields existed. */
export function resolvePolicy(definition: CheckDefinition): EffectivePolicy {
  const confirmation = definition.confirmation ?? {};
  const alerting = definition.alerting ?? {};
  const flapping = alerting.flapping === false ? null : {
    changes: alerting.flapping?.changes ?? DEFAULT_FLAPPING.changes,
    windowMs: alerting.flapping?.windowMs ?? DEFAULT_FLAPPING.windowMs,
    stableForMs: alerting.flapping?.stableForMs ?? DEFAULT_FLAPPING.stableForMs,
  };
  return {
    failureThreshold: definition.failureThreshold ?? 2,
    successThreshold: definition.successThreshold ?? 2,
    degradedAfterMs: definition.degradedAfterMs ?? null,
    confirmation: {
      retries: confirmation.retries ?? DEFAULT_CONFIRMATION_RETRIES,
      backoffMs: confirmation.backoffMs ?? DEFAULT_CONFIRMATION_BACKOFF_MS,
      otherRegions: confirmation.otherRegions ?? true,
    },
    globalRegions: alerting.global?.regions ?? null,
    globalForMs: alerting.global?.forMs ?? 0,
    reminderEveryMs: alerting.reminderEveryMs ?? null,
    flapping,
    notifyDegraded: alerting.notifyDegraded ?? false,
    slo: resolveSlo(definition),
  };
}

function resolveSlo(definition: CheckDefinition): EffectiveSlo | null {
  const slo = definition.slo;
  if (!slo || (!slo.availability && !slo.latency)) return null;
  return {
    availability: slo.availability ? { objective: slo.availability.objective, windowMs: slo.availability.windowMs ?? DEFAULT_SLO_WINDOW_MS } : null,
    latency: slo.latency
      ? { objective: slo.latency.objective, thresholdMs: slo.latency.thresholdMs, windowMs: slo.latency.windowMs ?? DEFAULT_SLO_WINDOW_MS }
      : null,
    burnRateAlerts: slo.burnRateAlerts ?? true,
  };
}

/** Why a passing run is degraded, or null when it is not. */
export interface DegradedReason {
  /** Total time, when it was over `degradedAfterMs`. */
  slowMs: number | null;
  /** `expected … got …` of each failed soft assertion. */
  softFailures: string[];
}

/** Whether a run passed but degraded: slower than `degradedAfterMs`, or a soft assertion failed. */
export function degradedReason(
  result: { outcome: string; timings: { totalMs: number } | null; assertions: ReadonlyArray<{ passed: boolean; expected: string; actual: string; assertion: { soft?: boolean } }> },
  degradedAfterMs: number | null,
): DegradedReason | null {
  if (result.outcome !== 'pass') return null;
  const totalMs = result.timings?.totalMs ?? null;
  const slowMs = degradedAfterMs !== null && totalMs !== null && totalMs > degradedAfterMs ? totalMs : null;
  const softFailures = result.assertions.filter((a) => !a.passed && a.assertion.soft === true).map((a) => `expected ${a.expected}, got ${a.actual}`);
  return slowMs === null && softFailures.length === 0 ? null : { slowMs, softFailures };
}
