/**
 * API tokens and scopes: the pure decision table, then a real coordinator with auth on refusing
 * requests without a token, with a malformed, unknown or revoked one, and with too narrow a scope,
 * each with its stable code; and `--public-read`. Only token hashes are stored.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideAccess, parseAuthorization, type AuthPolicy, type Presented, type RouteAccess } from '../../../coordinator/http/auth.ts';
import { startCoordinator, type RunningCoordinator } from '../../../coordinator/coordinator.ts';
import { TokenStore, hashToken, scopeAllows, type TokenScope } from '../../../coordinator/http/tokens.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../../support/redis.ts';
import { httpCheck, memoryLogger, testConfig } from '../support.ts';

const info = (scopes: TokenScope[]) => ({ id: 'abcdefabcdef', name: 'ci', scopes, createdAt: 1, revokedAt: null });
const on: AuthPolicy = { enabled: true, publicRead: false };

describe('decideAccess', () => {
  const token = (scopes: TokenScope[]): Presented => ({ kind: 'token', check: { ok: true, token: info(scopes) } });
  const cases: Array<[string, RouteAccess, AuthPolicy, Presented, number | 'ok']> = [
    ['a public route needs nothing', 'public', on, { kind: 'none' }, 'ok'],
    ['no token on a read route', 'read', on, { kind: 'none' }, 401],
    ['no token on a read route with public read', 'read', { enabled: true, publicRead: true }, { kind: 'none' }, 'ok'],
    ['no token on a deploy route with public read', 'deploy', { enabled: true, publicRead: true }, { kind: 'none' }, 401],
    ['a malformed header', 'read', on, { kind: 'malformed' }, 401],
    ['an unknown token', 'read', on, { kind: 'token', check: { ok: false, code: 'TOKEN_INVALID', message: 'x' } }, 401],
    ['a revoked token', 'read', on, { kind: 'token', check: { ok: false, code: 'TOKEN_REVOKED', message: 'x' } }, 401],
    ['a read token on a read route', 'read', on, token(['read']), 'ok'],
    ['a read token on a deploy route', 'deploy', on, token(['read']), 403],
    ['a deploy token on a deploy route', 'deploy', on, token(['deploy']), 'ok'],
    ['a deploy token on an admin route', 'admin', on, token(['deploy']), 403],
    ['an admin token anywhere', 'admin', on, token(['admin']), 'ok'],
    ['auth off: nothing needed', 'admin', { enabled: false, publicRead: false }, { kind: 'none' }, 'ok'],
    ['no token on the artifacts with public read', 'artifacts:read', { enabled: true, publicRead: true }, { kind: 'none' }, 401],
    ['a read token on the artifacts', 'artifacts:read', on, token(['read']), 403],
    ['a deploy token on the artifacts', 'artifacts:read', on, token(['deploy']), 403],
    ['an artifacts token on the artifacts', 'artifacts:read', on, token(['artifacts:read']), 'ok'],
    ['an admin token on the artifacts', 'artifacts:read', on, token(['admin']), 'ok'],
    ['an artifacts token on a read route', 'read', on, token(['artifacts:read']), 403],
  ];
  it.each(cases)('%s', (_name, access, policy, presented, expected) => {
    const decision = decideAccess(access, policy, presented);
    if (expected === 'ok') expect('principal' in decision).toBe(true);
    else expect('error' in decision && decision.error.status).toBe(expected);
  });

  it('nests scopes: admin ⊇ deploy ⊇ read', () => {
    expect([scopeAllows(['read'], 'read'), scopeAllows(['read'], 'deploy'), scopeAllows(['deploy'], 'read'), scopeAllows(['deploy'], 'admin'), scopeAllows(['admin'], 'deploy')])
      .toEqual([true, false, true, false, true]);
  });

  it.each([
    [undefined, 'none'], ['', 'none'], ['Bearer lk_x', 'bearer'], ['bearer   lk_x', 'bearer'], ['Basic dXNlcg==', 'malformed'], ['Bearer', 'malformed'], ['Bearer a b', 'malformed'],
  ])('reads the Authorization header %j as %s', (header, kind) => {
    expect(parseAuthorization(header).kind).toBe(kind);
  });
});

describe('a coordinator with auth on', () => {
  let server: TestRedis;
  let redis: Redis;
  let prefix: string;
  let coordinator: RunningCoordinator;
  let publicReader: RunningCoordinator;
  let tokens: TokenStore;
  const t: Record<'read' | 'deploy' | 'admin' | 'revoked', string> = { read: '', deploy: '', admin: '', revoked: '' };

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
    prefix = uniquePrefix('auth');
    tokens = new TokenStore({ redis, prefix });
    for (const scope of ['read', 'deploy', 'admin'] as const) t[scope] = (await tokens.create({ name: `${scope}-token`, scopes: [scope] })).token;
    const revoked = await tokens.create({ name: 'old ci', scopes: ['admin'] });
    t.revoked = revoked.token;
    expect(await tokens.revoke(revoked.info.id)).toBe('revoked');
    const quiet = { logger: memoryLogger().logger, deliver: async () => {} };
    coordinator = await startCoordinator(testConfig(server.url, prefix, { auth: true }), quiet);
    publicReader = await startCoordinator(testConfig(server.url, prefix, { auth: true, publicRead: true }), quiet);
  });
  afterAll(async () => {
    await publicReader?.stop();
    await coordinator?.stop();
    await redis?.quit();
    await server?.stop();
  });

  const call = async (base: RunningCoordinator, method: string, path: string, token?: string, body?: unknown) => {
    const response = await fetch(`${base.url}${path}`, {
      method,
      headers: { ...(token !== undefined ? { authorization: token.startsWith('Basic') ? token : `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    const json = (response.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) as { error?: { code?: string } } : {};
    return { status: response.status, code: json.error?.code, headers: response.headers, text };
  };
  const deployBody = { checks: [httpCheck('home')] };

  it('refuses requests without a usable token with 401 and a stable code', async () => {
    const missing = await call(coordinator, 'POST', '/api/deployments', undefined, deployBody);
    expect(missing).toMatchObject({ status: 401, code: 'TOKEN_REQUIRED' });
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="lookout"');
    expect(await call(coordinator, 'GET', '/api/checks')).toMatchObject({ status: 401, code: 'TOKEN_REQUIRED' });
    expect(await call(coordinator, 'GET', '/metrics')).toMatchObject({ status: 401, code: 'TOKEN_REQUIRED' });
    expect(await call(coordinator, 'GET', '/api/checks', 'Basic dXNlcjpwdw==')).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    expect(await call(coordinator, 'GET', '/api/checks', 'lk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    // Right id, wrong secret.
    expect(await call(coordinator, 'GET', '/api/checks', `${t.read.slice(0, -3)}xyz`)).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    const revoked = await call(coordinator, 'POST', '/api/deployments', t.revoked, deployBody);
    expect(revoked).toMatchObject({ status: 401, code: 'TOKEN_REVOKED' });
    expect(revoked.text).toContain('old ci');
    expect(await coordinator.registry.listChecks()).toEqual([]);
  });

  it('refuses a token without the route\'s scope with 403 INSUFFICIENT_SCOPE', async () => {
    const readOnly = await call(coordinator, 'POST', '/api/deployments', t.read, deployBody);
    expect(readOnly).toMatchObject({ status: 403, code: 'INSUFFICIENT_SCOPE' });
    expect(readOnly.text).toContain('needs the \\"deploy\\" scope');
    expect(await call(coordinator, 'POST', '/api/deployments/plan', t.read, deployBody)).toMatchObject({ status: 403, code: 'INSUFFICIENT_SCOPE' });
    expect(await call(coordinator, 'POST', '/api/deployments/rollback', t.read, {})).toMatchObject({ status: 403, code: 'INSUFFICIENT_SCOPE' });
    expect(await call(coordinator, 'DELETE', '/api/checks/home', t.read)).toMatchObject({ status: 403, code: 'INSUFFICIENT_SCOPE' });
    // Dead-letter retry is an admin route: a deploy token is not enough.
    expect(await call(coordinator, 'POST', '/api/alerts/dead-letters/x/retry', t.deploy)).toMatchObject({ status: 403, code: 'INSUFFICIENT_SCOPE' });
    expect(await call(coordinator, 'POST', '/api/alerts/dead-letters/x/retry', t.admin)).toMatchObject({ status: 404 });
  });

  it('lets each scope do what it grants, and records who deployed', async () => {
    expect((await call(coordinator, 'POST', '/api/deployments', t.deploy, deployBody)).status).toBe(200);
    expect((await call(coordinator, 'GET', '/api/checks', t.read)).status).toBe(200);
    expect((await call(coordinator, 'GET', '/metrics', t.read)).status).toBe(200);
    expect((await call(coordinator, 'GET', '/api/checks/home', t.admin)).status).toBe(200);
    const history = JSON.parse((await call(coordinator, 'GET', '/api/deployments', t.read)).text) as { deployments: Array<{ actor: { name: string; tokenId: string } }> };
    expect(history.deployments[0]!.actor).toEqual({ name: 'deploy-token', tokenId: t.deploy.split('_')[1] });
    expect((await call(coordinator, 'DELETE', '/api/checks/home', t.deploy)).status).toBe(200);
  });

  it('keeps the dashboard page and health checks public', async () => {
    expect((await call(coordinator, 'GET', '/')).status).toBe(200);
    expect((await call(coordinator, 'GET', '/healthz')).status).toBe(200);
  });

  it('with --public-read, answers reads without a token but still checks a token sent, and guards writes', async () => {
    expect((await call(publicReader, 'GET', '/api/checks')).status).toBe(200);
    expect((await call(publicReader, 'GET', '/api/deployments')).status).toBe(200);
    expect(await call(publicReader, 'GET', '/api/checks', t.revoked)).toMatchObject({ status: 401, code: 'TOKEN_REVOKED' });
    expect(await call(publicReader, 'POST', '/api/deployments', undefined, deployBody)).toMatchObject({ status: 401, code: 'TOKEN_REQUIRED' });
  });

  it('stores only hashes: no token appears anywhere in Redis', async () => {
    const values: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === 'hash') values.push(key, ...Object.entries(await redis.hgetall(key)).flat());
        else if (type === 'string') values.push(key, String(await redis.get(key)));
        else if (type === 'list') values.push(key, ...await redis.lrange(key, 0, -1));
        else values.push(key);
      }
    } while (cursor !== '0');
    const all = values.join('\n');
    for (const token of Object.values(t)) {
      expect(all).not.toContain(token);
      expect(all).toContain(hashToken(token));
    }
    const listed = await tokens.list();
    expect(listed.map((x) => x.name).sort()).toEqual(['admin-token', 'deploy-token', 'old ci', 'read-token']);
    expect(JSON.stringify(listed)).not.toMatch(/hash/);
    expect(listed.find((x) => x.name === 'old ci')!.revokedAt).toEqual(expect.any(Number));
  });

  it('refuses to create a token without a valid name or scope', async () => {
    await expect(tokens.create({ name: '', scopes: ['root'] })).rejects.toMatchObject({ code: 'INVALID_TOKEN_REQUEST', message: expect.stringMatching(/name: .*scope: /) });
  });
});
