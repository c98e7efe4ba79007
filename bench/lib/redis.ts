/**
 * A `redis-server` of the benchmark's own, on a free loopback port, data in a temporary folder, with
 * `noeviction` as Lookout requires. Stopped by its pid. (A copy of the idea in test/support/redis.ts:
 * bench/ does not import from test/.)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { killOnExit } from './proc.ts';

export interface BenchRedis {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no free port');
  return address.port;
}

/** Starts a redis-server; `extraArgs` adds settings (e.g. `['--hz', '100']`). */
export async function startRedis(extraArgs: readonly string[] = []): Promise<BenchRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-bench-redis-'));
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
      '--maxmemory-policy', 'noeviction', ...extraArgs,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const ready = await new Promise<boolean>((resolve, reject) => {
      let output = '';
      child.once('error', (error) => reject(new Error(`BENCH_REDIS_START: could not start redis-server (apt-get install redis-server): ${error.message}`)));
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve(true);
        if (output.includes('Address already in use')) resolve(false);
      });
      child.once('exit', () => resolve(false));
    });
    if (ready && child.pid !== undefined) {
      const forget = killOnExit(child);
      child.once('exit', forget);
      child.stdout!.resume();
      child.stderr!.resume();
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        pid: child.pid,
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
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error('BENCH_REDIS_START: redis-server did not start after 5 attempts');
}
