/**
 * Which runners an agent serves. Browser checks need Chromium: the browser runner (and with it
 * Playwright) is created only when `browserChecks` is on, so an HTTP-only agent stays light.
 */
import type { Redis } from 'ioredis';
import { createRedisArtifactSink } from './artifacts.ts';
import type { AgentConfig } from './config.ts';
import type { Logger } from './log.ts';
import type { RunnerTable } from './runner.ts';
import { createRunners } from './runners/index.ts';

export interface RunnerSetup {
  runners: RunnerTable;
  capabilities: string[];
  resources: Array<{ name: string; close(): Promise<void> }>;
}

export async function setUpRunners(config: AgentConfig, redis: Redis, logger: Logger): Promise<RunnerSetup> {
  if (!config.browserChecks) return { runners: createRunners(), capabilities: ['http'], resources: [] };
  const { createBrowserRunner } = await import('./runners/browser/index.ts');
  const browser = createBrowserRunner({
    executablePath: config.chromiumPath,
    concurrency: config.browserConcurrency,
    artifactSink: createRedisArtifactSink(redis, { prefix: config.prefix }),
    log: (event, fields) => logger.info(`browser.${event}`, fields),
  });
  return { runners: createRunners({ browser }), capabilities: ['http', 'browser'], resources: [{ name: 'browser', close: () => browser.close() }] };
}
