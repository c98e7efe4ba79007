/**
 * Bad input, as a careless user, a hostile client and a flaky Redis produce it, against a real
 * coordinator (auth on) on a real Redis: each case asserts the answer's status and code, that the
 * coordinator still answers, and that nothing stored changed (every key under the prefix, by DUMP).
 * The README's "Bad input" section lists the same cases; bench/bad-input.ts times them.
 */
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CHECKS_PER_DEPLOYMENT } from '../../checks/limits.ts';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import { TokenStore } from '../../coordinator/http/tokens.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';
import { httpCheck, memoryLogger, testConfig } from '../coordinator/support.ts';

let server: TestRedis;
let redis: Redis;
let coordinator: RunningCoordinator;
let prefix: string;
const tokens: Record<'deploy' | 'read' | 'artifacts' | 'revoked', string> = { deploy: '', read: '', artifacts: '', revoked: '' };

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
  prefix = uniquePrefix('bad');
  const store = new TokenStore({ redis, prefix });
  tokens.deploy = (await store.create({ name: 'ci', scopes: ['deploy'] })).token;
  tokens.read = (await store.create({ name: 'viewer', scopes: ['read'] })).token;
  tokens.artifacts = (await store.create({ name: 'debug', scopes: ['artifacts:read'] })).token;
  const revoked = await store.create({ name: 'gone', scopes: ['admin'] });
  await store.revoke(revoked.info.id);
  tokens.revoked = revoked.token;
  coordinator = await startCoordinator(testConfig(server.url, prefix, { auth: true, canaryIntervalMs: 0 }), { logger: memoryLogger().logger, deliver: async () => {} });
  const deployed = await call({ method: 'POST', path: '/api/deployments', token: tokens.deploy, body: JSON.stringify({ checks: [httpCheck('existing')] }) });
  expect(deployed.status).toBe(200);
});
afterAll(async () => {
  await coordinator?.stop();
  await redis?.quit();
  await server?.stop();
});

interface Answer { status: number; code: string | undefined; ms: number }

async function call(input: { method: string; path: string; token?: string; body?: string }): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(`${coordinator.url}${input.path}`, {
    method: input.method, body: input.body,
    headers: { ...(input.token ? { authorization: `Bearer ${input.token}` } : {}), ...(input.body ? { 'content-type': 'application/json' } : {}) },
  });
  const text = await response.text();
  let code: string | undefined;
  try { code = (JSON.parse(text) as { error?: { code?: string } }).error?.code; } catch { code = undefined; }
  return { status: response.status, code, ms: performance.now() - started };
}

/** Sends bytes as they are (a request fetch would refuse to make) and reads the answer. */
function rawCall(bytes: string): Promise<Answer> {
  const started = performance.now();
  const { port } = new URL(coordinator.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); });
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      let code: string | undefined;
      try { code = (JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error?: { code?: string } }).error?.code; } catch { code = undefined; }
      resolve({ status, code, ms: performance.now() - started });
    });
  });
}

/**
 * Keys an idle coordinator rewrites by itself, whatever any request does: the schedule issuing the
 * deployed check's runs (claimed slots, its region's queue), the watch of runs no agent answers and the
 * sweep (the check's state), and BullMQ on the results queues: its stalled-job checker, and the queue's
 * meta that an ingest worker writes once its own connection is up (late, on a loaded machine).
 */
const BACKGROUND_KEY = /:lookout:(slots:issued|slots:due|unanswered|state:existing)$|:checks\.[a-z0-9-]+:|:results\.[a-z0-9-]+:(stalled-check|meta)$/;

/**
 * Every other key under the prefix with a hash of its DUMP: equal snapshots mean no request changed
 * anything stored (a diff names the keys).
 */
async function digest(): Promise<Record<string, string>> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch.filter((key) => !BACKGROUND_KEY.test(key)));
  } while (cursor !== '0');
  const snapshot: Record<string, string> = {};
  for (const key of keys.sort()) {
    snapshot[key] = createHash('sha256').update((await redis.dumpBuffer(key)) ?? Buffer.alloc(0)).digest('hex');
  }
  return snapshot;
}

const deployBody = (checks: unknown[]): string => JSON.stringify({ checks, prune: false });
const regions = (n: number): string[] => Array.from({ length: n }, (_, i) => `r${i}`);
let nested = '1';
for (let i = 0; i < 10_000; i++) nested = `[${nested}]`;

const cases: Array<[string, () => Promise<Answer>, number, string]> = [
  ['malformed JSON', () => call({ method: 'POST', path: '/api/deployments', token: tokens.deploy, body: '{"checks": [' }), 400, 'INVALID_JSON'],
  ['a 10 MB body', () => call({ method: 'POST', path: '/api/deployments', token: tokens.deploy, body: JSON.stringify({ checks: [], pad: 'x'.repeat(10_000_000) }) }), 413, 'BODY_TOO_LARGE'],
  ['__proto__ in a definition', () => call({ method: 'POST', path: '/api/deployments', token: tokens.deploy,
    body: deployBody([JSON.parse(`{"__proto__":{"isAdmin":true},${JSON.stringify(httpCheck('proto')).slice(1)}`)]) }), 400, 'INVALID_DEFINITIONS'],
  ['JSON nested 10,000 deep', () => call({ method: 'POST', path: '/api/deployments', token: tokens.deploy, body: `{"checks":${nested}}` }), 400, 'JSON_TOO_DEEP'],
  ['a check with 10,000 regions', () => call({ method: 'POST', path: '/api/deployments', token: tokens.deploy, body: deployBody([httpCheck('wide', { regions: regions(10_000) })]) }), 400, 'INVALID_DEFINITIONS'],
  [`${MAX_CHECKS_PER_DEPLOYMENT + 1} checks in one deployment`, () => call({ method: 'POST', path: '/api/deployments', token: tokens.deploy,
    body: deployBody(Array.from({ length: MAX_CHECKS_PER_DEPLOYMENT + 1 }, (_, i) => ({ id: `c${i}` }))) }), 400, 'INVALID_BODY'],
  ['a pattern the linear engine cannot run', () => call({ method: 'POST', path: '/api/deployments', token: tokens.deploy,
    body: deployBody([httpCheck('redos', { assertions: [{ type: 'body', op: 'matches', value: '(a)\\1' }] })]) }), 400, 'INVALID_DEFINITIONS'],
  ['traversal in a check id', () => call({ method: 'GET', path: '/api/checks/..%2F..%2Fetc%2Fpasswd', token: tokens.read }), 400, 'INVALID_CHECK_ID'],
  ['traversal in a check id (DELETE)', () => call({ method: 'DELETE', path: '/api/checks/..%2Fexisting', token: tokens.deploy }), 400, 'INVALID_CHECK_ID'],
  ['traversal in an artifact name', () => call({ method: 'GET', path: '/api/artifacts/eu-west.run-1/..%2F..%2Fregistry', token: tokens.artifacts }), 400, 'INVALID_ARTIFACT_NAME'],
  ['traversal in a run id', () => call({ method: 'GET', path: '/api/artifacts/..%2Fregistry', token: tokens.artifacts }), 400, 'INVALID_RUN_ID'],
  ['a raw NUL in the path', () => rawCall('GET /api/checks\0x HTTP/1.1\r\nHost: x\r\n\r\n'), 400, 'BAD_REQUEST'],
  ['no token', () => call({ method: 'GET', path: '/api/checks' }), 401, 'TOKEN_REQUIRED'],
  ['a wrong token', () => call({ method: 'GET', path: '/api/checks', token: 'lk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }), 401, 'TOKEN_INVALID'],
  ['a malformed token', () => call({ method: 'GET', path: '/api/checks', token: 'not a token' }), 401, 'TOKEN_INVALID'],
  ['a revoked token', () => call({ method: 'GET', path: '/api/checks', token: tokens.revoked }), 401, 'TOKEN_REVOKED'],
  ['a read token deploying', () => call({ method: 'POST', path: '/api/deployments', token: tokens.read, body: deployBody([httpCheck('sneaky')]) }), 403, 'INSUFFICIENT_SCOPE'],
  ['a read token reading artifacts', () => call({ method: 'GET', path: '/api/artifacts/eu-west.run-1', token: tokens.read }), 403, 'INSUFFICIENT_SCOPE'],
];

describe('bad input', () => {
  it.each(cases.map(([name, send, status, code]) => [`${name} → ${status} ${code}`, send, status, code] as const))('%s, the coordinator stays up, nothing stored changes', async (_name, send, status, code) => {
    const before = await digest();
    const answer = await send();
    expect({ status: answer.status, code: answer.code }).toEqual({ status, code });
    expect((await fetch(`${coordinator.url}/healthz`)).status).toBe(200);
    expect(await digest()).toEqual(before);
  });

  it('names the field and the limit when refusing a check with too many regions', async () => {
    const response = await fetch(`${coordinator.url}/api/deployments`, {
      method: 'POST', headers: { authorization: `Bearer ${tokens.deploy}` }, body: deployBody([httpCheck('wide', { regions: regions(10_000) })]),
    });
    const body = await response.json() as { error: { problems: Array<{ field: string; message: string }> } };
    expect(body.error.problems).toEqual([{ index: 0, checkId: 'wide', field: 'regions', message: expect.stringContaining('MAX_REGIONS_PER_CHECK') }]);
  });
});

describe('a Redis that stops answering', () => {
  let paused: TestRedis;
  let stalled: RunningCoordinator;
  beforeAll(async () => {
    paused = await startRedis();
    stalled = await startCoordinator(testConfig(paused.url, uniquePrefix('stall'), { canaryIntervalMs: 0 }), { logger: memoryLogger().logger, deliver: async () => {} });
  });
  afterAll(async () => {
    process.kill(paused.pid, 'SIGCONT');
    await stalled?.stop();
    await paused?.stop();
  });

  it('makes the API answer 503 REDIS_UNAVAILABLE instead of hanging, and /readyz 503', async () => {
    expect((await fetch(`${stalled.url}/api/checks`)).status).toBe(200);
    process.kill(paused.pid, 'SIGSTOP');
    try {
      const response = await fetch(`${stalled.url}/api/checks`, { signal: AbortSignal.timeout(5_000) });
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('REDIS_UNAVAILABLE');
      expect((await fetch(`${stalled.url}/readyz`, { signal: AbortSignal.timeout(5_000) })).status).toBe(503);
    } finally {
      process.kill(paused.pid, 'SIGCONT');
    }
    expect((await fetch(`${stalled.url}/api/checks`)).status).toBe(200);
  });
});
