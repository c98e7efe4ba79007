/**
 * Phase timings of a run. Each hop (one request; a redirect adds a hop) records `performance.now()`
 * marks as it goes; this module turns marks into the contract's {@link Timings}.
 *
 * Per hop:
 * - `dnsMs`: the host lookup (null for an IP literal: nothing was resolved);
 * - `connectMs`: from the end of the lookup (or the start of connecting) to the TCP `connect` event;
 * - `tlsMs`: from TCP `connect` to `secureConnect` (null for `http:`);
 * - `firstByteMs`: from the connection being ready to the response headers having arrived;
 * - `downloadMs`: from the response headers to the end of the body.
 *
 * Across redirects each phase is the **sum** over the hops that had it (null when none did), and
 * `totalMs` is the wall time of the whole run, so the phases add up to roughly the total and the
 * `responseTime` assertion judges what a user following the redirects would wait.
 */
import type { Timings } from '../../../checks/contract.ts';

/** `performance.now()` marks of one hop; null until (unless) the moment happens. */
export interface HopMarks {
  /** The connector was asked for a socket. */
  connectStart: number | null;
  dnsStart: number | null;
  dnsEnd: number | null;
  /** TCP `connect` event. */
  connected: number | null;
  /** TLS `secureConnect` event. */
  secured: number | null;
  /** Response headers received. */
  headers: number | null;
  /** Last body byte read (decoded). */
  bodyEnd: number | null;
}

export function emptyMarks(): HopMarks {
  return { connectStart: null, dnsStart: null, dnsEnd: null, connected: null, secured: null, headers: null, bodyEnd: null };
}

export type PhaseTimings = Omit<Timings, 'totalMs'>;

/** The phases one hop went through. */
export function hopPhases(marks: HopMarks): PhaseTimings {
  const ready = marks.secured ?? marks.connected;
  return {
    dnsMs: span(marks.dnsStart, marks.dnsEnd),
    connectMs: span(marks.dnsEnd ?? marks.connectStart, marks.connected),
    tlsMs: span(marks.connected, marks.secured),
    firstByteMs: span(ready, marks.headers),
    downloadMs: span(marks.headers, marks.bodyEnd),
  };
}

/** Sums each phase over the hops (null if no hop had it) and adds the run's wall time. */
export function combineTimings(hops: readonly HopMarks[], totalMs: number): Timings {
  const sum: PhaseTimings = { dnsMs: null, connectMs: null, tlsMs: null, firstByteMs: null, downloadMs: null };
  for (const marks of hops) {
    const phases = hopPhases(marks);
    for (const key of PHASE_KEYS) {
      const value = phases[key];
      if (value !== null) sum[key] = (sum[key] ?? 0) + value;
    }
  }
  return { ...sum, totalMs: round(Math.max(0, totalMs)) };
}

const PHASE_KEYS = ['dnsMs', 'connectMs', 'tlsMs', 'firstByteMs', 'downloadMs'] as const;

function span(from: number | null, to: number | null): number | null {
  return from === null || to === null ? null : round(Math.max(0, to - from));
}

/** Microsecond precision is plenty and keeps results short on the wire. */
function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
