/**
 * The runner table: one entry per check type (a type added to the contract fails to compile until it
 * has one), and everything derived from it: which types an agent serves and announces, the runners it
 * starts, and the secrets around every one of them, so no type can be left out of the scrubbing.
 * Importing this module loads no browser code (see browser/index.ts).
 */
import type { Redis } from 'ioredis';
import { CHECK_TYPE_NAMES } from '../../checks/check-types.ts';
import type { CheckDefinition, CheckType } from '../../checks/contract.ts';
import type { Logger } from '../../lib/log.ts';
import { createRedisArtifactSink } from '../artifacts/store.ts';
import type { AgentConfig } from '../config.ts';
import { agentErrorReport } from '../runs/execute.ts';
import { withSecrets } from '../secrets/apply.ts';
import { withEvidence } from '../evidence/collector.ts';
import { secretSafeArtifactSink } from '../secrets/artifacts.ts';
import { loadSecrets } from '../secrets/load.ts';
import { browserChecks } from './browser/index.ts';
import { DEFAULT_DENIED_CIDRS } from './http/egress.ts';
import { httpChecks } from './http/index.ts';
import type { CheckTypeRunner, Runner, RunnerSettings, RunnerTable } from './types.ts';

/** Every check type's runner entry. */
export const CHECK_TYPE_RUNNERS: { readonly [T in CheckType]: CheckTypeRunner<T> } = {
  http: httpChecks,
  browser: browserChecks,
};

/** Runners started for some check types. */
export interface StartedRunners {
  /** A runner for every type: the started ones wrapped with the secrets; the others refuse their runs. */
  runners: RunnerTable;
  /** The types started, in table order: what an agent announces as its capabilities. */
  served: CheckType[];
  /** What the started runners hold, named by type, to close after the last run (the agent bounds each close). */
  resources: Array<{ name: string; close(): Promise<void> }>;
  /** Closes every resource in turn, unbounded: for local runs, which have no shutdown deadline. */
  close(): Promise<void>;
}

/** The types an agent with this configuration serves, in table order. */
export function agentCheckTypes(config: AgentConfig): CheckType[] {
  return CHECK_TYPE_NAMES.filter((type) => CHECK_TYPE_RUNNERS[type].servedBy(config));
}

/**
 * Starts the runners of `types`. Each is wrapped with `settings.secrets` (placeholders resolved in its
 * type's secret fields, every report scrubbed), and the artifact sink it gets stores no secret value.
 * Every other type refuses its runs with `UNSUPPORTED_CHECK_TYPE`. Throws if a runner cannot be built
 * (e.g. invalid browser options), after closing those already started.
 */
export async function startRunners(types: Iterable<CheckType>, settings: RunnerSettings = {}): Promise<StartedRunners> {
  const wanted = new Set(types);
  const secrets = settings.secrets ?? {};
  const shared: RunnerSettings = {
    ...settings,
    secrets,
    ...(settings.artifactSink ? { artifactSink: secretSafeArtifactSink(settings.artifactSink, secrets) } : {}),
  };
  const started: Partial<Record<CheckType, Runner<CheckDefinition>>> = {};
  const resources: StartedRunners['resources'] = [];
  try {
    for (const type of CHECK_TYPE_NAMES) {
      if (!wanted.has(type)) continue;
      const runner = await CHECK_TYPE_RUNNERS[type].start(shared);
      // Keyed by type: the worker hands each runner definitions of its own type only.
      started[type] = runner.run as Runner<CheckDefinition>;
      if (runner.close) resources.push({ name: type, close: runner.close });
    }
  } catch (error) {
    // The start failure is what the caller must hear about; a close failing as well would only hide it.
    for (const resource of resources) await resource.close().catch(() => {});
    throw error;
  }
  // Evidence inside the secrets wrapper: what it adds to a report is scrubbed with the rest.
  const table = runnerTable(started as Partial<RunnerTable>);
  return {
    runners: withSecrets(settings.evidence === false ? table : withEvidence(table, settings.evidence), secrets, settings.secretOrigins ?? {}),
    served: CHECK_TYPE_NAMES.filter((type) => started[type] !== undefined),
    resources,
    async close() { for (const resource of resources) await resource.close(); },
  };
}

/**
 * A table of the given runners, used as they are (no secrets applied); every other type refuses its
 * runs with `UNSUPPORTED_CHECK_TYPE`. For tests and callers that bring their own runners.
 */
export function runnerTable(runners: Partial<RunnerTable>): RunnerTable {
  const table: Partial<Record<CheckType, Runner<CheckDefinition>>> = {};
  for (const type of CHECK_TYPE_NAMES) table[type] = (runners[type] as Runner<CheckDefinition> | undefined) ?? notServed(type);
  return table as RunnerTable;
}

/** A type this process does not serve: every run is an agent error, never held against the target. */
function notServed(type: CheckType): Runner<CheckDefinition> {
  return async () => {
    const now = Date.now();
    return agentErrorReport(now, now, 'UNSUPPORTED_CHECK_TYPE', `${type} checks are not enabled on this agent`);
  };
}

/**
 * The runners of an agent: the secrets of its environment and `--secrets-file` (loaded here, once),
 * artifacts in Redis, the check types its configuration serves. Throws `SECRETS_INVALID` (every
 * problem listed) when the secrets file or variables are unusable.
 */
export async function setUpRunners(config: AgentConfig, redis: Redis, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<StartedRunners> {
  const { values: secrets, origins } = loadSecrets({ env, file: config.secretsFile });
  // Names only: values are never logged.
  if (Object.keys(secrets).length > 0) logger.info('secrets.loaded', { names: Object.keys(secrets).sort(), boundToOrigins: Object.keys(origins).sort() });
  return startRunners(agentCheckTypes(config), {
    secrets,
    secretOrigins: origins,
    artifactSink: createRedisArtifactSink(redis, { prefix: config.prefix }),
    browser: { executablePath: config.chromiumPath, concurrency: config.browserConcurrency },
    egress: { denied: [...DEFAULT_DENIED_CIDRS, ...config.denyCidrs], allowed: config.allowCidrs },
    log: (event, fields) => logger.info(event, fields),
    evidence: { trace: config.pathTrace, diagnosticResolver: config.diagnosticResolver, extraMs: config.evidenceBudgetMs },
  });
}
