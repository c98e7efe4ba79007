/**
 * Secrets end to end, with real parts: a coordinator, an agent reading its secrets file, and a target
 * that accepts only the right credentials. Checks carry placeholders; the agent resolves them at run
 * time; a missing one fails the run with SECRET_MISSING; a target echoing a secret back gets it
 * scrubbed. Afterwards no secret value is anywhere in Redis (every key of every type, read in full),
 * in a result, or in a log line, while the placeholders are (so the scan does see the definitions).
 */
import { TEST_KEYS_ENV } from '../support/signing.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { parseAgentConfig } from '../../agent/config.ts';
import { createLogger as createAgentLogger } from '../../lib/log.ts';
import { parseCoordinatorConfig } from '../../coordinator/config.ts';
import { createLogger as createCoordinatorLogger } from '../../lib/log.ts';
import { startCoordinatorService, type CoordinatorService } from '../../coordinator/service.ts';
import { startHttpTarget, type TestTarget } from '../support/http-targets.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';
import { waitUntil } from '../support/wait.ts';

const API_KEY = 'sk_live_e2e_7Qx9Zr2Lm4';
const PASSWORD = 'p@ss word/42';
/** 45 characters: the length of the value the issue found 34 characters of, cut around excerpts. */
const LONG = "Lk9-long secret/with+plus&q='x'~(y)*z!0123456";
/** Where the target puts the echoed value in its body: around every excerpt edge (120, 240 characters). */
const OFFSETS = [0, 60, 100, 110, 118, 119, 121, 130, 200, 230, 239, 241];
/** Every run of 16 characters of LONG found in `text`. */
const leaksOfLong = (text: string): string[] => {
  const found: string[] = [];
  for (let i = 0; i + 16 <= LONG.length; i++) if (text.includes(LONG.slice(i, i + 16))) found.push(LONG.slice(i, i + 16));
  return found;
};
const forms = (value: string): string[] => [value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)];

/** Every value stored under every key, whatever its type. */
async function everythingIn(redis: Redis): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      parts.push(key);
      switch (await redis.type(key)) {
        case 'string': parts.push(String(await redis.get(key))); break;
        case 'hash': parts.push(...Object.entries(await redis.hgetall(key)).flat()); break;
        case 'list': parts.push(...await redis.lrange(key, 0, -1)); break;
        case 'set': parts.push(...await redis.smembers(key)); break;
        case 'zset': parts.push(...await redis.call('ZRANGE', key, '0', '-1', 'WITHSCORES') as string[]); break;
        case 'stream': for (const [id, fields] of await redis.xrange(key, '-', '+')) parts.push(id, ...fields); break;
        case 'none': break;
        default: throw new Error(`unexpected Redis type at ${key}`);
      }
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

describe('secrets end to end', () => {
  let server: TestRedis;
  let redis: Redis;
  let target: TestTarget;
  let coordinator: CoordinatorService;
  let agent: RunningAgent;
  let dir: string;
  const logs: string[] = [];
  let accepted = 0;

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
    target = await startHttpTarget((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c; });
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        if (url.pathname === '/cut') {
          const offset = Number(url.searchParams.get('o'));
          const echoed = String(req.headers['x-long']);
          res.writeHead(200, { 'x-echo': `${'h'.repeat(offset % 130)}${echoed}` })
            .end(`${'.'.repeat(offset)}${echoed}${'-'.repeat(40)}marker${'.'.repeat(300)}`);
          return;
        }
        if (url.pathname === '/echo') {
          res.writeHead(200, { 'x-echo': String(req.headers.authorization) }).end();
          return;
        }
        const ok = req.headers.authorization === `Bearer ${API_KEY}` && url.searchParams.get('key') === API_KEY && body === JSON.stringify({ password: PASSWORD });
        if (ok) accepted++;
        res.writeHead(ok ? 200 : 401).end(ok ? 'welcome' : 'denied');
      });
    });
    dir = mkdtempSync(join(tmpdir(), 'lookout-e2e-secrets-'));
    const secretsFile = join(dir, 'agent-secrets.json');
    writeFileSync(secretsFile, JSON.stringify({ API_KEY, PASSWORD, LONG }));

    const prefix = uniquePrefix('e2e-secrets');
    const parsed = parseCoordinatorConfig(['--redis', server.url, '--prefix', prefix, '--port', '0', '--sweep-interval', '200ms', '--auth', 'off'], TEST_KEYS_ENV);
    if (!('config' in parsed)) throw new Error(JSON.stringify(parsed));
    coordinator = await startCoordinatorService(parsed.config, { logger: createCoordinatorLogger((line) => logs.push(line)) });
    const agentParsed = parseAgentConfig(['--region', 'us-east', '--redis', server.url, '--prefix', prefix, '--agent-id', 'secret-agent', '--secrets-file', secretsFile, '--shutdown-timeout', '2s'], TEST_KEYS_ENV);
    if (!('config' in agentParsed)) throw new Error(JSON.stringify(agentParsed));
    agent = await startAgent(agentParsed.config, { logger: createAgentLogger((line) => logs.push(line)) });
    await agent.ready;

    const common = { type: 'http', regions: ['us-east'], frequencyMs: 1_000, timeoutMs: 900, failureThreshold: 1 };
    const deployed = await fetch(`${coordinator.url}/api/deployments`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ checks: [
        { ...common, id: 'with-secrets', name: 'With secrets', url: `${target.url('/login')}?key={{secret:API_KEY}}`, method: 'POST',
          headers: { authorization: 'Bearer {{secret:API_KEY}}' }, body: '{"password":"{{secret:PASSWORD}}"}' },
        { ...common, id: 'echoed', name: 'Echoed', url: target.url('/echo'), headers: { authorization: 'Bearer {{secret:API_KEY}}' },
          assertions: [{ type: 'header', name: 'x-echo', op: 'equals', value: 'something else' }] },
        { ...common, id: 'missing', name: 'Missing', url: target.url('/login'), headers: { 'x-token': '{{secret:NOT_ON_THIS_AGENT}}' } },
        ...OFFSETS.map((offset) => ({
          ...common, id: `cut-${offset}`, name: `Cut at ${offset}`, url: `${target.url('/cut')}?o=${offset}`, headers: { 'x-long': '{{secret:LONG}}' },
          assertions: [
            { type: 'body', op: 'contains', value: 'never-there' },
            { type: 'body', op: 'notContains', value: 'marker' },
            { type: 'body', op: 'matches', value: 'marker' },
            { type: 'header', name: 'x-echo', op: 'equals', value: 'other' },
          ],
        })),
      ] }),
    });
    expect(deployed.status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await coordinator?.stop();
    await target?.close();
    await redis?.quit();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const runsOf = async (id: string): Promise<Array<{ outcome: string; error: { code: string; message: string } | null }>> => {
    const body = await (await fetch(`${coordinator.url}/api/checks/${id}`)).json() as { regions: Array<{ recentRuns: Array<{ outcome: string; error: { code: string; message: string } | null }> }> };
    return body.regions[0]!.recentRuns;
  };

  it('resolves secrets on the agent, fails a missing one with SECRET_MISSING, and scrubs an echoed one', async () => {
    const [ok] = await waitUntil('runs of with-secrets', async () => { const r = await runsOf('with-secrets'); return r.length >= 2 && r; }, 20_000);
    expect(ok).toMatchObject({ outcome: 'pass', error: null });
    expect(accepted).toBeGreaterThanOrEqual(2);
    const [echoed] = await waitUntil('runs of echoed', async () => { const r = await runsOf('echoed'); return r.length >= 2 && r; }, 20_000);
    expect(echoed).toMatchObject({ outcome: 'fail', error: { code: 'ASSERTION_FAILED', message: expect.stringContaining('x-echo: "Bearer [secret:API_KEY]"') } });
    const [missing] = await waitUntil('runs of missing', async () => { const r = await runsOf('missing'); return r.length >= 2 && r; }, 20_000);
    expect(missing).toMatchObject({ outcome: 'fail', error: { code: 'SECRET_MISSING', message: expect.stringContaining('"NOT_ON_THIS_AGENT"') } });
  }, 30_000);

  it('leaves no secret value in any Redis key, result or log line', async () => {
    const stored = await everythingIn(redis);
    // The scan does read the definitions and jobs (they carry the placeholders) and the results.
    expect(stored).toContain('{{secret:API_KEY}}');
    expect(stored).toContain('[secret:API_KEY]');
    expect(stored).toContain('SECRET_MISSING');
    const api = await (await fetch(`${coordinator.url}/api/checks/echoed`)).text();
    const text = [stored, api, ...logs].join('\n');
    expect(logs.some((line) => line.includes('"msg":"secrets.loaded"') && line.includes('API_KEY'))).toBe(true);
    for (const value of [API_KEY, PASSWORD]) {
      for (const form of forms(value)) expect(text.includes(form), `found ${JSON.stringify(form)}`).toBe(false);
    }
  });

  it('shows no 16 characters of a value echoed across any excerpt edge, in Redis, the API or the logs', async () => {
    for (const offset of OFFSETS) {
      const [run] = await waitUntil(`runs of cut-${offset}`, async () => { const r = await runsOf(`cut-${offset}`); return r.length >= 1 && r; }, 20_000);
      expect(run).toMatchObject({ outcome: 'fail', error: { code: 'ASSERTION_FAILED' } });
    }
    const api = await Promise.all(OFFSETS.map(async (offset) => (await fetch(`${coordinator.url}/api/checks/cut-${offset}`)).text()));
    const text = [await everythingIn(redis), ...api, ...logs].join('\n');
    expect(text).toContain('[secret:LONG]');
    expect(leaksOfLong(text)).toEqual([]);
  }, 30_000);
});
