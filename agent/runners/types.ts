/**
 * The seam between the agent and the check types. A runner executes one run of one check and reports
 * what it saw. It never throws for anything the target does: every target failure becomes
 * `outcome: 'fail'` with a stable code. It may throw for its own bugs; the worker turns that into
 * `outcome: 'error'` (`AGENT_INTERNAL`), which never counts against the target.
 *
 * Each check type registers a {@link CheckTypeRunner} in the runner table (index.ts), which builds its
 * runner from {@link RunnerSettings} and says whether an agent's configuration serves the type.
 */
import type { CheckDefinition, CheckDefinitionOf, CheckType, RunResult } from '../../checks/contract.ts';
import type { Redactor } from '../../checks/redact.ts';
import type { ArtifactSink } from '../artifacts/sink.ts';
import type { AgentConfig } from '../config.ts';
import type { SecretOrigins, Secrets } from '../secrets/load.ts';
import type { BoundSecret } from '../secrets/origins.ts';
import type { BrowserRunnerOptions } from './browser/options.ts';
import type { EgressPolicy } from './http/egress.ts';
import type { EvidenceOptions } from '../evidence/collector.ts';

/** What a runner gets besides the definition. */
export interface RunContext {
  /** Region this agent probes from; sent to targets as `x-lookout-region`. */
  region: string;
  agentId: string;
  /**
   * Aborted at the run's deadline (check timeout) or when the agent shuts down. `signal.reason` is an
   * Error whose `code` says which: `'TIMEOUT'` (deadline: report the target's `TIMEOUT`) or
   * `'RUN_CANCELLED'` (shutdown: the worker reports `RUN_CANCELLED` whatever the runner returns, unless
   * it passed). A runner that ignores the signal is abandoned shortly after and reported `AGENT_INTERNAL`.
   */
  signal: AbortSignal;
  /** Epoch ms at which the run must be over; `signal` fires then too. */
  deadlineAt: number;
  /**
   * Replaces the secrets' values (every encoded form) in text: set by the secrets wrapper, so that a
   * runner can scrub what it shows before cutting it (a value crossing a cut would escape the scrubbing
   * of the report afterwards) and know which headers and bodies hold a secret. Reports are scrubbed
   * again after the run all the same. @defaultValue none (no secrets: text is left as it is)
   */
  redact?: Redactor;
  /**
   * The secrets this run may use that are bound to origins (set by the secrets wrapper, agent/secrets):
   * a request carrying one to another origin must not be sent (`SECRET_ORIGIN_DENIED`). @defaultValue none
   */
  boundSecrets?: readonly BoundSecret[];
}

/**
 * The part of a result a runner decides; the worker adds ids, region, agent and schedule.
 * `browser` (optional) is set by browser runs only.
 */
export type RunReport = Pick<RunResult,
  'startedAt' | 'endedAt' | 'outcome' | 'error' | 'timings' | 'assertions' | 'statusCode' | 'responseBytes' | 'browser' | 'network' | 'evidence'>;

export type Runner<D extends CheckDefinition> = (definition: D, context: RunContext) => Promise<RunReport>;

/** One runner per check type, as the worker uses them: adding a type to the contract without one fails to compile. */
export type RunnerTable = { [T in CheckType]: Runner<CheckDefinitionOf<T>> };

/** What runners are built from: the agent's configuration, or `lookout test`'s flags. */
export interface RunnerSettings {
  /**
   * The secrets runs may use: resolved in each type's secret fields, offered to browser scripts, and
   * scrubbed from every report and stored artifact. @defaultValue {} (none)
   */
  secrets?: Secrets;
  /** Origins that some of `secrets` are bound to (the agent's secrets file). @defaultValue {} (none bound) */
  secretOrigins?: SecretOrigins;
  /**
   * Where failed runs keep their artifacts (screenshot, trace, HAR). Runners receive it wrapped so that
   * no secret value is stored. @defaultValue none: no artifacts are collected
   */
  artifactSink?: ArtifactSink;
  /** Browser checks: Chromium, concurrency, recycling (secrets come from `secrets`). @defaultValue the browser runner's defaults */
  browser?: Omit<BrowserRunnerOptions, 'secrets'>;
  /** Addresses HTTP runs may not reach (http/egress.ts). @defaultValue link-local and cloud metadata addresses denied */
  egress?: EgressPolicy;
  /** Structured log lines of runners, named after their type (`browser.launched`). @defaultValue no logging */
  log?: (event: string, fields: Record<string, unknown>) => void;
  /**
   * Deeper evidence on failure (path trace, second resolver; agent/evidence/), or `false` for none.
   * @defaultValue the collector's defaults (traces on, no second resolver)
   */
  evidence?: EvidenceOptions | false;
}

/** A runner built for an agent or a local run, and how to release what it holds. */
export interface StartedRunner<D extends CheckDefinition> {
  run: Runner<D>;
  /** Releases what the runner holds (a browser), after the last run. Callers bound it. @defaultValue nothing to release */
  close?(): Promise<void>;
}

/**
 * One check type's entry in the runner table. How the type's target is shown and which of its fields
 * may hold secrets are declared once for every process, in checks/check-types.ts; from the table the
 * agent derives the rest: which types it announces, and that every runner's reports are scrubbed.
 */
export interface CheckTypeRunner<T extends CheckType> {
  /**
   * Whether an agent with this configuration serves the type. A type it does not serve is left out of
   * its heartbeat's capabilities, and its runs end as agent errors (`UNSUPPORTED_CHECK_TYPE`).
   */
  servedBy(config: AgentConfig): boolean;
  /**
   * Builds the type's runner. Heavy code (Playwright) is loaded here or at the first run, never when
   * the table is imported, so an agent that does not serve the type does not pay for it.
   */
  start(settings: RunnerSettings): Promise<StartedRunner<CheckDefinitionOf<T>>>;
}
