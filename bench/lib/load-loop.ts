/**
 * A closed-loop load generator: `concurrency` workers each run `task` back to back until `count` tasks
 * were started or `durationMs` passed, whichever comes first (every loop is bounded in count and time).
 */
import { quantile } from './stats.ts';

export interface LoadLoopOptions {
  concurrency: number;
  /** Most tasks started. */
  count: number;
  /** Most wall time; no task starts after it. */
  durationMs: number;
  /** One unit of work; resolves `true` when it succeeded. */
  task: () => Promise<boolean>;
}

export interface LoadLoopResult {
  ok: number;
  failed: number;
  elapsedMs: number;
  /** Tasks finished per second. */
  perSecond: number;
  /** CPU time of this process during the loop, in ms. */
  cpuMs: number;
  latencyMs: { p50: number | null; p99: number | null };
  /** The first few failures' messages, for the report. */
  errors: string[];
}

export async function runLoadLoop(options: LoadLoopOptions): Promise<LoadLoopResult> {
  const latencies: number[] = [];
  const errors: string[] = [];
  let started = 0;
  let ok = 0;
  let failed = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const deadline = t0 + options.durationMs;
  const worker = async (): Promise<void> => {
    while (started < options.count && performance.now() < deadline) {
      started++;
      const begin = performance.now();
      try {
        if (await options.task()) ok++;
        else failed++;
      } catch (error) {
        failed++;
        if (errors.length < 5) errors.push(error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error));
      }
      latencies.push(performance.now() - begin);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    ok, failed, elapsedMs,
    perSecond: ((ok + failed) * 1000) / elapsedMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    latencyMs: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) },
    errors,
  };
}
