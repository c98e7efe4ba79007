/**
 * Runs one check once, here, with the agent's own runners and the agent's own run execution
 * (`executeRun`: one deadline, cancellation, abandonment of a runner that ignores its signal): what
 * `lookout test` does for each check. The result is the same validated `RunResult` an agent would
 * publish (trigger `manual`, agent id `local`).
 */
import type { LoadedCheck } from '../../checks/loader.ts';
import { type CheckDefinition, type RunResult } from '../../checks/contract.ts';
import { secretSafeArtifactSink } from '../secrets/artifacts.ts';
import { createDirectoryArtifactSink } from '../artifacts/sink.ts';
import { validResult } from '../results/result.ts';
import { RunAbortError, executeRun } from './execute.ts';
import type { Runner, RunnerTable } from '../runners/types.ts';
import { createRunners } from '../runners/index.ts';
import { createBrowserRunner, type BrowserRunner, type CreateBrowserRunnerOptions } from '../runners/browser/index.ts';
import type { Secrets } from '../secrets/load.ts';
import { withSecrets } from '../secrets/apply.ts';

export interface RunOnceOptions {
  /** Region name to report (and send as `x-lookout-region`). @defaultValue `'local'` */
  region?: string;
  /**
   * Runners to use, as they are (wrap them with `withSecrets` for secrets); when absent, the agent's
   * table with `secrets` applied, and a browser runner created for this run (and closed after) if the
   * check is a browser check.
   */
  runners?: RunnerTable;
  /** For created runners: the secrets that `secret('NAME')` and `secrets.NAME` resolve to. @defaultValue {} */
  secrets?: Secrets;
  /** For a created browser runner: where artifacts of a failed run are written. @defaultValue `'.lookout/artifacts'` */
  artifactsDir?: string;
  /** For a created browser runner: its options (Chromium path, …). @defaultValue {} */
  browser?: CreateBrowserRunnerOptions;
  /** How long a runner may ignore its aborted signal before it is abandoned. @defaultValue 1000 */
  graceMs?: number;
  /** Cancels the run (e.g. Ctrl-C): it then ends as `error` / `RUN_CANCELLED`. */
  signal?: AbortSignal;
}

/** Runs `check` once and returns its validated result. Never throws for what the target or script does. */
export async function runCheckOnce(check: LoadedCheck | CheckDefinition, options: RunOnceOptions = {}): Promise<RunResult> {
  const definition = 'definition' in check ? check.definition : check;
  const region = options.region ?? 'local';
  let browser: BrowserRunner | undefined;
  let runners = options.runners;
  if (!runners) {
    const secrets = options.secrets ?? {};
    if (definition.type === 'browser') {
      const sink = options.browser?.artifactSink ?? createDirectoryArtifactSink(options.artifactsDir ?? '.lookout/artifacts');
      browser = createBrowserRunner({ ...options.browser, secrets: { ...secrets, ...options.browser?.secrets }, artifactSink: secretSafeArtifactSink(sink, secrets) });
    }
    runners = withSecrets(createRunners({ browser }), secrets);
  }
  const controller = new AbortController();
  const onCancel = (): void => controller.abort(new RunAbortError('RUN_CANCELLED', 'run cancelled: interrupted'));
  if (options.signal?.aborted) onCancel();
  else options.signal?.addEventListener('abort', onCancel, { once: true });
  const startedAt = Date.now();
  try {
    const runner = runners[definition.type] as Runner<CheckDefinition>;
    const { report } = await executeRun({ runner, definition, region, agentId: 'local', startedAt, controller, graceMs: options.graceMs ?? 1_000 });
    const built = validResult({ checkId: definition.id, checkVersion: 1, region, agentId: 'local', trigger: 'manual', scheduledAt: startedAt }, report);
    if ('problems' in built) throw new Error(`cannot build a valid result: ${built.problems.join('; ')}`);
    return built.result;
  } finally {
    options.signal?.removeEventListener('abort', onCancel);
    await browser?.close();
  }
}
