/**
 * The monitoring watching itself (degraded.ts decides): every few seconds a coordinator reads the Redis
 * primary it is on (`run_id`, address), the results queues' and the alerts queue's backlogs, commits what
 * changed in one optimistic transaction with the events in the outbox (so two coordinators emit each
 * once), and keeps `/metrics` current (`lookout_monitoring_degraded{reason}`, backlogs, lag).
 *
 * Lag is measured by this coordinator's own clock, as how long the same job has stayed at the head of a
 * queue: an agent's clock (which stamps the jobs it adds) never counts, and a spool flushed after an
 * outage (old results, consumed at once) is no lag.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { ALERTS_QUEUE, monitoringStateKey, outboxKey, resultsQueueName } from '../../checks/keys.ts';
import { throttledErrorLog, type Logger } from '../../lib/log.ts';
import type { MonitoringAlertEvent } from '../events/events.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { TransactionRunner } from './transaction.ts';
import {
  DEFAULT_DEGRADED_LIMITS, MONITORING_REASONS, decideMonitoring, parseStoredMonitoring, type DegradedLimits, type MonitoringReading,
} from './degraded.ts';

export interface MonitoringWatchOptions {
  redis: Redis;
  tx: TransactionRunner;
  prefix: string;
  metrics: CoordinatorMetrics;
  logger: Logger;
  /** @defaultValue {@link DEFAULT_DEGRADED_LIMITS} */
  limits?: DegradedLimits;
  /** This coordinator's clock for lags (see the module comment). @defaultValue Date.now */
  localNow?: () => number;
}

/** The address of the server a connection is on (with Sentinel, whichever primary it found). */
function addressOf(redis: Redis): string {
  const stream = (redis as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
  if (stream?.remoteAddress) return `${stream.remoteAddress.includes(':') ? `[${stream.remoteAddress}]` : stream.remoteAddress}:${stream.remotePort}`;
  return `${redis.options.host ?? '?'}:${redis.options.port ?? '?'}`;
}

export class MonitoringWatch {
  readonly #o: MonitoringWatchOptions;
  readonly #queues = new Map<string, Queue>();
  /** Per queue: the job at its head and since when this coordinator has seen it there. */
  readonly #heads = new Map<string, { jobId: string; since: number }>();
  /** Every watched queue shares the coordinator's connection: its errors, once per 30 s, not once per queue. */
  readonly #logQueueError: (error: unknown, fields?: Record<string, unknown>) => void;

  constructor(options: MonitoringWatchOptions) {
    this.#o = options;
    this.#logQueueError = throttledErrorLog(options.logger, 'monitoring.queue_error');
  }

  #queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.#o.redis, prefix: this.#o.prefix });
      queue.on('error', (error) => this.#logQueueError(error, { queue: name }));
      this.#queues.set(name, queue);
    }
    return queue;
  }

  /** Waiting jobs, and how long the head job has been waiting as this coordinator saw it. */
  async #backlog(name: string): Promise<{ waiting: number; lagMs: number }> {
    const queue = this.#queue(name);
    const [waiting, head] = await Promise.all([queue.getWaitingCount(), queue.getJobs(['wait'], 0, 0, true)]);
    const now = (this.#o.localNow ?? Date.now)();
    const jobId = head[0]?.id;
    if (!jobId || waiting === 0) { this.#heads.delete(name); return { waiting, lagMs: 0 }; }
    const seen = this.#heads.get(name);
    if (!seen || seen.jobId !== jobId) { this.#heads.set(name, { jobId, since: now }); return { waiting, lagMs: 0 }; }
    return { waiting, lagMs: now - seen.since };
  }

  /** Reads the primary and the backlogs of `regions`' results queues and of the alerts queue. */
  async read(regions: readonly string[]): Promise<MonitoringReading> {
    const runId = /^run_id:(\w+)/m.exec(await this.#o.redis.info('server'))?.[1];
    const results = await Promise.all(regions.map((region) => this.#backlog(resultsQueueName(region))));
    const alerts = await this.#backlog(ALERTS_QUEUE);
    return {
      primary: runId ? { runId, address: addressOf(this.#o.redis) } : null,
      resultsWaiting: results.reduce((sum, r) => sum + r.waiting, 0),
      resultsLagMs: Math.max(0, ...results.map((r) => r.lagMs)),
      deliveriesWaiting: alerts.waiting,
      deliveryLagMs: alerts.lagMs,
    };
  }

  /** One look: read, decide, commit what changed (events into the outbox); returns the events committed. */
  async sweep(regions: readonly string[], now: number): Promise<MonitoringAlertEvent[]> {
    const reading = await this.read(regions);
    const limits = this.#o.limits ?? DEFAULT_DEGRADED_LIMITS;
    const key = monitoringStateKey(this.#o.prefix);
    const events = await this.#o.tx.run([key], async (conn) => {
      const decision = decideMonitoring(parseStoredMonitoring(await conn.get(key)), reading, now, limits);
      this.#gauge(decision.next.raised);
      if (!decision.changed) return { result: [] };
      return {
        result: decision.events,
        write: (multi) => {
          multi.set(key, JSON.stringify(decision.next));
          for (const event of decision.events) multi.lpush(outboxKey(this.#o.prefix), JSON.stringify(event));
        },
      };
    });
    const { metrics } = this.#o;
    metrics.resultsWaiting.set(reading.resultsWaiting);
    metrics.resultsLag.set(reading.resultsLagMs / 1_000);
    metrics.deliveriesWaiting.set(reading.deliveriesWaiting);
    for (const event of events) {
      metrics.monitoringEvents.inc({ type: event.type, reason: event.reason });
      this.#o.logger.warn('monitoring.event', { eventId: event.id, type: event.type, reason: event.reason, detail: event.detail });
    }
    return events;
  }

  #gauge(raised: Partial<Record<string, unknown>>): void {
    for (const reason of MONITORING_REASONS) this.#o.metrics.monitoringDegraded.set({ reason }, raised[reason] ? 1 : 0);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
    this.#queues.clear();
  }
}
