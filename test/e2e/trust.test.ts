/**
 * What a stolen agent credential can do, tried for real: a redis-server with a password on its default
 * user and TLS on its only port, regions registered with `lookout region add` (their own ACL users), a
 * coordinator on the admin credential, and agents of three regions on their own credentials only. Every
 * forbidden action below is attempted with eu-west's credential and must get NOPERM; the allowed ones
 * (taking eu-west's jobs, publishing eu-west's results, heartbeats, canary answers) work, and the whole
 * fleet runs end to end over TLS.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { parseAgentConfig } from '../../agent/config.ts';
import {
  agentIndexKey, checkQueueName, checkStateKey, heartbeatKey, outboxKey, registryKey, registryRevisionKey, resultsQueueName,
  signingKeyKey, tokensKey, ALERTS_QUEUE, canaryAnswerKey, knownRegionsKey,
} from '../../checks/keys.ts';
import { parseCoordinatorConfig } from '../../coordinator/config.ts';
import { startCoordinatorService, type CoordinatorService } from '../../coordinator/service.ts';
import { regionCommand } from '../../cli/region.ts';
import { targetOptions } from '../../lib/redis.ts';
import { freePort, startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';
import { makeTestCertificates } from '../support/tls-certs.ts';
import { signedJob } from '../support/signing.ts';
import { httpCheck } from '../coordinator/support.ts';
import { waitUntil } from '../support/wait.ts';

const REGIONS = ['us-east', 'eu-west', 'ap-south'];
const ADMIN_PASSWORD = 'admin-password-for-the-trust-test';
const quiet = { info() {}, warn() {}, error() {}, debug() {}, child() { return quiet; } };

let redis: TestRedis;
let caFile: string;
let adminUrl: string;
let admin: Redis;
let target: Server;
let targetUrl: string;
let coordinator: CoordinatorService;
const prefix = uniquePrefix('trust');
const agents: RunningAgent[] = [];
/** Per region, the environment `lookout region add` printed. */
const regionEnv = new Map<string, Record<string, string>>();

/** A connection with a region's own credential (as a stolen one would be used). */
function asRegion(region: string): Redis {
  const conn = new Redis({ ...targetOptions({ url: regionEnv.get(region)!.LOOKOUT_REDIS_URL!, tls: { ca: caCert } }), maxRetriesPerRequest: 1 });
  conn.on('error', () => {});
  return conn;
}
let caCert: string;

beforeAll(async () => {
  const certs = makeTestCertificates();
  caCert = certs.ca;
  const dir = mkdtempSync(join(tmpdir(), 'lookout-trust-'));
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, certs.ca);
  writeFileSync(join(dir, 'server.pem'), certs.valid.cert);
  writeFileSync(join(dir, 'server.key'), certs.valid.key);
  // TLS only: the plain port is off, and the default user needs a password.
  const tlsPort = await freePort();
  redis = await startRedis([
    '--port', '0', '--tls-port', String(tlsPort), '--tls-cert-file', join(dir, 'server.pem'), '--tls-key-file', join(dir, 'server.key'),
    '--tls-ca-cert-file', caFile, '--tls-auth-clients', 'no', '--requirepass', ADMIN_PASSWORD,
  ]);
  adminUrl = `rediss://:${ADMIN_PASSWORD}@localhost:${tlsPort}`;
  admin = new Redis({ ...targetOptions({ url: adminUrl, tls: { ca: certs.ca } }), maxRetriesPerRequest: null });

  target = createServer((req, res) => { req.resume(); res.writeHead(200).end('ok'); });
  target.listen(0, '127.0.0.1');
  await once(target, 'listening');
  targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/`;

  for (const region of REGIONS) {
    const out: string[] = [];
    const code = await regionCommand(['add', region, '--redis', adminUrl, '--redis-ca', caFile, '--prefix', prefix], {},
      { write: (s: string) => out.push(s) } as never, { write: () => true } as never);
    expect(code).toBe(0);
    const env = Object.fromEntries(out.join('').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    regionEnv.set(region, env);
  }

  const parsed = parseCoordinatorConfig(['--redis', adminUrl, '--redis-ca', caFile, '--prefix', prefix, '--port', '0', '--sweep-interval', '200ms', '--reconcile-interval', '1s', '--auth', 'off'], {});
  if (!('config' in parsed)) throw new Error(JSON.stringify(parsed));
  coordinator = await startCoordinatorService(parsed.config, { logger: quiet as never });
  for (const region of REGIONS) {
    const env = { ...regionEnv.get(region)!, LOOKOUT_REDIS_CA: caFile };
    const agentParsed = parseAgentConfig(['--agent-id', `trust-${region}`, '--shutdown-timeout', '2s'], env);
    if (!('config' in agentParsed)) throw new Error(JSON.stringify(agentParsed));
    const agent = await startAgent(agentParsed.config, { logger: quiet as never });
    agents.push(agent);
    await agent.ready;
  }
}, 60_000);

afterAll(async () => {
  for (const agent of agents) await agent.stop();
  await coordinator?.stop();
  admin?.disconnect();
  target?.close();
  await redis?.stop();
});

describe('a region\'s credential', () => {
  it('prints what an agent needs: its region, its own Redis user over TLS, the job verification key', () => {
    const env = regionEnv.get('eu-west')!;
    expect(env.LOOKOUT_REGION).toBe('eu-west');
    expect(env.LOOKOUT_REDIS_URL).toMatch(new RegExp(`^rediss://${prefix.replace(/[{}]/g, '')}-agent-eu-west:[A-Za-z0-9_-]{43}@localhost:\\d+$`));
    expect(env.LOOKOUT_JOB_PUBLIC_KEY).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(env.LOOKOUT_REDIS_URL).not.toContain(ADMIN_PASSWORD);
  });

  it('runs the fleet end to end: three regions on their own users over TLS, every region up', async () => {
    const deployed = await fetch(`${coordinator.url}/api/deployments`, {
      method: 'POST', body: JSON.stringify({ checks: [httpCheck('trust-web', { url: targetUrl, regions: REGIONS, frequencyMs: 2_000, timeoutMs: 1_000, failureThreshold: 1, successThreshold: 1 })] }),
    });
    expect(deployed.status).toBe(200);
    await waitUntil('every region up', async () => {
      const body = await (await fetch(`${coordinator.url}/api/checks/trust-web`)).json() as { regions: Array<{ verdict: { status: string } }> };
      return body.regions.every((r) => r.verdict.status === 'up');
    }, 20_000);
    const listed = await (await fetch(`${coordinator.url}/api/agents`)).json() as { regions: Array<{ region: string; online: number }> };
    expect(listed.regions.filter((r) => REGIONS.includes(r.region)).map((r) => [r.region, r.online])).toEqual([['ap-south', 1], ['eu-west', 1], ['us-east', 1]]);
  });

  const forbidden: Array<[string, (r: Redis) => Promise<unknown>]> = [
    ['write a token (a working admin API token)', (r) => r.hset(tokensKey(prefix), 'evil', '{}')],
    ['read the tokens', (r) => r.hgetall(tokensKey(prefix))],
    ['write a definition into the registry', (r) => r.hset(registryKey(prefix), 'evil', '{}')],
    ['read the registry', (r) => r.hgetall(registryKey(prefix))],
    ['bump the registry revision', (r) => r.incr(registryRevisionKey(prefix))],
    ['push an event onto the outbox', (r) => r.lpush(outboxKey(prefix), '{}')],
    ['overwrite a check\'s state', (r) => r.set(checkStateKey(prefix, 'trust-web'), '{}')],
    ['read the job signing key', (r) => r.get(signingKeyKey(prefix))],
    ['change the watched regions', (r) => r.sadd(knownRegionsKey(prefix), 'evil')],
    ['add a job to another region\'s check queue', (r) => withQueue(r, checkQueueName('us-east'), (q) => q.add('x', signedJob(httpCheck('trust-web', { url: 'http://203.0.113.1/' }) as never, 'us-east')))],
    ['publish into another region\'s results queue', (r) => withQueue(r, resultsQueueName('us-east'), (q) => q.add('x', {}))],
    ['add to the alert deliveries queue', (r) => withQueue(r, ALERTS_QUEUE, (q) => q.add('x', {}))],
    ['write a heartbeat in another region', (r) => r.set(heartbeatKey(prefix, 'us-east', 'ghost'), '{}')],
    ['add an agent to another region', (r) => r.sadd(agentIndexKey(prefix, 'us-east'), 'ghost')],
    ['answer another region\'s canary', (r) => r.set(canaryAnswerKey(prefix, 'us-east'), '{}')],
    ['list key names (KEYS)', (r) => r.keys('*')],
    ['list key names (SCAN)', (r) => r.scan('0')],
    ['flush the database', (r) => r.flushall()],
    ['read the configuration', (r) => r.config('GET', 'requirepass')],
    ['change users', (r) => r.call('ACL', 'SETUSER', 'evil', 'on', '>x', '+@all', '~*')],
    ['see other clients', (r) => r.client('LIST')],
    ['load a function', (r) => r.call('FUNCTION', 'LOAD', "#!lua name=evil\nredis.register_function('f', function() return 1 end)")],
  ];
  it.each(forbidden)('cannot %s (NOPERM)', async (_name, attempt) => {
    const conn = asRegion('eu-west');
    try {
      await expect(attempt(conn)).rejects.toThrow(/NOPERM/);
    } finally {
      conn.disconnect();
    }
  });

  it('can do what an agent of its region needs, and nothing it did touched the control plane', async () => {
    const conn = asRegion('eu-west');
    try {
      await conn.set(heartbeatKey(prefix, 'eu-west', 'probe'), '{}', 'PX', 1_000);
      await conn.sadd(agentIndexKey(prefix, 'eu-west'), 'probe');
      await conn.set(canaryAnswerKey(prefix, 'eu-west'), '{}', 'PX', 1_000);
      await withQueue(conn, resultsQueueName('eu-west'), (q) => q.add('x', { not: 'a result' }));
      expect(await conn.time()).toHaveLength(2);
    } finally {
      conn.disconnect();
    }
    // The junk result was refused by ingest (not a result), and the verdicts stand.
    const body = await (await fetch(`${coordinator.url}/api/checks/trust-web`)).json() as { regions: Array<{ verdict: { status: string } }> };
    expect(body.regions.every((r) => r.verdict.status === 'up')).toBe(true);
    expect(await admin.hexists(tokensKey(prefix), 'evil')).toBe(0);
  });

  it('is refused entirely once the region is removed, and a rotation keeps the old password until --finish', async () => {
    const run = async (...argv: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await regionCommand([...argv, '--redis', adminUrl, '--redis-ca', caFile, '--prefix', prefix], {},
        { write: (s: string) => out.push(s) } as never, { write: (s: string) => err.push(s) } as never);
      return { code, out: out.join(''), err: err.join('') };
    };
    const added = await run('add', 'sa-east');
    const oldUrl = /LOOKOUT_REDIS_URL=(\S+)/.exec(added.out)![1]!;
    const rotated = await run('rotate', 'sa-east');
    const newUrl = /LOOKOUT_REDIS_URL=(\S+)/.exec(rotated.out)![1]!;
    expect(newUrl).not.toBe(oldUrl);
    const connect = async (url: string) => {
      const conn = new Redis({ ...targetOptions({ url, tls: { ca: caCert } }), maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
      let refused = '';
      conn.on('error', (error: Error) => { refused ||= error.message; });
      try { await conn.connect(); return await conn.ping(); } catch (error) { return refused || (error as Error).message; } finally { conn.disconnect(); }
    };
    expect(await connect(oldUrl)).toBe('PONG');
    expect(await connect(newUrl)).toBe('PONG');
    expect((await run('rotate', 'sa-east', '--finish')).code).toBe(0);
    expect(await connect(oldUrl)).toMatch(/WRONGPASS|invalid username-password/);
    expect(await connect(newUrl)).toBe('PONG');
    expect((await run('list')).out).toMatch(/sa-east\s+user \S+-agent-sa-east/);
    expect((await run('remove', 'sa-east')).code).toBe(0);
    expect(await connect(newUrl)).toMatch(/WRONGPASS|invalid username-password/);
    expect(await run('add', 'sa-east').then((r) => r.code)).toBe(0);
    expect((await run('add', 'sa-east')).err).toMatch(/REGION_EXISTS/);
  });

  it('keeps working after Redis forgot its users: the coordinator re-applies them from the records', async () => {
    const user = `${prefix.replace(/[{}]/g, '')}-agent-ap-south`;
    await admin.call('ACL', 'DELUSER', user);
    await waitUntil('the user to be back', async () => ((await admin.call('ACL', 'USERS')) as string[]).includes(user), 10_000);
    const conn = asRegion('ap-south');
    try {
      expect(await conn.set(heartbeatKey(prefix, 'ap-south', 'probe'), '{}', 'PX', 1_000)).toBe('OK');
    } finally {
      conn.disconnect();
    }
  });
});

async function withQueue<T>(connection: Redis, name: string, use: (queue: Queue) => Promise<T>): Promise<T> {
  const queue = new Queue(name, { connection, prefix });
  queue.on('error', () => {});
  try {
    return await use(queue);
  } finally {
    await queue.close();
  }
}
