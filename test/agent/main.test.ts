/** `agent/main.ts` as a real child process: JSON log lines, SIGTERM → exit 0, bad flags → exit 2. */
import { TEST_JOB_PUBLIC_KEY } from '../support/signing.ts';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { heartbeatKey } from '../../checks/keys.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';

const NODE = './node_modules/.bin/node';
let redis: TestRedis;

beforeAll(async () => { redis = await startRedis(); });
afterAll(async () => { await redis?.stop(); });

function spawnAgent(args: string[], env: Record<string, string> = {}) {
  const child = spawn(NODE, ['agent/main.ts', ...args], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const waiters: Array<{ msg: string; resolve: (line: Record<string, unknown>) => void }> = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = JSON.parse(text) as Record<string, unknown>; // every stdout line must be JSON
    lines.push(line);
    for (const waiter of waiters.filter((w) => w.msg === line.msg)) waiter.resolve(line);
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const lineWith = (msg: string, timeoutMs = 10_000) => new Promise<Record<string, unknown>>((resolve, reject) => {
    const seen = lines.find((line) => line.msg === msg);
    if (seen) return resolve(seen);
    const timer = setTimeout(() => reject(new Error(`no "${msg}" line within ${timeoutMs}ms; stderr: ${stderr}`)), timeoutMs);
    waiters.push({ msg, resolve: (line) => { clearTimeout(timer); resolve(line); } });
    void exited.then(([code]) => { clearTimeout(timer); reject(new Error(`agent exited (${code}) before "${msg}"; stderr: ${stderr}`)); });
  });
  return { child, lines, lineWith, exited, stderr: () => stderr };
}

describe('agent/main.ts', () => {
  it('starts, logs JSON lines, and exits 0 on SIGTERM after removing its heartbeat', async () => {
    const prefix = uniquePrefix('main');
    const agent = spawnAgent(['--region', 'r1', '--prefix', prefix, '--agent-id', 'main-test'], { LOOKOUT_REDIS_URL: redis.url, LOOKOUT_JOB_PUBLIC_KEY: TEST_JOB_PUBLIC_KEY });
    try {
      const started = await agent.lineWith('agent.started');
      expect(started).toMatchObject({ level: 'info', agentId: 'main-test', region: 'r1', queue: 'checks.r1', prefix });
      expect(typeof started.ts).toBe('string');
      const ready = await agent.lineWith('agent.ready');
      const health = await fetch(`${ready.healthUrl as string}/readyz`);
      expect(health.status).toBe(200);
      await health.body?.cancel();
      const client = new Redis(redis.url);
      try {
        expect(await client.exists(heartbeatKey(prefix, 'r1', 'main-test'))).toBe(1);
        agent.child.kill('SIGTERM');
        const [code, signal] = await agent.exited;
        expect({ code, signal }).toEqual({ code: 0, signal: null });
        expect(await client.exists(heartbeatKey(prefix, 'r1', 'main-test'))).toBe(0);
      } finally {
        client.disconnect();
      }
      expect(agent.lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['agent.signal', 'agent.stopping', 'agent.stopped']));
    } finally {
      if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill('SIGKILL');
    }
  });

  it('exits 2 and prints every configuration problem for bad flags', async () => {
    const agent = spawnAgent(['--concurrency', 'abc', '--bogus'], { LOOKOUT_HEALTH_PORT: 'x' });
    const [code] = await agent.exited;
    expect(code).toBe(2);
    expect(agent.stderr()).toContain('--region: required (or set LOOKOUT_REGION)');
    expect(agent.stderr()).toContain('--concurrency: expected an integer from 1 to 1000, got "abc"');
    expect(agent.stderr()).toContain('--bogus: unknown option (see --help)');
    expect(agent.stderr()).toContain('--health-port: expected an integer from 0 to 65535, got "x" (from LOOKOUT_HEALTH_PORT)');
    expect(agent.lines).toEqual([]);
  });
});
