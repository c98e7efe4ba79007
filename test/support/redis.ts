/**
 * A real `redis-server` per test file, on a free loopback port, with its data in a temporary folder.
 * Stopped by pid when the test file ends. Every test should still use its own BullMQ prefix
 * ({@link uniquePrefix}) so that tests in one file never see each other's keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { freePort } from '../../cli/fleet-support.ts';

/** A free loopback port (the kernel's choice); the fleet command's own helper. */
export { freePort };

export interface TestRedis {
  url: string;
  port: number;
  /** The redis-server's pid (to pause it with SIGSTOP in outage tests). */
  pid: number;
  stop(): Promise<void>;
}

export function uniquePrefix(label = 't'): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

/** Starts `redis-server` with `noeviction`, as Lookout requires, and resolves once it accepts connections. */
export async function startRedis(extraArgs: string[] = []): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-redis-'));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
      '--maxmemory-policy', 'noeviction', ...extraArgs,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const ready = await new Promise<boolean>((resolve, reject) => {
      let output = '';
      child.once('error', (err) => reject(new Error(`could not start redis-server (is it installed? apt-get install redis-server): ${err.message}`)));
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve(true);
        if (output.includes('Address already in use')) resolve(false);
      });
      child.once('exit', () => resolve(false));
    });
    if (ready) {
      child.stdout!.resume();
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        pid: child.pid!,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) {
            const exited = once(child, 'exit');
            child.kill('SIGTERM');
            await exited;
          }
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    if (child.exitCode === null) child.kill('SIGKILL');
    if (attempt >= 4) throw new Error('redis-server did not start after 5 attempts');
  }
}

/** One redis-server for a whole test file, a client on it, and cleanups run newest first when the file ends. */
export interface FileRedis {
  /** URL of the file's redis-server. */
  readonly url: string;
  /** A client for the test's own reads and writes (`maxRetriesPerRequest: null`, so BullMQ may use it too). */
  readonly redis: Redis;
  /** Registers something to close when the file ends, before Redis stops. */
  onCleanup(cleanup: () => Promise<unknown> | unknown): void;
}

/** Registers the file's `beforeAll`/`afterAll` and returns the file's Redis; call at the top of a test file. */
export function redisForFile(): FileRedis {
  let server: TestRedis | undefined;
  let client: Redis | undefined;
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  beforeAll(async () => {
    server = await startRedis();
    client = new Redis(server.url, { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await client?.quit();
    await server?.stop();
  });
  return {
    get url() { if (!server) throw new Error('redisForFile: used before beforeAll ran'); return server.url; },
    get redis() { if (!client) throw new Error('redisForFile: used before beforeAll ran'); return client; },
    onCleanup(cleanup) { cleanups.push(cleanup); },
  };
}
