/**
 * A whole coordinator process as one unit: alert delivery (when channels are configured) plus the
 * coordinator, sharing one metrics registry, started and stopped together. `main.ts` and the
 * end-to-end tests both start coordinators through this, so tests exercise the production wiring.
 */
import { Registry } from 'prom-client';
import { webhookChannels, type CoordinatorConfig } from './config.ts';
import { startCoordinator, type RunningCoordinator, type StartOptions } from './coordinator.ts';
import { createDelivery, type Delivery } from './delivery.ts';
import { createLogger } from './log.ts';

export interface CoordinatorService {
  url: string;
  coordinator: RunningCoordinator;
  /** Null when no alert channel is configured (events are then only logged). */
  delivery: Delivery | null;
  /** Stops the coordinator, then delivery; each step bounded. */
  stop(): Promise<void>;
}

export async function startCoordinatorService(config: CoordinatorConfig, options: Pick<StartOptions, 'logger'> = {}): Promise<CoordinatorService> {
  const logger = options.logger ?? createLogger();
  const metricsRegistry = new Registry();
  const channels = webhookChannels(config);
  const delivery = channels.length > 0
    ? createDelivery({ connection: config.redisUrl, prefix: config.prefix, channels, logger, registry: metricsRegistry })
    : null;
  try {
    await delivery?.start();
    const coordinator = await startCoordinator(config, { logger, metricsRegistry, ...(delivery ? { deliver: delivery.deliver } : {}) });
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
