/**
 * Coordinator process entry point: parse the configuration and the alerting file (every problem at
 * once, exit 2), start alert delivery (when channels are configured) and the coordinator, log JSON
 * lines, and on SIGTERM/SIGINT stop both (bounded) and exit 0.
 */
import { loadAlertingConfig } from './alerting/config.ts';
import { coordinatorHelp, parseCoordinatorConfig } from './config.ts';
import { createLogger } from '../lib/log.ts';
import { startCoordinatorService, type CoordinatorService } from './service.ts';

const logger = createLogger();
const parsed = parseCoordinatorConfig(process.argv.slice(2), process.env);
if ('help' in parsed) {
  process.stdout.write(coordinatorHelp);
  process.exit(0);
}
if ('errors' in parsed) {
  process.stderr.write(`lookout coordinator: invalid configuration:\n${parsed.errors.map((e) => `  - ${e}`).join('\n')}\n\n${coordinatorHelp}`);
  process.exit(2);
}

// The alerting file is read and validated before anything starts, with the same exit code as bad flags.
const alerting = loadAlertingConfig(parsed.config, process.env);
if (!alerting.ok) {
  process.stderr.write(`lookout coordinator: invalid alerting configuration:\n${alerting.problems.map((e) => `  - ${e}`).join('\n')}\n`);
  process.exit(2);
}

let service: CoordinatorService;
try {
  service = await startCoordinatorService(parsed.config, { logger, alerting: alerting.setup });
} catch (error) {
  const code = (error as { code?: unknown }).code;
  logger.error('coordinator.start_failed', { code: typeof code === 'string' ? code : 'START_FAILED', error });
  process.stderr.write(`lookout coordinator: ${(error as Error).message}\n`);
  process.exit(1);
}

let stopping = false;
const shutdown = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  logger.info('coordinator.stopping', { signal });
  // A stop that hangs past this still ends the process.
  setTimeout(() => { logger.error('coordinator.stop_timeout'); process.exit(1); }, 15_000).unref();
  service.stop().then(() => process.exit(0), (error: unknown) => {
    logger.error('coordinator.stop_failed', { error });
    process.exit(1);
  });
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
