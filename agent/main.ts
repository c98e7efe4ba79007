/**
 * `lookout-agent`: parses configuration (exit 2 on any problem, all of them printed), starts the agent,
 * logs JSON lines to stdout, and shuts down cleanly on SIGTERM/SIGINT (exit 0). Only wiring lives here.
 *
 * Shutdown: stop taking jobs, give in-flight runs `--shutdown-timeout` to finish, then cancel the
 * rest; cancelled runs publish `RUN_CANCELLED` error results (agent errors, never held against the
 * target) and their jobs complete. A second signal exits at once with code 1.
 */
import { agentHelp, parseAgentConfig } from './config.ts';
import { startAgent } from './agent.ts';
import { createLogger } from '../lib/log.ts';

const parsed = parseAgentConfig(process.argv.slice(2), process.env);
if ('help' in parsed) {
  process.stdout.write(agentHelp);
  process.exit(0);
}
if ('errors' in parsed) {
  process.stderr.write(`lookout-agent: invalid configuration:\n${parsed.errors.map((e) => `  ${e}\n`).join('')}\nRun with --help for the options.\n`);
  process.exit(2);
}
const { config } = parsed;
const logger = createLogger();

process.on('unhandledRejection', (error) => logger.error('process.unhandled_rejection', { error }));

let agent;
try {
  agent = await startAgent(config, { logger });
} catch (error) {
  const code = (error as { code?: unknown }).code;
  if (code === 'SECRETS_INVALID' || code === 'SPOOL_LOCKED' || code === 'SPOOL_UNUSABLE') {
    // Configuration, like a bad flag: every problem printed, exit 2 (messages name files and lines, never values).
    process.stderr.write(`lookout-agent: ${(error as Error).message}\n`);
    process.exit(2);
  }
  // e.g. the health port is taken: nothing else is running yet.
  logger.error('agent.start_failed', { error });
  process.exit(1);
}
agent.ready.catch((error: unknown) => {
  if ((error as { code?: unknown }).code === 'AGENT_STOPPED') return;
  // The agent refuses to run (already logged with its reason): stop and fail loudly.
  void agent.stop().finally(() => process.exit(1));
});

let signalled = false;
const onSignal = (signal: NodeJS.Signals): void => {
  if (signalled) {
    logger.warn('agent.forced_exit', { signal });
    process.exit(1);
  }
  signalled = true;
  logger.info('agent.signal', { signal });
  // stop() is bounded; the timer is a last resort should a library hang anyway.
  const hardStop = setTimeout(() => {
    logger.error('agent.shutdown_timeout', { afterMs: config.shutdownTimeoutMs + 15_000 });
    process.exit(1);
  }, config.shutdownTimeoutMs + 15_000);
  hardStop.unref();
  agent.stop().then(() => process.exit(0), (error: unknown) => {
    logger.error('agent.stop_failed', { error });
    process.exit(1);
  });
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
