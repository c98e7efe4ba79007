/**
 * Shared pieces of the agent tests: a real HTTP target on loopback, a small real runner that fetches
 * it (so worker tests do not depend on the HTTP runner's own tests), job payloads, and a poll helper.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { Queue } from 'bullmq';
import { HttpCheckDefinition, RunResult, type CheckJob, type RunTrigger } from '../../checks/contract.ts';
import { TEST_JOB_PUBLIC_KEY, signedJob } from '../support/signing.ts';
import type { AgentConfig } from '../../agent/config.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { runnerTable } from '../../agent/runners/index.ts';
import type { RunReport, Runner, RunnerTable } from '../../agent/runners/types.ts';
import { uniquePrefix } from '../support/redis.ts';
import { waitUntil } from '../support/wait.ts';

export interface Target {
  url: string;
  hits: number;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1:0: `/hang` never answers, `/slow/<ms>` answers after `<ms>`, anything else at once. */
export async function startTarget(handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<Target> {
  const target = { url: '', hits: 0, close: async () => {} };
  const server = createServer((req, res) => {
    target.hits++;
    if (handler) return handler(req, res);
    if (req.url === '/hang') return; // never answers: the run must be cut by its deadline
    const slow = /^\/slow\/(\d+)$/.exec(req.url ?? '');
    const answer = (): void => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`hello from ${req.headers['x-lookout-region'] ?? 'nowhere'}`);
    };
    if (slow) setTimeout(answer, Number(slow[1]));
    else answer();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };
  target.url = `http://127.0.0.1:${address.port}/`;
  target.close = async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  };
  return target;
}

/** A minimal real HTTP runner: one `fetch`, status 2xx/3xx passes, deadline → TIMEOUT. */
export const fetchRunner: Runner<HttpCheckDefinition> = async (definition, context): Promise<RunReport> => {
  const startedAt = Date.now();
  try {
    const response = await fetch(definition.url, { signal: context.signal, headers: { 'x-lookout-region': context.region } });
    const body = await response.text();
    const endedAt = Date.now();
    const ok = response.status >= 200 && response.status < 400;
    return {
      startedAt, endedAt, outcome: ok ? 'pass' : 'fail', error: ok ? null : { code: 'ASSERTION_FAILED', message: `status ${response.status}` },
      timings: { dnsMs: null, connectMs: null, tlsMs: null, firstByteMs: null, downloadMs: null, totalMs: endedAt - startedAt },
      assertions: [], statusCode: response.status, responseBytes: Buffer.byteLength(body),
    };
  } catch (error) {
    if (!context.signal.aborted || (context.signal.reason as { code?: string }).code === 'RUN_CANCELLED') throw error;
    const endedAt = Date.now();
    return {
      startedAt, endedAt, outcome: 'fail', error: { code: 'TIMEOUT', message: `no answer within ${definition.timeoutMs}ms` },
      timings: null, assertions: [], statusCode: null, responseBytes: null,
    };
  }
};

/** The runner table the worker tests use: HTTP only, every other type refuses its runs. */
export function testRunners(http: Runner<HttpCheckDefinition> = fetchRunner): RunnerTable {
  return runnerTable({ http });
}

/** A valid, signed `CheckJob` payload for an HTTP check (as a coordinator issues it). */
export function httpJob(region: string, url: string, overrides: { id?: string; timeoutMs?: number; scheduledAt?: number; expiresAt?: number; trigger?: RunTrigger } = {}): CheckJob {
  const check = HttpCheckDefinition.parse({
    type: 'http', id: overrides.id ?? 'homepage', name: 'Homepage', regions: [region],
    frequencyMs: 60_000, timeoutMs: overrides.timeoutMs ?? 5_000, url,
  });
  return signedJob(check, region, {
    version: 3, trigger: overrides.trigger ?? 'manual',
    ...(overrides.scheduledAt !== undefined ? { scheduledAt: overrides.scheduledAt } : {}),
    ...(overrides.expiresAt !== undefined ? { expiresAt: overrides.expiresAt } : {}),
  });
}

/** A real JSON-lines logger whose lines are kept for assertions. */
export function memoryLog(): { lines: Array<Record<string, unknown>>; logger: Logger } {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, logger: createLogger((line) => lines.push(JSON.parse(line) as Record<string, unknown>)) };
}

/** Everything the agent needs, on loopback, with a per-test prefix. */
export function agentConfig(redisUrl: string, overrides: Partial<AgentConfig> = {}): AgentConfig {
  return {
    region: 'r1', redisUrl, prefix: uniquePrefix('agent'), concurrency: 4, agentId: `test-agent-${process.pid}`,
    healthPort: 0, healthHost: '127.0.0.1', shutdownTimeoutMs: 2_000,
    browserChecks: false, chromiumPath: '/usr/bin/chromium', browserConcurrency: 2, secretsFile: null, jobPublicKey: TEST_JOB_PUBLIC_KEY, denyCidrs: [], allowCidrs: [],
    pathTrace: true, diagnosticResolver: null, evidenceBudgetMs: 1_000, spoolDir: null, spoolMaxBytes: 64 * 1024 * 1024, spoolMaxAgeMs: 86_400_000, ...overrides,
  };
}

/** Results published on `prefix`'s results queue, validated against the contract. */
export async function publishedResults(queue: Queue): Promise<Array<{ id: string; result: RunResult }>> {
  const jobs = await queue.getJobs(['waiting']);
  return jobs.map((job) => ({ id: job.id!, result: RunResult.parse(job.data) })).sort((a, b) => a.result.startedAt - b.result.startedAt);
}

/** Waits until `queue` holds a result for `checkId`, and returns it. */
export function resultFor(queue: Queue, checkId: string, timeoutMs = 5_000): Promise<{ id: string; result: RunResult }> {
  return waitUntil(`a result for ${checkId}`, async () => (await publishedResults(queue)).find((r) => r.result.checkId === checkId), timeoutMs);
}

/**
 * A redis-server on a fixed loopback port that can be stopped and started again on the same port,
 * to play a Redis outage. (test/support/redis.ts picks a new port each time.)
 */
export interface RestartableRedis {
  url: string;
  start(): Promise<void>;
  /** Stops it by pid and waits for the exit. */
  kill(): Promise<void>;
}

/**
 * `persistence.dir` keeps the data in an AOF there (fsync always), so a restart comes back with it, as a
 * Redis restarted from its AOF does; without it, every start is empty.
 */
export function restartableRedis(port: number, persistence: { dir?: string } = {}): RestartableRedis {
  let child: ChildProcess | undefined;
  const storage = persistence.dir ? ['--dir', persistence.dir, '--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  return {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const spawned = spawn('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--save', '', ...storage, '--maxmemory-policy', 'noeviction',
      ], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = spawned;
      await new Promise<void>((resolve, reject) => {
        let output = '';
        spawned.stdout!.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('Ready to accept connections')) resolve();
        });
        spawned.once('exit', () => reject(new Error(`redis-server on port ${port} exited: ${output.slice(-500)}`)));
      });
      spawned.stdout!.resume();
    },
    async kill() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = once(running, 'exit');
      running.kill('SIGKILL');
      await exited;
    },
  };
}
