/**
 * Wires one coordinator: Redis connections (after the start-up checks), registry, check-state store,
 * schedulers, results ingest, sweeper, outbox pump and the HTTP server. Every piece of state is in Redis,
 * so any number of coordinators can run against the same Redis and prefix.
 */
import { createServer } from 'node:http';
import { settlesWithin } from '../lib/bounded.ts';
import type { AddressInfo } from 'node:net';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { CoordinatorConfig } from './config.ts';
import { createApiHandler } from './http/server.ts';
import { createAuthorizer } from './http/auth.ts';
import { CanarySender } from './liveness/canary-sender.ts';
import type { AlertEvent } from './events/events.ts';
import { startIngestWorker } from './results/ingest.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { createMetrics, type CoordinatorMetrics } from './platform/metrics.ts';
import { openIncidentsKey } from '../checks/keys.ts';
import { OutboxPump, type Deliver } from './events/outbox.ts';
import { assertNoEviction, connectRedis, waitForRedis } from '../lib/redis.ts';
import { CheckRegistry } from './registry/store.ts';
import { CheckScheduler, type ReconcileSummary } from './scheduling/scheduler.ts';
import { CheckStateStore } from './detection/store.ts';
import { UnansweredRunStore } from './detection/unanswered-store.ts';
import { UnansweredWatcher } from './detection/unanswered-watch.ts';
import { SchedulerSlots } from './scheduling/issued-slots.ts';
import { Sweeper } from './sweeper.ts';
import { TokenStore } from './http/tokens.ts';
import { TransactionRunner } from './platform/transaction.ts';

export interface StartOptions {
  /**
   * Hands one alert event to delivery (e.g. the alerts queue). Must be idempotent by `event.id`: an
   * event can be handed over more than once. @defaultValue logs the event as an `alert.event` line
   */
  deliver?: Deliver;
  /** @defaultValue JSON lines on stdout */
  logger?: Logger;
  /** How long an offline agent stays listed. @defaultValue 24 h */
  agentRetentionMs?: number;
  /** How long start-up waits for Redis. @defaultValue 10000 */
  redisTimeoutMs?: number;
  /** How long `stop()` waits for in-flight results before cancelling them. @defaultValue 5000 */
  stopTimeoutMs?: number;
  /** Registry to add the coordinator's metrics to, shared with other modules of the process. @defaultValue a new one */
  metricsRegistry?: MetricsRegistry;
}

export interface RunningCoordinator {
  /** Base URL of the HTTP server, e.g. `http://127.0.0.1:8080`. */
  url: string;
  registry: CheckRegistry;
  scheduler: CheckScheduler;
  sweeper: Sweeper;
  /** Sends the region canaries; null when `canaryIntervalMs` is 0. */
  canaries: CanarySender | null;
  metrics: CoordinatorMetrics;
  /** Reconciles schedulers now (also done at start-up, after deployments and periodically). */
  reconcile(): Promise<ReconcileSummary>;
  /** Stops everything (bounded), closes the server and the connections. */
  stop(): Promise<void>;
}

export async function startCoordinator(config: CoordinatorConfig, options: StartOptions = {}): Promise<RunningCoordinator> {
  const logger = options.logger ?? createLogger();
  const redis = connectRedis(config.redisUrl, { name: 'lookout-coordinator', logger });
  try {
    await waitForRedis(redis, config.redisUrl, options.redisTimeoutMs ?? 10_000);
    await assertNoEviction(redis, { via: 'config', unreadable: config.skipRedisPolicyCheck ? 'warn' : 'refuse', logger });
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const prefix = config.prefix;
  const workerRedis = connectRedis(config.redisUrl, { name: 'lookout-coordinator-ingest', logger, blocking: true });
  const metrics = createMetrics(() => redis.hlen(openIncidentsKey(prefix)), options.metricsRegistry);
  const tx = new TransactionRunner(redis, { size: config.ingestConcurrency + 4, onConflict: () => metrics.transactionConflicts.inc() });
  const registry = new CheckRegistry({ redis, tx, prefix, logger });
  const store = new CheckStateStore({ redis, tx, prefix, registry });
  const scheduler = new CheckScheduler({ redis, prefix, registry, logger, metrics });
  const unanswered = new UnansweredRunStore({ redis, prefix });
  // Until coordinators issue every run themselves, the slots of BullMQ's schedulers stand in for issuing.
  const slots = new SchedulerSlots({ checks: () => registry.listChecks(), runs: unanswered });
  const watcher = new UnansweredWatcher({
    runs: unanswered, states: store, logger, metrics,
    confirm: (check, runs) => scheduler.addConfirmationRuns(check, runs),
    beforeLook: async (now) => { await slots.register(now); },
  });
  const deliver: Deliver = options.deliver ?? (async (event: AlertEvent) => logger.info('alert.event', { event }));
  const pump = new OutboxPump({ redis, prefix, deliver, logger, onMoved: (n) => metrics.outboxMoved.inc(n) });

  let stopping = false;
  let worker: Worker | null = null;
  let reconcileTimer: NodeJS.Timeout | null = null;
  let lastRevision = -1;
  const reconcile = async (): Promise<ReconcileSummary> => {
    const revision = await registry.revision();
    const summary = await scheduler.reconcile();
    lastRevision = Math.max(lastRevision, revision);
    return summary;
  };
  const reconcileQuietly = (reason: string): void => {
    if (stopping) return;
    reconcile().catch((error) => logger.warn('scheduler.reconcile_failed', { reason, error }));
  };

  // Regions with a live heartbeat at the last sweep: canaries go there too, not only to regions with checks.
  let liveRegions: readonly string[] = [];
  const sweeper = new Sweeper({
    redis, tx, prefix, registry, store, metrics, logger, agentRetentionMs: options.agentRetentionMs,
    onSwept: (report) => {
      liveRegions = report.liveRegions;
      pump.kick();
      // Another coordinator changed the registry: reconcile here too (cheap when nothing differs).
      registry.revision().then((revision) => { if (revision !== lastRevision) reconcileQuietly('revision'); }, () => {});
    },
  });

  const canaries = config.canaryIntervalMs > 0
    ? new CanarySender({
      redis, prefix, intervalMs: config.canaryIntervalMs, logger,
      queueFor: (region) => scheduler.queue(region),
      regions: async () => [...(await registry.listChecks()).flatMap((check) => check.definition.regions), ...liveRegions],
    })
    : null;

  const authorize = createAuthorizer({ tokens: new TokenStore({ redis, prefix }), policy: { enabled: config.auth, publicRead: config.publicRead } });
  const server = createServer(createApiHandler({
    redis, prefix, registry, store, metrics, logger, authorize,
    afterRegistryChange: async (removed) => {
      for (const checkId of removed) await store.retire(checkId).catch((error) => logger.warn('check.retire_failed', { checkId, error }));
      pump.kick();
      try {
        return await reconcile();
      } catch (error) {
        logger.warn('scheduler.reconcile_failed', { reason: 'deployment', error });
        return { error: { code: 'RECONCILE_FAILED', message: `${(error as Error).message}; retried periodically` } };
      }
    },
    readiness: async () => {
      const redisOk = await Promise.race([
        redis.ping().then(() => true, () => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1_000).unref()),
      ]);
      const workerOk = worker !== null && worker.isRunning();
      return { ready: redisOk && workerOk && !stopping, checks: { redis: redisOk, ingestWorker: workerOk, stopping } };
    },
  }));

  /**
   * Every step is bounded: with Redis away, closing queues and workers can wait forever, and a stop
   * must still end (the connections are disconnected last, which fails whatever still waits on them).
   */
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (reconcileTimer) clearInterval(reconcileTimer);
    const stepMs = options.stopTimeoutMs ?? 5_000;
    const step = (name: string, work: () => Promise<unknown>, ms = stepMs) => bounded(name, work, ms, logger);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await step('sweeper', () => sweeper.stop());
    await step('unanswered', () => watcher.stop(), 1_000);
    if (canaries) await step('canaries', () => canaries.stop(), 1_000);
    // In-flight results get `stepMs` to finish (none when Redis is away: they cannot finish anyway);
    // then the worker's connections are cut, since a second `close(true)` would only return the first,
    // pending close. Results left unfinished are stalled jobs that BullMQ hands to another worker.
    if (worker) {
      const w = worker;
      const graceful = redis.status === 'ready';
      const done = graceful ? await step('ingest', () => w.close()) : await step('ingest-force', () => w.close(true), 1_000);
      if (!done) await step('ingest-disconnect', () => w.disconnect(), 1_000);
    }
    server.closeAllConnections();
    await step('http', () => closed, 1_000);
    await step('outbox', () => pump.stop(), 1_000);
    await step('scheduler', () => scheduler.close(), 1_000);
    await step('transactions', () => tx.close(), 1_000);
    await Promise.all([closeRedis(redis), closeRedis(workerRedis)]);
    logger.info('coordinator.stopped');
  };

  try {
    await reconcile();
    worker = startIngestWorker({
      redis, prefix, registry, store, metrics, logger, unanswered, onEvents: () => pump.kick(), confirm: (check, runs) => scheduler.addConfirmationRuns(check, runs),
    }, { connection: workerRedis, concurrency: config.ingestConcurrency });
    sweeper.start(config.sweepIntervalMs);
    watcher.start();
    canaries?.start();
    reconcileTimer = setInterval(() => reconcileQuietly('periodic'), config.reconcileIntervalMs);
    pump.kick();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => { server.off('error', reject); resolve(); });
    });
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info('coordinator.started', { url, prefix, sweepIntervalMs: config.sweepIntervalMs, canaryIntervalMs: config.canaryIntervalMs, auth: config.auth ? 'on' : 'off', publicRead: config.publicRead });
  if (!config.auth) logger.warn('auth.disabled', { note: 'every API route, deployments included, answers without a token (--auth off): for local development only' });
  return { url, registry, scheduler, sweeper, canaries, metrics, reconcile, stop };
}

/** Runs one shutdown step for at most `ms`; false (and a log line) when it did not finish in time. */
async function bounded(name: string, work: () => Promise<unknown>, ms: number, logger: Logger): Promise<boolean> {
  const finished = await settlesWithin(work().catch((error: unknown) => logger.warn('coordinator.stop_step_failed', { step: name, error })), ms);
  if (!finished) logger.warn('coordinator.stop_step_timeout', { step: name, timeoutMs: ms });
  return finished;
}

/** QUIT, but never wait for a Redis that is away: disconnect after a second. */
async function closeRedis(conn: Redis): Promise<void> {
  await settlesWithin(conn.quit(), 1_000);
  conn.disconnect();
}
