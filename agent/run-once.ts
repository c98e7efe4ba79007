/**
 * Runs one check once, here, with the agent's own runners: what `lookout test` does for each check.
 * The result is the same `RunResult` an agent would publish (trigger `manual`, agent id `local`).
 */
import type { LoadedCheck } from '../checks/loader.ts';
import { RunResult, SCHEMA_VERSION, type CheckDefinition } from '../checks/contract.ts';
import { createDirectoryArtifactSink, type ArtifactSink } from './artifacts.ts';
import type { RunContext, RunnerTable, RunReport } from './runner.ts';
import { createRunners } from './runners/index.ts';
import { createBrowserRunner, type BrowserRunner, type CreateBrowserRunnerOptions } from './runners/browser/index.ts';

export interface RunOnceOptions {
  /** Region name to report (and send as `x-lookout-region`). @defaultValue `'local'` */
  region?: string;
  /**
   * Runners to use; when absent, the agent's table, with a browser runner created for this run (and
   * closed after) if the check is a browser check.
   */
  runners?: RunnerTable;
  /** For a created browser runner: where artifacts of a failed run are written. @defaultValue `'.lookout/artifacts'` */
  artifactsDir?: string;
  /** For a created browser runner: its options (Chromium path, …). @defaultValue {} */
  browser?: CreateBrowserRunnerOptions;
  /** Cancels the run (e.g. Ctrl-C). */
  signal?: AbortSignal;
}

/** Runs `check` once and returns its validated result. Never throws for what the target or script does. */
export async function runCheckOnce(check: LoadedCheck | CheckDefinition, options: RunOnceOptions = {}): Promise<RunResult> {
  const definition = 'definition' in check ? check.definition : check;
  const region = options.region ?? 'local';
  let browser: BrowserRunner | undefined;
  let runners = options.runners;
  if (!runners) {
    if (definition.type === 'browser') {
      const sink: ArtifactSink = options.browser?.artifactSink ?? createDirectoryArtifactSink(options.artifactsDir ?? '.lookout/artifacts');
      browser = createBrowserRunner({ ...options.browser, artifactSink: sink });
    }
    runners = createRunners({ browser });
  }
  const startedAt = Date.now();
  const controller = new AbortController();
  const deadlineAt = startedAt + definition.timeoutMs;
  const timer = setTimeout(() => controller.abort(Object.assign(new Error('run deadline passed'), { code: 'TIMEOUT' })), definition.timeoutMs);
  const onCancel = (): void => controller.abort(Object.assign(new Error('run cancelled'), { code: 'RUN_CANCELLED' }));
  options.signal?.addEventListener('abort', onCancel, { once: true });
  const context: RunContext = { region, agentId: 'local', signal: controller.signal, deadlineAt };
  let report: RunReport;
  try {
    report = await dispatch(runners, definition, context);
  } catch (error) {
    const now = Date.now();
    report = {
      startedAt, endedAt: now, outcome: 'error', error: { code: 'AGENT_INTERNAL', message: `runner failed: ${(error as Error).message}`.slice(0, 2000) },
      timings: null, assertions: [], statusCode: null, responseBytes: null,
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onCancel);
    await browser?.close();
  }
  return RunResult.parse({
    schemaVersion: SCHEMA_VERSION, checkId: definition.id, checkVersion: 1, region, agentId: 'local', trigger: 'manual',
    scheduledAt: startedAt, ...report,
  });
}

function dispatch(runners: RunnerTable, definition: CheckDefinition, context: RunContext): Promise<RunReport> {
  switch (definition.type) {
    case 'http': return runners.http(definition, context);
    case 'browser': return runners.browser(definition, context);
  }
}
