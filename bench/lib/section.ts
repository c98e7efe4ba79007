/** What every benchmark section gets from the runner, and what it returns. */
import { randomBytes } from 'node:crypto';
import type { BenchRedis } from './redis.ts';
import type { Figure, Target } from './report.ts';

export interface SectionContext {
  /** A redis-server of this section's own (fresh per section, stopped after it). */
  redis: BenchRedis;
  /** Tiny sizes and short windows: seconds per section, for the smoke test. */
  smoke: boolean;
  /** Where child processes write their logs. */
  logDir: string;
  /** Where reports (and profiles) go: bench/results by default. */
  resultsDir: string;
  /** Pass `--cpu-prof` to Lookout's processes (profiles land in `<resultsDir>/profiles`). */
  profile: boolean;
  /** Agent concurrency for the throughput comparison (the same for undici and blackbox_exporter). */
  concurrency: number;
  /** Registers a clean-up (stop a process, close a server); run in reverse order when the section ends, even on failure. */
  defer(cleanup: () => Promise<void> | void): void;
  /** Logs a progress line to stderr. */
  log(message: string): void;
}

export interface SectionOutput {
  figures: Figure[];
  targets: Target[];
  notes: string[];
  data?: unknown;
  /** Set when the benchmark could not run here at all (e.g. its script does not exist yet): why. */
  absent?: string;
}

export interface Section {
  id: string;
  title: string;
  run(ctx: SectionContext): Promise<SectionOutput>;
}

/** A BullMQ prefix unique to one use. */
export function uniquePrefix(label: string): string {
  return `bench-${label}-${randomBytes(3).toString('hex')}`;
}
