/**
 * The browser runner: runs browser checks' Playwright scripts on the agent's one Chromium, with its own
 * concurrency limit (separate from HTTP runs) and memory admission. Importing this module does not load
 * Playwright; the first run does.
 *
 * ```ts
 * const browser = createBrowserRunner({ concurrency: 2, artifactSink: createRedisArtifactSink(redis, { prefix }) });
 * const report = await browser.run(definition, context);
 * …
 * await browser.close();   // on shutdown, after the worker stopped
 * ```
 *
 * Agents and `lookout test` start it through the runner table (index.ts), which adds the secrets.
 */
import { randomUUID } from 'node:crypto';
import type { BrowserCheckDefinition, BrowserRunDetails, ErrorCode, Outcome } from '../../../checks/contract.ts';
import type { ArtifactSink } from '../../artifacts/sink.ts';
import type { RunContext, RunReport, Runner } from '../types.ts';
import { BrowserHost, type BrowserHostStats, type HostLog } from './browser-host.ts';
import { runJourney } from './journey.ts';
import { resolveBrowserOptions, scriptBudgetMs, type BrowserRunnerOptions } from './options.ts';
import { loadBrowserScript } from './script.ts';
import { Semaphore } from './semaphore.ts';

export type { BrowserRunnerOptions } from './options.ts';

export interface CreateBrowserRunnerOptions extends BrowserRunnerOptions {
  /** Where failed runs' artifacts go; without one, none are collected. */
  artifactSink?: ArtifactSink;
  /** Structured log lines (launch, crash, recycle, kill). @defaultValue no logging */
  log?: HostLog;
}

export interface BrowserRunnerStats extends BrowserHostStats {
  /** Runs waiting for a browser slot. */
  waiting: number;
}

export interface BrowserRunner {
  run: Runner<BrowserCheckDefinition>;
  stats(): BrowserRunnerStats;
  /** Pids of the browser's processes right now (for metrics and tests). */
  browserPids(): number[];
  /** Closes the browser, bounded; call after the worker stopped taking runs. */
  close(): Promise<void>;
}

/** Creates the runner; throws at once, listing every bad option. */
export function createBrowserRunner(options: CreateBrowserRunnerOptions = {}): BrowserRunner {
  const { artifactSink, log, ...rest } = options;
  const resolved = resolveBrowserOptions(rest);
  const host = new BrowserHost(resolved, log);
  const slots = new Semaphore(resolved.concurrency);

  async function run(definition: BrowserCheckDefinition, context: RunContext): Promise<RunReport> {
    const startedAt = Date.now();
    // `<region>.<uuid>`: the coordinator finds the run's artifacts by its region (checks/keys.ts `regionOfRunId`).
    const runId = `${context.region}.${randomUUID()}`;
    const report = (outcome: Outcome, error: { code: ErrorCode; message: string } | null, details?: BrowserRunDetails, totalMs?: number): RunReport => {
      const endedAt = Date.now();
      return {
        startedAt, endedAt, outcome, error,
        timings: { dnsMs: null, connectMs: null, tlsMs: null, firstByteMs: details?.pageLoads[0]?.ttfbMs ?? null, downloadMs: null, totalMs: totalMs ?? endedAt - startedAt },
        assertions: [], statusCode: null, responseBytes: null,
        browser: details ?? emptyDetails(runId),
      };
    };
    const aborted = (what: string): RunReport => {
      const code = (context.signal.reason as { code?: unknown } | undefined)?.code;
      if (code === 'TIMEOUT' || context.signal.aborted === false) {
        return report('error', { code: 'BROWSER_CAPACITY', message: `${what} before the run's deadline` });
      }
      return report('error', { code: 'RUN_CANCELLED', message: 'run cancelled: the agent is shutting down' });
    };

    const script = await loadBrowserScript(definition);
    if (!script.ok) {
      return script.kind === 'threw'
        ? report('fail', { code: 'SCRIPT_ERROR', message: script.message.slice(0, 2000) })
        : report('error', { code: 'INVALID_JOB', message: script.message.slice(0, 2000) });
    }
    let releaseSlot: () => void;
    try {
      releaseSlot = await slots.acquire(context.signal);
    } catch {
      return aborted(`no browser slot was free (concurrency ${resolved.concurrency})`);
    }
    try {
      let lease;
      try {
        lease = await host.acquire(context.signal);
      } catch (error) {
        if (context.signal.aborted) return aborted(`the browser could not take the run (${host.waitReason ?? 'busy'})`);
        return report('error', { code: 'BROWSER_CRASHED', message: (error as Error).message.slice(0, 2000) });
      }
      try {
        const now = Date.now();
        const journey = await runJourney(lease, {
          runId, checkId: definition.id, region: context.region, script: script.script, signal: context.signal, runDeadlineAt: context.deadlineAt,
          scriptDeadlineAt: now + scriptBudgetMs(context.deadlineAt - now, definition.timeoutMs, resolved.teardownReserveMs),
        }, resolved, artifactSink);
        const done = report(journey.outcome, journey.error, journey.details, Math.round(journey.scriptMs));
        return journey.network ? { ...done, network: journey.network } : done;
      } finally {
        lease.release();
      }
    } finally {
      releaseSlot();
    }
  }

  return {
    run,
    stats: () => ({ ...host.stats(), waiting: slots.waiting }),
    browserPids: () => host.treePids(),
    close: () => host.close(),
  };
}

function emptyDetails(runId: string): BrowserRunDetails {
  return { runId, steps: [], failedStep: null, pageLoads: [], consoleErrors: [], failedRequests: [], artifacts: [], artifactNotes: [] };
}
