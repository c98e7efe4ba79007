/**
 * A whole coordinator process as one unit: alert delivery (when channels are configured) plus the
 * coordinator, sharing one metrics registry, started and stopped together. `main.ts` and the
 * end-to-end tests both start coordinators through this, so tests exercise the production wiring.
 */
import { Registry } from 'prom-client';
import { requireAlertingConfig, type AlertingSetup } from './alerting/config.ts';
import type { CoordinatorConfig } from './config.ts';
import { startCoordinator, type RunningCoordinator, type StartOptions } from './coordinator.ts';
import { createDelivery, type Delivery } from './alerting/delivery.ts';
import { createLogger } from '../lib/log.ts';
import { redisTargetOf } from '../lib/redis-options.ts';

export interface CoordinatorService {
  url: string;
  coordinator: RunningCoordinator;
  /** Null when no alert channel is configured (events are then only logged). */
  delivery: Delivery | null;
  /** Stops the coordinator, then delivery; each step bounded. */
  stop(): Promise<void>;
}

export interface ServiceOptions extends Pick<StartOptions, 'logger'> {
  /**
   * Alert channels and routes, already validated (main.ts validates them first, to exit 2 on problems).
   * @defaultValue loaded from `config` (`--alerting-config`, `--webhook-url`); throws `INVALID_ALERTING_CONFIG`
   */
  alerting?: AlertingSetup;
  /** Environment that `{ "env": "NAME" }` references in the alerting file read from. @defaultValue process.env */
  env?: Readonly<Record<string, string | undefined>>;
}

export async function startCoordinatorService(config: CoordinatorConfig, options: ServiceOptions = {}): Promise<CoordinatorService> {
  const logger = options.logger ?? createLogger();
  const metricsRegistry = new Registry();
  const alerting = options.alerting ?? requireAlertingConfig(config, options.env ?? process.env);
  const delivery = alerting.channels.length > 0
    ? createDelivery({
      connection: redisTargetOf(config), prefix: config.prefix, channels: alerting.channels, routes: alerting.routes, logger, registry: metricsRegistry,
      ...(alerting.dashboardUrl ? { dashboardUrl: alerting.dashboardUrl } : {}),
    })
    : null;
  try {
    await delivery?.start();
    const coordinator = await startCoordinator(config, {
      logger, metricsRegistry,
      ...(delivery ? {
        deliver: delivery.deliver,
        dependencies: () => ({
          delivery: delivery.isRunning()
            ? { up: true, detail: `sending to ${delivery.channels.length} channel(s)` }
            : { up: false, detail: 'the alert delivery worker is not running' },
        }),
      } : {}),
    });
    return {
      url: coordinator.url,
      coordinator,
      delivery,
      stop: async () => {
        await coordinator.stop();
        await delivery?.stop();
      },
    };
  } catch (error) {
    await delivery?.stop().catch(() => {});
    throw error;
  }
}
