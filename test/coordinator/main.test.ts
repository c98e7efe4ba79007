import { TEST_SIGNING_KEY_FILE } from '../support/signing.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';
import { heartbeat, httpCheck, resultsProducer, runResult } from './support.ts';
import { waitUntil } from '../support/wait.ts';

const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
const MAIN = new URL('../../coordinator/main.ts', import.meta.url).pathname;

let server: TestRedis;
beforeAll(async () => { server = await startRedis(); });
afterAll(async () => { await server?.stop(); });

/** Starts `coordinator/main.ts` and resolves with its URL once it logs `coordinator.started`. */
async function startMain(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(NODE, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
  let stderr = '';
  child.stderr!.on('data', (c) => { stderr += c; });
  for await (const line of createInterface({ input: child.stdout! })) {
    const record = JSON.parse(line) as { msg: string; url?: string };
    if (record.msg === 'coordinator.started') return { child, url: record.url! };
  }
  throw new Error(`coordinator exited before starting: ${stderr}`);
}

async function stopMain(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = await exited;
  return code as number | null;
}

describe('coordinator process', () => {
  it('prints every configuration problem and exits 2', async () => {
    const child = spawn(NODE, [MAIN, '--port', 'abc', '--bogus', '--sweep-interval', 'never'], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
    let stderr = '';
    child.stderr.on('data', (c) => { stderr += c; });
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(stderr).toContain('--port: expected an integer');
    expect(stderr).toContain('--bogus: unknown option (see --help)');
    expect(stderr).toContain('--sweep-interval: expected a duration');
  });

  it('serves, sends incident events to the configured webhook, and exits 0 on SIGTERM', async () => {
    const received: Array<{ event: string; eventId: string }> = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => { received.push(JSON.parse(body)); res.writeHead(204).end(); });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const prefix = uniquePrefix('main');
    const redis = new Redis(server.url, { maxRetriesPerRequest: null });
    const { child, url } = await startMain(['--redis', server.url, '--prefix', prefix, '--port', '0', '--sweep-interval', '100ms', '--webhook-url', hook, '--webhook-secret', 'a-secret-of-16-chars', '--auth', 'off', '--job-signing-key', TEST_SIGNING_KEY_FILE]);
    try {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const deployed = await fetch(`${url}/api/deployments`, { method: 'POST', body: JSON.stringify({ checks: [httpCheck('web', { failureThreshold: 1 })] }) });
      expect(deployed.status).toBe(200);
      await heartbeat(redis, prefix, 'agent-us', 'us-east', 60_000);
      await heartbeat(redis, prefix, 'agent-eu', 'eu-west', 60_000);
      const producer = resultsProducer(redis, prefix);
      await producer.add('r', runResult({ checkId: 'web', region: 'us-east', scheduledAt: Date.now() - 1_000, outcome: 'fail' }));
      await producer.close();
      const opened = await waitUntil('incident.opened at the webhook', () => received.find((r) => r.event === 'incident.opened'));
      expect(opened.eventId).toMatch(/^web-.*:1$/);
      expect(await stopMain(child)).toBe(0);
    } finally {
      await stopMain(child);
      await redis.quit();
      receiver.close();
    }
  });
});
