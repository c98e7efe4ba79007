/**
 * Wires one coordinator: Redis connections (after the start-up checks), the job signing key, Redis
 * time, registry, check-state store, the schedule, results ingest per region, sweeper, outbox pump and
 * the HTTP server. Every piece of state is in Redis,
 * so any number of coordinators can run against the same Redis and prefix.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { Registry as MetricsRegistry } from 'prom-client';
import { openIncidentsKey } from '../checks/keys.ts';
import { JobVerifier, SigningKeyError, type JobSigner } from '../checks/signing.ts';
import { settlesWithin } from '../lib/bounded.ts';
import { redisClock } from '../lib/clock.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { assertNoEviction, connectRedis, connectToNode, describeTarget, waitForRedis, type RedisTarget } from '../lib/redis.ts';
import { redisTargetOf } from '../lib/redis-options.ts';
import type { CoordinatorConfig } from './config.ts';
import { CheckStateStore } from './detection/store.ts';
import type { AlertEvent } from './events/events.ts';
import { OutboxPump, type Deliver } from './events/outbox.ts';
import { createAuthorizer } from './http/auth.ts';
import { answerClientError, createApiHandler } from './http/server.ts';
import { UnansweredRunStore } from './detection/unanswered-store.ts';
import { UnansweredWatcher } from './detection/unanswered-watch.ts';
import { TokenStore } from './http/tokens.ts';
import { CanarySender } from './liveness/canary-sender.ts';
import { createMetrics, type CoordinatorMetrics } from './platform/metrics.ts';
import { MonitoringWatch } from './platform/degraded-store.ts';
import { TransactionRunner } from './platform/transaction.ts';
import { RegionStore } from './regions/store.ts';
import { CheckRegistry } from './registry/store.ts';
import { startIngestWorkers, type IngestWorkers } from './results/ingest.ts';
import { CheckScheduler, type ReconcileSummary } from './scheduling/scheduler.ts';
import { loadJobSigner } from './scheduling/signing-key.ts';
import { Sweeper } from './sweeper.ts';

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
  /**
   * How long an API request's Redis command may wait for its reply before the request answers 503
   * `REDIS_UNAVAILABLE` (a paused or overloaded Redis keeps its connections open). @defaultValue 750
   */
  apiCommandTimeoutMs?: number;
  /**
   * More dependencies for `/readyz` and `lookout_dependency_up` (alert delivery's worker, say), read at
   * each readiness check. @defaultValue none
   */
  dependencies?: () => Record<string, DependencyState>;
}

/** One dependency as `/readyz` reports it. */
export interface DependencyState {
  up: boolean;
  /** What is wrong, or where it is (`primary 10.0.0.5:6379`). */
  detail: string;
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
  /**
   * Rebuilds the schedule from the registry if it changed (`force`: even if not), and consumes the
   * results of every watched region. Done at start-up, after deployments, after each sweep and periodically.
   */
  reconcile(force?: boolean): Promise<ReconcileSummary>;
  /** Stops everything (bounded), closes the server and the connections. */
  stop(): Promise<void>;
}

export async function startCoordinator(config: CoordinatorConfig, options: StartOptions = {}): Promise<RunningCoordinator> {
  const logger = options.logger ?? createLogger();
  const target = redisTargetOf(config);
  const redis = connectRedis(target, { name: 'lookout-coordinator', logger });
  let signer: JobSigner;
  try {
    await waitForRedis(redis, target, options.redisTimeoutMs ?? 10_000);
    await assertNoEviction(redis, { via: 'config', unreadable: config.skipRedisPolicyCheck ? 'warn' : 'refuse', logger });
    signer = await loadJobSigner(redis, config.prefix, { pem: readSigningKeyFile(config.jobSigningKeyFile) });
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const prefix = config.prefix;
  const clock = redisClock(redis);
  await clock.sync();
  // Since when this coordinator has seen Redis without a break (Redis time). After Redis or this
  // coordinator's link to it was away, heartbeats, canary answers and results could not be written, and
  // the sweeper judges silence only from here (no probe.offline for agents that kept running).
  let seenSince = clock.now();
  let wasAway = false;
  redis.on('close', () => { wasAway = true; });
  redis.on('ready', () => {
    if (!wasAway) return;
    wasAway = false;
    seenSince = clock.now();
    void clock.sync();
    logger.info('redis.back', { judgedFrom: seenSince });
  });
  const verifier = new JobVerifier(signer.publicKey);
  const workerRedis = connectRedis(target, { name: 'lookout-coordinator-ingest', logger, blocking: true });
  // The API reads through its own connection with a command timeout, so that a Redis that stopped
  // answering turns requests into 503s within a second instead of hanging them; writes go through the
  // transaction runner, whose commands must not be cut short (a timed-out EXEC may still apply).
  const apiRedis = connectRedis(target, { name: 'lookout-coordinator-api', logger, commandTimeoutMs: options.apiCommandTimeoutMs ?? 750 });
  const metrics = createMetrics(() => redis.hlen(openIncidentsKey(prefix)), options.metricsRegistry);
  const tx = new TransactionRunner(redis, { size: config.ingestConcurrency + 4, onConflict: () => metrics.transactionConflicts.inc() });
  const registry = new CheckRegistry({ redis, tx, prefix, logger });
  const store = new CheckStateStore({ redis, tx, prefix, registry, now: clock.now });
  const unanswered = new UnansweredRunStore({ redis, prefix });
  // Regions the last sweep looked at, and those of them with a live, consuming agent. A region the
  // sweeper has not looked at yet (new in a deployment) takes runs: nothing says it cannot.
  let watchedRegions: ReadonlySet<string> = new Set();
  let runningRegions: ReadonlySet<string> = new Set();
  const scheduler = new CheckScheduler({
    redis, prefix, registry, logger, metrics, signer, clock,
    regionAccepts: (region) => !watchedRegions.has(region) || runningRegions.has(region),
    // Every run issued is watched until answered: a silent one starts its confirmations early.
    onIssued: (runs) => unanswered.issued(runs),
  });
  const watcher = new UnansweredWatcher({
    runs: unanswered, states: store, logger, metrics, now: clock.now,
    confirm: (check, runs) => scheduler.addConfirmationRuns(check, runs),
  });
  const deliver: Deliver = options.deliver ?? (async (event: AlertEvent) => logger.info('alert.event', { event }));
  const pump = new OutboxPump({ redis, prefix, deliver, logger, onMoved: (n) => metrics.outboxMoved.inc(n) });

  let stopping = false;
  let ingest: IngestWorkers | null = null;
  let reconcileTimer: NodeJS.Timeout | null = null;
  /** Reconciles the schedule, then consumes the results queue of every watched region. */
  const reconcile = async (force = false): Promise<ReconcileSummary> => {
    const summary = await scheduler.reconcile({ force });
    await ingest?.setRegions(summary.regions);
    return summary;
  };
  const reconcileQuietly = (reason: string, force = false): void => {
    if (stopping) return;
    reconcile(force).catch((error) => logger.warn('scheduler.reconcile_failed', { reason, error }));
  };

  // Region users are re-applied from their records: Redis keeps ACL users neither across a restart
  // without an ACL file nor on a replica promoted by a failover.
  const regionStore = new RegionStore({ redis, prefix });
  let aclRefused = false;
  // Replicas too: Sentinel may promote one, whose users then must already be there.
  const toReplica = (host: string, port: number): Redis => connectToNode(target, { host, port }, 'lookout-coordinator-replica');
  const applyRegionUsers = (): void => {
    if (stopping) return;
    regionStore.applyUsers().then(({ deleted }) => {
      aclRefused = false;
      if (deleted.length > 0) logger.info('regions.users_deleted', { users: deleted });
      return regionStore.applyUsersToReplicas(toReplica);
    }).then(() => {}, (error: unknown) => {
      // Said once per streak: a coordinator whose Redis user may not manage users still works.
      if (!aclRefused) logger.warn('regions.users_not_applied', { error });
      aclRefused = true;
    });
  };
  redis.on('ready', applyRegionUsers);

  let liveRegions: readonly string[] = [];
  const monitoring = new MonitoringWatch({ redis, tx, prefix, metrics, logger });
  const sweeper = new Sweeper({
    redis, tx, prefix, registry, store, metrics, logger, agentRetentionMs: options.agentRetentionMs, now: clock.now,
    judgedFrom: () => seenSince, monitoring,
    onSwept: (report) => {
      liveRegions = report.liveRegions;
      watchedRegions = new Set(report.watchedRegions);
      runningRegions = new Set(report.liveRegions.filter((region) => !report.stalledRegions.includes(region)));
      pump.kick();
      // Another coordinator may have changed the registry: cheap when its revision did not move.
      reconcileQuietly('revision');
    },
  });

  const canaries = config.canaryIntervalMs > 0
    ? new CanarySender({
      redis, prefix, intervalMs: config.canaryIntervalMs, logger, signer, now: clock.now,
      queueFor: (region) => scheduler.queue(region),
      regions: async () => liveRegions,
    })
    : null;

  const authorize = createAuthorizer({ tokens: new TokenStore({ redis: apiRedis, prefix }), policy: { enabled: config.auth, publicRead: config.publicRead } });
  const apiRegistry = new CheckRegistry({ redis: apiRedis, tx, prefix, logger });
  const apiStore = new CheckStateStore({ redis: apiRedis, tx, prefix, registry: apiRegistry });
  const server = createServer(createApiHandler({
    redis: apiRedis, prefix, registry: apiRegistry, store: apiStore, metrics, logger, authorize,
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
      const dependencies: Record<string, DependencyState> = {
        redis: await redisState(redis, target),
        ingest: ingest !== null && ingest.isRunning()
          ? { up: true, detail: `consuming results of ${ingest.regions().length} region(s)` }
          : { up: false, detail: 'result ingest workers are not running' },
        ...options.dependencies?.(),
      };
      for (const [name, state] of Object.entries(dependencies)) metrics.dependencyUp.set({ dependency: name }, state.up ? 1 : 0);
      const down = Object.keys(dependencies).filter((name) => !dependencies[name]!.up);
      return {
        ready: down.length === 0 && !stopping,
        checks: { redis: dependencies.redis!.up, ingestWorker: dependencies.ingest!.up, stopping },
        dependencies, down,
      };
    },
  }));

  server.on('clientError', answerClientError);

  /**
   * Every step is bounded: with Redis away, closing queues and workers can wait forever, and a stop
   * must still end (the connections are disconnected last, which fails whatever still waits on them).
   */
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (reconcileTimer) clearInterval(reconcileTimer);
    redis.off('ready', applyRegionUsers);
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
    if (ingest) {
      const w = ingest;
      const graceful = redis.status === 'ready';
      const done = graceful ? await step('ingest', () => w.close()) : await step('ingest-force', () => w.close(true), 1_000);
      if (!done) await step('ingest-disconnect', () => w.disconnect(), 1_000);
    }
    server.closeAllConnections();
    await step('http', () => closed, 1_000);
    await step('outbox', () => pump.stop(), 1_000);
    await step('scheduler', () => scheduler.close(), 1_000);
    await step('monitoring', () => monitoring.close(), 1_000);
    await step('transactions', () => tx.close(), 1_000);
    clock.stop();
    await Promise.all([closeRedis(redis), closeRedis(workerRedis), closeRedis(apiRedis)]);
    logger.info('coordinator.stopped');
  };

  try {
    ingest = startIngestWorkers({
      redis, prefix, registry, store, metrics, logger, verifier, clock, unanswered, onEvents: () => pump.kick(),
      confirm: (check, runs) => scheduler.addConfirmationRuns(check, runs),
    }, { connection: workerRedis, concurrency: config.ingestConcurrency });
    await reconcile(true);
    scheduler.start();
    sweeper.start(config.sweepIntervalMs);
    watcher.start();
    canaries?.start();
    reconcileTimer = setInterval(() => { reconcileQuietly('periodic', true); applyRegionUsers(); }, config.reconcileIntervalMs);
    applyRegionUsers();
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

/**
 * Whether this coordinator's Redis is usable: it answers within a second and is a primary (a demoted one
 * answers `role:slave` and refuses writes until the connection follows the failover).
 */
async function redisState(redis: Redis, target: RedisTarget): Promise<DependencyState> {
  const info = await Promise.race([
    redis.info('replication').catch((error: unknown) => error as Error),
    new Promise<null>((resolve) => setTimeout(() => resolve(null), 1_000).unref()),
  ]);
  const where = target.sentinel ? `via sentinels, primary "${target.sentinel.masterName}"` : describeTarget(target);
  if (info === null) return { up: false, detail: `no answer within 1 s (${where}, connection ${redis.status})` };
  if (info instanceof Error) return { up: false, detail: `${info.message} (${where}, connection ${redis.status})` };
  const role = /^role:(\w+)/m.exec(info)?.[1] ?? 'unknown';
  const stream = (redis as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
  const at = stream?.remoteAddress ? ` at ${stream.remoteAddress}:${stream.remotePort}` : '';
  return role === 'master' ? { up: true, detail: `primary${at} (${where})` } : { up: false, detail: `connected to a ${role}${at}, not the primary (${where})` };
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

/** The PEM of `--job-signing-key`, or undefined when none is given; throws `INVALID_SIGNING_KEY` naming the file. */
function readSigningKeyFile(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new SigningKeyError('INVALID_SIGNING_KEY', `--job-signing-key: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
