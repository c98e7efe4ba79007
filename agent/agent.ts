/**
 * Wires one agent together: a Redis connection (heartbeats, results, readiness), the check worker,
 * the result publisher with its spool, the heartbeat, and the health server.
 *
 * Start-up does not wait for Redis: the health server answers at once (`/readyz` says why the agent
 * is not ready yet), and the agent starts consuming once Redis is reachable and configured with
 * `maxmemory-policy noeviction`; with any other policy BullMQ may lose jobs silently, so the agent
 * refuses to run (`ready` rejects with code `REDIS_EVICTION_POLICY`).
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { assertNoEviction, connectRedis, describeTarget, type RedisSetupError } from '../lib/redis.ts';
import { redisTargetOf } from '../lib/redis-options.ts';
import { redisClock, type RedisClock } from '../lib/clock.ts';
import { JobVerifier } from '../checks/signing.ts';
import { createCanaryResponder } from './jobs/canary.ts';
import type { AgentConfig } from './config.ts';
import { settlesWithin, withTimeout } from '../lib/bounded.ts';
import { CodedError } from '../lib/errors.ts';
import { startHealthServer, type DependencyState, type Readiness } from './liveness/health.ts';
import { startHeartbeat, type HeartbeatHandle } from './liveness/heartbeat.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { createAgentMetrics, type AgentMetrics } from './liveness/metrics.ts';
import { ResultPublisher } from './results/publisher.ts';
import { openDiskSpool } from './results/disk-spool.ts';
import type { DropReason } from './results/spool.ts';
import type { RunnerTable } from './runners/types.ts';
import { setUpRunners, type StartedRunners } from './runners/index.ts';
import { LOOKOUT_VERSION } from '../lib/version.ts';
import { createCheckWorker } from './jobs/worker.ts';
import { checkQueueName } from '../checks/keys.ts';

export interface StartAgentOptions {
  /**
   * Runner per check type, used as they are (no secrets applied). @defaultValue from the configuration
   * (`setUpRunners`: the types it serves, browser checks only with `browserChecks` on, with its secrets)
   */
  runners?: RunnerTable;
  /** @defaultValue JSON lines on stdout */
  logger?: Logger;
  /** Results kept in memory while Redis is away, when `config.spoolDir` is null (off). @defaultValue 10000 */
  spoolCapacity?: number;
  /**
   * How long a runner may ignore its aborted signal before it is abandoned. @defaultValue 1000 plus the
   * evidence budget (a failed run may wait that long after its deadline for its path trace)
   */
  graceMs?: number;
  /**
   * Check types this agent really serves, announced in heartbeats (a table entry may be a stub that
   * refuses, such as disabled browser checks). @defaultValue the types started by `setUpRunners`, or
   * every key of `runners` when given
   */
  capabilities?: string[];
  /**
   * Things the runners hold (a browser, say), closed in order on stop once the worker has stopped
   * taking runs. Each close is bounded by 10 s; a failure is logged and the next one still runs.
   */
  resources?: Array<{ name: string; close(): Promise<void> }>;
}

export interface RunningAgent {
  agentId: string;
  /** Base URL of `/healthz`, `/readyz`, `/metrics`. */
  healthUrl: string;
  /**
   * Resolves once the agent is connected and consuming; rejects with an error carrying a stable
   * `code` when it refuses to run (`REDIS_EVICTION_POLICY`, a {@link RedisSetupError}), or
   * `AGENT_STOPPED` if stopped first.
   */
  ready: Promise<void>;
  metrics: AgentMetrics;
  /** The agent's Redis time (lib/clock.ts): what its results' times are in. */
  clock: RedisClock;
  /** Runs executing now. */
  inFlight(): number;
  /** Stops taking jobs, lets in-flight runs finish within `shutdownTimeoutMs`, cancels the rest, closes everything. Bounded. */
  stop(): Promise<void>;
}

/** The agent was stopped before it was ready (`ready` then rejects with it). */
export class AgentStartError extends CodedError<'AGENT_STOPPED'> {}

export async function startAgent(config: AgentConfig, options: StartAgentOptions = {}): Promise<RunningAgent> {
  const logger = (options.logger ?? createLogger()).child({ agentId: config.agentId, region: config.region });
  const startedAt = Date.now();
  const metrics = createAgentMetrics();

  const target = redisTargetOf(config);
  const verifier = new JobVerifier(config.jobPublicKey);
  // Opened (and locked) before anything connects: a folder another agent holds is a configuration error.
  const countDrops = (count: number, reason: DropReason): void => {
    metrics.resultsSpooledDropped.inc({ reason }, count);
    logger.warn('spool.dropped', { count, reason });
  };
  const spool = config.spoolDir === null ? undefined
    : openDiskSpool({ dir: config.spoolDir, maxBytes: config.spoolMaxBytes, maxAgeMs: config.spoolMaxAgeMs, onDrop: countDrops });
  if (spool && spool.size > 0) logger.info('spool.found', { dir: spool.dir, results: spool.size, bytes: spool.bytes, note: 'sent once Redis answers' });
  const redis = connectRedis(target, { name: `lookout-agent:${config.agentId}`, logger, blocking: true });
  const workerRedis = connectRedis(target, { name: `lookout-agent-worker:${config.agentId}`, logger, blocking: true });
  const clock = redisClock(redis);
  // Log transitions only: ioredis emits `close` for every failed reconnect attempt.
  let connected = false;
  let everConnected = false;
  redis.on('ready', () => {
    if (everConnected) logger.info('redis.reconnected');
    connected = true;
    everConnected = true;
  });
  redis.on('close', () => {
    if (connected) logger.warn('redis.disconnected');
    connected = false;
  });

  // Runners given by the caller win; otherwise the configuration decides (browser checks on or off).
  let setup: Pick<StartedRunners, 'runners' | 'resources'> & { served: string[] };
  try {
    setup = options.runners
      ? { runners: options.runners, served: Object.keys(options.runners), resources: [] }
      : await setUpRunners(config, redis, logger);
  } catch (error) {
    // e.g. an unreadable secrets file (SECRETS_INVALID): nothing else started yet
    redis.disconnect();
    workerRedis.disconnect();
    clock.stop();
    await spool?.close();
    throw error;
  }
  const runners = setup.runners;
  const capabilities = options.capabilities ?? setup.served;
  const resources = [...setup.resources, ...(options.resources ?? [])];

  const publisher = new ResultPublisher({
    redis, prefix: config.prefix, region: config.region, logger, metrics, ...(spool ? { spool } : { spoolCapacity: options.spoolCapacity }),
  });
  const canary = createCanaryResponder({ redis, prefix: config.prefix, region: config.region, agentId: config.agentId, verifier, now: clock.now });
  const checkWorker = createCheckWorker({
    config, runners, publisher, metrics, logger, graceMs: options.graceMs ?? 1_000 + config.evidenceBudgetMs, canary, connection: workerRedis, verifier, clock,
  });

  let booted = false;
  let stopping = false;
  let bootError: Error | undefined;
  let heartbeat: HeartbeatHandle | undefined;
  const stopped = new AbortController();

  const dependencies = (): Record<string, DependencyState> => {
    const states: Record<string, DependencyState> = {
      redis: redis.status === 'ready'
        ? { up: true, detail: `connected (${describeTarget(target)})` }
        : { up: false, detail: `not connected: connection ${redis.status} (${describeTarget(target)})` },
      worker: checkWorker.isRunning()
        ? { up: true, detail: `consuming ${checkQueueName(config.region)}` }
        : { up: false, detail: booted ? 'the check worker is not running' : 'not started yet' },
      // Not a dependency but what its absence costs: results waiting for Redis.
      spool: { up: true, detail: `${publisher.spooled} result(s) waiting${spool ? ` in ${spool.dir}` : ' in memory'}` },
    };
    for (const [name, state] of Object.entries(states)) metrics.dependencyUp.set({ dependency: name }, state.up ? 1 : 0);
    return states;
  };
  const readiness = (): Readiness => {
    const states = dependencies();
    const with_ = { dependencies: states };
    if (stopping) return { ok: false, reason: 'shutting down', ...with_ };
    if (bootError) return { ok: false, reason: bootError.message, ...with_ };
    if (redis.status !== 'ready') return { ok: false, reason: `redis not connected (connection ${redis.status})`, ...with_ };
    if (!booted) return { ok: false, reason: 'starting', ...with_ };
    if (!checkWorker.isRunning()) return { ok: false, reason: 'worker not running', ...with_ };
    return { ok: true, ...with_ };
  };

  let health;
  try {
    health = await startHealthServer({ host: config.healthHost, port: config.healthPort, registry: metrics.registry, readiness });
  } catch (error) {
    redis.disconnect();
    await checkWorker.close(0);
    workerRedis.disconnect();
    clock.stop();
    await publisher.close(0);
    throw error;
  }
  logger.info('agent.started', {
    version: LOOKOUT_VERSION, queue: checkQueueName(config.region), prefix: config.prefix, redis: describeTarget(target),
    concurrency: config.concurrency, healthUrl: health.url, checkTypes: capabilities,
  });

  const boot = async (): Promise<void> => {
    await untilRedisReady(redis, stopped.signal);
    await clock.sync();
    // An agent's Redis role may not run CONFIG: read the policy from INFO, and only warn when even that fails.
    await withTimeout(assertNoEviction(redis, { via: 'info', unreadable: 'warn', logger }), 5_000, 'reading the Redis eviction policy');
    if (stopped.signal.aborted) throw stoppedError();
    checkWorker.start();
    await Promise.race([checkWorker.worker.waitUntilReady(), abortion(stopped.signal)]);
    heartbeat = startHeartbeat({
      redis, prefix: config.prefix, logger, inFlight: checkWorker.inFlight,
      identity: {
        agentId: config.agentId, region: config.region, version: LOOKOUT_VERSION, hostname: hostname(), pid: process.pid,
        concurrency: config.concurrency, capabilities, startedAt,
      },
    });
    await heartbeat.beat();
    booted = true;
    logger.info('agent.ready', { queue: checkQueueName(config.region), healthUrl: health.url });
  };
  const ready = boot().catch((error: unknown) => {
    if (error instanceof AgentStartError && error.code === 'AGENT_STOPPED') throw error;
    bootError = error instanceof Error ? error : new Error(String(error));
    logger.error('agent.refused_to_start', { error: bootError });
    throw bootError;
  });
  ready.catch(() => {}); // observed by callers that care; must not crash those that do not

  let stopping$: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    stopping = true;
    stopped.abort(stoppedError());
    logger.info('agent.stopping', { inFlight: checkWorker.inFlight(), drainTimeoutMs: config.shutdownTimeoutMs });
    // Leave the fleet first: coordinators stop counting on this agent at once.
    await heartbeat?.stop();
    await checkWorker.close(config.shutdownTimeoutMs);
    for (const resource of resources) {
      try {
        await withTimeout(resource.close(), 10_000, `closing ${resource.name}`);
      } catch (error) {
        logger.error('agent.resource_close_failed', { resource: resource.name, error });
      }
    }
    const unsent = await publisher.close(2_000);
    clock.stop();
    for (const conn of [redis, workerRedis]) {
      try {
        await withTimeout(conn.quit(), 1_000, 'redis quit');
      } catch {
        conn.disconnect();
      }
    }
    await settlesWithin(health.close(), 1_000);
    logger.info('agent.stopped', { unsentResults: unsent });
  };

  return {
    agentId: config.agentId,
    healthUrl: health.url,
    ready,
    metrics,
    clock,
    inFlight: checkWorker.inFlight,
    stop() {
      stopping$ ??= stop();
      return stopping$;
    },
  };
}

const stoppedError = (): AgentStartError => new AgentStartError('AGENT_STOPPED', 'agent stopped before it was ready');

function abortion(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

async function untilRedisReady(redis: Redis, signal: AbortSignal): Promise<void> {
  if (redis.status === 'ready') return;
  let onReady: () => void = () => {};
  try {
    await Promise.race([new Promise<void>((resolve) => { onReady = resolve; redis.once('ready', onReady); }), abortion(signal)]);
  } finally {
    redis.off('ready', onReady);
  }
}
