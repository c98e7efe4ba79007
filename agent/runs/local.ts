/**
 * Runs checks here, once, with the agent's own runners and the agent's own run execution
 * (`executeRun`: one deadline, cancellation, abandonment of a runner that ignores its signal): what
 * `lookout test` does for each check. The result is the same validated `RunResult` an agent would
 * publish (trigger `manual`, agent id `local`).
 */
import type { LoadedCheck } from '../../checks/loader.ts';
import type { CheckDefinition, CheckType, RunResult } from '../../checks/contract.ts';
import { createDirectoryArtifactSink } from '../artifacts/sink.ts';
import { validResult } from '../results/result.ts';
import { startRunners, type StartedRunners } from '../runners/index.ts';
import type { Runner, RunnerSettings, RunnerTable } from '../runners/types.ts';
import type { SecretOrigins, Secrets } from '../secrets/load.ts';
import { RunAbortError, executeRun } from './execute.ts';

/** How runners are made for local runs. */
export interface LocalRunnerOptions {
  /** The secrets that `secret('NAME')` and `secrets.NAME` resolve to. @defaultValue {} */
  secrets?: Secrets;
  /** Origins some secrets are bound to (see agent/secrets/origins.ts). @defaultValue {} */
  secretOrigins?: SecretOrigins;
  /** Where artifacts of a failed browser run are written. @defaultValue `'.lookout/artifacts'` */
  artifactsDir?: string;
  /** Browser runner options (Chromium path, …). @defaultValue {} */
  browser?: RunnerSettings['browser'];
}

export interface RunOnceOptions extends LocalRunnerOptions {
  /** Region name to report (and send as `x-lookout-region`). @defaultValue `'local'` */
  region?: string;
  /**
   * Runners to use, as they are (start them with {@link startLocalRunners} for secrets); when absent,
   * the check's type is started for this run with the other options, and closed after it.
   */
  runners?: RunnerTable;
  /** How long a runner may ignore its aborted signal before it is abandoned. @defaultValue 1000 */
  graceMs?: number;
  /** Cancels the run (e.g. Ctrl-C): it then ends as `error` / `RUN_CANCELLED`. */
  signal?: AbortSignal;
}

/**
 * Starts the runners of `types` as `lookout test` uses them: with `secrets`, artifacts written to a
 * folder. Close them (`close()`) after the last run.
 */
export function startLocalRunners(types: Iterable<CheckType>, options: LocalRunnerOptions = {}): Promise<StartedRunners> {
  return startRunners(types, {
    secrets: options.secrets ?? {},
    secretOrigins: options.secretOrigins ?? {},
    artifactSink: createDirectoryArtifactSink(options.artifactsDir ?? '.lookout/artifacts'),
    ...(options.browser ? { browser: options.browser } : {}),
  });
}

/** Runs `check` once and returns its validated result. Never throws for what the target or script does. */
export async function runCheckOnce(check: LoadedCheck | CheckDefinition, options: RunOnceOptions = {}): Promise<RunResult> {
  const definition = 'definition' in check ? check.definition : check;
  const region = options.region ?? 'local';
  const started = options.runners ? undefined : await startLocalRunners([definition.type], options);
  const runners = options.runners ?? started!.runners;
  const controller = new AbortController();
  const onCancel = (): void => controller.abort(new RunAbortError('RUN_CANCELLED', 'run cancelled: interrupted'));
  if (options.signal?.aborted) onCancel();
  else options.signal?.addEventListener('abort', onCancel, { once: true });
  const startedAt = Date.now();
  try {
    const runner = runners[definition.type] as Runner<CheckDefinition>;
    const { report } = await executeRun({ runner, definition, region, agentId: 'local', startedAt, controller, graceMs: options.graceMs ?? 1_000 });
    const built = validResult({ checkId: definition.id, checkVersion: 1, region, agentId: 'local', trigger: 'manual', scheduledAt: startedAt, slot: null }, report);
    if ('problems' in built) throw new Error(`cannot build a valid result: ${built.problems.join('; ')}`);
    return built.result;
  } finally {
    options.signal?.removeEventListener('abort', onCancel);
    await started?.close();
  }
}
