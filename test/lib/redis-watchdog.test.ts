/**
 * The connection watchdog (lib/redis-watchdog.ts) against a real redis-server: a server that stops
 * answering while its TCP connection stays open (the process paused with SIGSTOP, as a partition or a
 * frozen primary looks to a client) gets its connection dropped and made again, so commands go through
 * once it answers again; a connection waiting in a blocking command is left alone; a connection that
 * ended without its owner closing it is connected again, and one its owner closed stays closed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createLogger, type LogFields } from '../../lib/log.ts';
import { connectionSettings, targetOptions } from '../../lib/redis.ts';
import { watchedConnection } from '../../lib/redis-watchdog.ts';
import { freePort } from '../support/redis.ts';
import { waitUntil } from '../support/wait.ts';

let server: ChildProcess;
let port: number;
const timing = { intervalMs: 100, unresponsiveAfterMs: 600 };

beforeAll(async () => {
  port = await freePort();
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve) => {
    let out = '';
    server.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString(); if (out.includes('Ready to accept')) resolve(); });
  });
  server.stdout!.resume();
});
afterAll(async () => {
  if (server.exitCode === null) {
    server.kill('SIGCONT');
    const exited = once(server, 'exit');
    server.kill('SIGKILL');
    await exited;
  }
});

function watched(name: string, blocking = false): { redis: Redis; lines: LogFields[] } {
  const lines: LogFields[] = [];
  const logger = createLogger((line) => lines.push(JSON.parse(line) as LogFields));
  const redis = watchedConnection({ ...targetOptions(`redis://127.0.0.1:${port}`), ...connectionSettings({ name, blocking }) }, logger, name, timing);
  return { redis, lines };
}

describe('the Redis connection watchdog', () => {
  it('drops a connection whose server stopped answering, and works again once it answers', async () => {
    const { redis, lines } = watched('watchdog-paused', true);
    try {
      await redis.set('watchdog:before', '1');
      server.kill('SIGSTOP');
      try {
        await waitUntil('the connection judged unresponsive', () => lines.some((line) => line.msg === 'redis.unresponsive'), 10_000);
      } finally {
        server.kill('SIGCONT');
      }
      expect(await redis.set('watchdog:after', '1')).toBe('OK');
      expect(lines.find((line) => line.msg === 'redis.unresponsive')).toMatchObject({ level: 'warn', connection: 'watchdog-paused' });
    } finally {
      redis.disconnect();
    }
  });

  it('leaves a connection alone while it waits in a blocking command', async () => {
    const { redis, lines } = watched('watchdog-blocking', true);
    try {
      await redis.ping();
      // Blocks for 2 s, well past the 600 ms after which an unanswered PING would drop the connection.
      expect(await redis.bzpopmin('watchdog:nothing-here', 2)).toBeNull();
      expect(lines.filter((line) => line.msg === 'redis.unresponsive')).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it("duplicates are watched too (BullMQ makes its workers' connections that way)", async () => {
    const { redis, lines } = watched('watchdog-original', true);
    const copy = redis.duplicate({ connectionName: 'watchdog-copy' });
    try {
      await copy.ping();
      server.kill('SIGSTOP');
      try {
        await waitUntil('the duplicate judged unresponsive', () => lines.some((line) => line.msg === 'redis.unresponsive' && line.connection === 'watchdog-copy'), 10_000);
      } finally {
        server.kill('SIGCONT');
      }
      expect(await copy.ping()).toBe('PONG');
    } finally {
      copy.disconnect();
      redis.disconnect();
    }
  });

  it('connects again a connection that ended without its owner closing it; one closed by its owner stays closed', async () => {
    const { redis, lines } = watched('watchdog-ended', true);
    try {
      await redis.ping();
      // Ended by ioredis itself, as it ends a Sentinel connection caught in a failover: not through the
      // owner's disconnect() (the watched one), but ioredis' own.
      Redis.prototype.disconnect.call(redis);
      await waitUntil('the connection revived', () => lines.some((line) => line.msg === 'redis.connection_ended'));
      await waitUntil('the connection ready again', () => redis.status === 'ready');
      expect(await redis.ping()).toBe('PONG');
      await redis.quit();
      await waitUntil('the connection closed by its owner', () => redis.status === 'end');
      // A revival that must not happen gives no event to await; a wrong one logs on 'end' and reconnects after 200 ms, inside these 500 ms.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(redis.status).toBe('end');
      expect(lines.filter((line) => line.msg === 'redis.connection_ended')).toHaveLength(1);
    } finally {
      redis.disconnect();
    }
  });
});
