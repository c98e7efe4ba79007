/** Builders and helpers shared by the coordinator tests. */
import { Redis } from 'ioredis';
import { Queue, type Job, type JobsOptions } from 'bullmq';
import { HEARTBEAT_TTL_MS, SCHEMA_VERSION, type CheckDefinition, type Heartbeat, type RunResult } from '../../checks/contract.ts';
import { agentIndexKey, heartbeatKey, knownRegionsKey, resultsQueueName } from '../../checks/keys.ts';
import { TEST_SIGNING_KEY_FILE, slotProofFor } from '../support/signing.ts';
import { DEFAULT_COORDINATOR_CONFIG, type CoordinatorConfig } from '../../coordinator/config.ts';
import { createLogger, type Logger } from '../../lib/log.ts';

/** A valid HTTP check definition (the target is never contacted: no agent runs in these tests). */
export function httpCheck(id: string, overrides: Record<string, unknown> = {}): CheckDefinition {
  return {
    type: 'http', id, name: `Check ${id}`, url: 'http://127.0.0.1:9/health', regions: ['us-east', 'eu-west'],
    frequencyMs: 60_000, timeoutMs: 5_000, failureThreshold: 2, successThreshold: 2, tags: [],
    method: 'GET', headers: {}, assertions: [{ type: 'status', op: 'equals', value: 200 }],
    followRedirects: true, maxRedirects: 5, maxBodyBytes: 1_048_576, secrets: [],
    ...overrides,
  } as CheckDefinition;
}

/** A valid result answering a slot signed with the test key (test/support/signing.ts); `outcome` decides `error`. */
export function runResult(overrides: Partial<RunResult> & { checkId: string; region: string; scheduledAt: number }): RunResult {
  const outcome = overrides.outcome ?? 'pass';
  const result = {
    schemaVersion: SCHEMA_VERSION, checkVersion: 1, agentId: 'agent-1', trigger: 'schedule',
    startedAt: overrides.scheduledAt, endedAt: overrides.scheduledAt + 42, outcome,
    error: outcome === 'pass' ? null : outcome === 'fail' ? { code: 'CONNECT_REFUSED', message: 'connection refused' } : { code: 'AGENT_INTERNAL', message: 'boom' },
    timings: outcome === 'error' ? null : { dnsMs: 1, connectMs: 2, tlsMs: null, firstByteMs: 30, downloadMs: 9, totalMs: 42 },
    assertions: [], statusCode: outcome === 'pass' ? 200 : null, responseBytes: outcome === 'pass' ? 10 : null,
    ...overrides,
  } as RunResult;
  return 'slot' in overrides ? result : { ...result, slot: slotProofFor(result) };
}

/** Writes (or refreshes) an agent's heartbeat as an agent would. */
export async function heartbeat(redis: Redis, prefix: string, agentId: string, region: string, ttlMs = HEARTBEAT_TTL_MS): Promise<void> {
  const now = Date.now();
  const hb: Heartbeat = {
    schemaVersion: SCHEMA_VERSION, agentId, region, version: '0.1.0-test', hostname: 'test-host', pid: process.pid,
    concurrency: 4, inFlight: 1, capabilities: ['http'], startedAt: now - 1_000, sentAt: now,
  };
  await redis.multi().set(heartbeatKey(prefix, region, agentId), JSON.stringify(hb), 'PX', ttlMs).sadd(agentIndexKey(prefix, region), agentId)
    .sadd(knownRegionsKey(prefix), region).exec();
}

export function testConfig(redisUrl: string, prefix: string, overrides: Partial<CoordinatorConfig> = {}): CoordinatorConfig {
  // Auth off: these tests are about other things; auth has its own tests (auth.test.ts, deployments.test.ts).
  return {
    ...DEFAULT_COORDINATOR_CONFIG, redisUrl, prefix, port: 0, sweepIntervalMs: 100, ingestConcurrency: 4, auth: false,
    jobSigningKeyFile: TEST_SIGNING_KEY_FILE, ...overrides,
  };
}

/** A logger that keeps lines for assertions (and prints nothing). */
export function memoryLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { logger: createLogger((line) => lines.push(JSON.parse(line) as Record<string, unknown>)), lines };
}

/** Publishes results as agents do: each into its region's results queue. */
export interface ResultsProducer {
  add(name: string, result: RunResult | Record<string, unknown>, options?: JobsOptions): Promise<unknown>;
  /** Failed jobs of every region's queue this producer wrote to. */
  getFailed(): Promise<Job[]>;
  /** Counts over every region's queue this producer wrote to. */
  getJobCounts(...types: Array<'completed' | 'failed' | 'waiting' | 'active'>): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export function resultsProducer(redis: Redis, prefix: string): ResultsProducer {
  const queues = new Map<string, Queue>();
  const queue = (region: string): Queue => {
    let q = queues.get(region);
    if (!q) queues.set(region, q = new Queue(resultsQueueName(region), { connection: redis, prefix }));
    return q;
  };
  return {
    add: (name, result, options) => queue(typeof result.region === 'string' ? result.region : 'us-east').add(name, result, options),
    async getFailed() {
      return (await Promise.all([...queues.values()].map((q) => q.getFailed()))).flat();
    },
    async getJobCounts(...types) {
      const total: Record<string, number> = {};
      for (const q of queues.values()) {
        for (const [type, n] of Object.entries(await q.getJobCounts(...types))) total[type] = (total[type] ?? 0) + n;
      }
      return total;
    },
    close: async () => { await Promise.all([...queues.values()].map((q) => q.close())); },
  };
}

export async function json(response: Response): Promise<any> {
  return response.json();
}
