/**
 * Which runners an agent serves. Browser checks need Chromium: the browser runner (and with it
 * Playwright) is created only when `browserChecks` is on, so an HTTP-only agent stays light.
 * Every runner is wrapped with the agent's secrets (agent/secrets/): placeholders resolved at run
 * time, values scrubbed from every report and stored artifact.
 */
import type { Redis } from 'ioredis';
import { secretSafeArtifactSink } from '../secrets/artifacts.ts';
import { createRedisArtifactSink } from '../artifacts/store.ts';
import type { AgentConfig } from '../config.ts';
import type { Logger } from '../../lib/log.ts';
import type { RunnerTable } from './types.ts';
import { createRunners } from './index.ts';
import { loadSecrets } from '../secrets/load.ts';
import { withSecrets } from '../secrets/apply.ts';

export interface RunnerSetup {
  runners: RunnerTable;
  capabilities: string[];
  resources: Array<{ name: string; close(): Promise<void> }>;
}

/** Throws `SECRETS_INVALID` (every problem listed) when the secrets file or variables are unusable. */
export async function setUpRunners(config: AgentConfig, redis: Redis, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<RunnerSetup> {
  const secrets = loadSecrets({ env, file: config.secretsFile });
  // Names only: values are never logged.
  if (Object.keys(secrets).length > 0) logger.info('secrets.loaded', { names: Object.keys(secrets).sort() });
  if (!config.browserChecks) return { runners: withSecrets(createRunners(), secrets), capabilities: ['http'], resources: [] };
  const { createBrowserRunner } = await import('./browser/index.ts');
  const browser = createBrowserRunner({
    executablePath: config.chromiumPath,
    concurrency: config.browserConcurrency,
    artifactSink: secretSafeArtifactSink(createRedisArtifactSink(redis, { prefix: config.prefix }), secrets),
    secrets: { ...secrets },
    log: (event, fields) => logger.info(`browser.${event}`, fields),
  });
  return { runners: withSecrets(createRunners({ browser }), secrets), capabilities: ['http', 'browser'], resources: [{ name: 'browser', close: () => browser.close() }] };
}
