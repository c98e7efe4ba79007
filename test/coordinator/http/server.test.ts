import { request } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactIndexKey, artifactKey } from '../../../checks/keys.ts';
import { startCoordinator, type RunningCoordinator } from '../../../coordinator/coordinator.ts';
import { MAX_BODY_BYTES } from '../../../coordinator/http/json.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../../support/redis.ts';
import { heartbeat, httpCheck, memoryLogger, resultsProducer, runResult, testConfig } from '../support.ts';
import { waitUntil } from '../../support/wait.ts';

let server: TestRedis;
let redis: Redis;
let coordinator: RunningCoordinator;
let prefix: string;
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
  prefix = uniquePrefix('api');
  coordinator = await startCoordinator(testConfig(server.url, prefix), { logger: memoryLogger().logger, deliver: async () => {} });
});
afterAll(async () => {
  await coordinator?.stop();
  await redis?.quit();
  await server?.stop();
});

const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: any; headers: Headers }> => {
  const response = await fetch(`${coordinator.url}${path}`, { method, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await response.text();
  let json: unknown = text;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: response.status, json, headers: response.headers };
};

describe('API', () => {
  it('refuses an invalid deployment listing every problem, and stores nothing', async () => {
    const response = await call('POST', '/api/deployments', {
      checks: [
        httpCheck('good'),
        { ...httpCheck('bad-one'), url: 'ftp://example.com', timeoutMs: 120_000 },
        { type: 'http', id: 'Bad Id', name: '' },
        'not an object',
        httpCheck('good'),
      ],
    });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('INVALID_DEFINITIONS');
    const problems = response.json.error.problems as Array<{ index: number; checkId: string | null; field: string; message: string }>;
    const where = problems.map((p) => `${p.index}:${p.checkId}:${p.field}`);
    expect(where).toEqual(expect.arrayContaining([
      '1:bad-one:url', '1:bad-one:timeoutMs', '2:Bad Id:id', '2:Bad Id:name', '2:Bad Id:regions', '3:null:(definition)', '4:good:id',
    ]));
    for (const p of problems) expect(p.message).toEqual(expect.any(String));
    expect((await call('GET', '/api/checks')).json.checks).toEqual([]);
  });

  it('refuses a definition with a field it does not know (a typo would otherwise fall back to a default)', async () => {
    const response = await call('POST', '/api/deployments', {
      checks: [{ ...httpCheck('typo'), failureTreshold: 5, alerting: { reminderEvry: 60_000 } }],
    });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('INVALID_DEFINITIONS');
    expect(response.json.error.problems).toEqual([
      { index: 0, checkId: 'typo', field: 'failureTreshold', message: 'unknown field' },
      { index: 0, checkId: 'typo', field: 'alerting.reminderEvry', message: 'unknown field' },
    ]);
    expect((await call('GET', '/api/checks')).json.checks).toEqual([]);
  });

  it('refuses a browser bundle that breaks the script policy, and a secrets list that leaves a name out; fills in a missing list', async () => {
    const { secrets: _omitted, ...withoutList } = httpCheck('listed', { headers: { authorization: '{{secret:API_TOKEN}}' } }) as Record<string, unknown>;
    const bundle = 'import { execSync } from "node:child_process";\nexport default { __lookoutCheck: true, type: "browser", id: "evil", script: async () => { execSync("id"); process.binding("fs"); } };\n';
    const evil = { ...httpCheck('evil'), type: 'browser', url: undefined, method: undefined, headers: undefined, assertions: undefined, followRedirects: undefined, maxRedirects: undefined, maxBodyBytes: undefined, timeoutMs: 5_000, script: { bundle, file: 'evil.check.ts' } };
    const refused = await call('POST', '/api/deployments', {
      checks: [JSON.parse(JSON.stringify(evil)), { ...httpCheck('short'), headers: { authorization: '{{secret:API_TOKEN}}' }, secrets: [] }],
    });
    expect(refused.status).toBe(400);
    expect(refused.json.error.problems.map((p: { index: number; field: string; message: string }) => `${p.index} ${p.field} ${p.message.split(/: /)[0]}`)).toEqual([
      '0 script.bundle evil.check.ts (bundle):1:26 "node:child_process" cannot be imported by a browser check',
      '0 script.bundle evil.check.ts (bundle):2:114 "binding" is not allowed in a browser check',
      '1 secrets does not list "API_TOKEN", which the check references',
    ]);
    expect((await call('GET', '/api/checks')).json.checks).toEqual([]);
    // A client that predates the list: the API computes it.
    const accepted = await call('POST', '/api/deployments', { checks: [withoutList] });
    expect(accepted.status, JSON.stringify(accepted.json)).toBe(200);
    expect((await call('GET', '/api/checks/listed')).json.check.definition.secrets).toEqual(['API_TOKEN']);
    expect((await call('DELETE', '/api/checks/listed')).status).toBe(200);
  });

  const badBodies: Array<{ name: string; body: string; status: number; code: string }> = [
    { name: 'malformed JSON', body: '{"checks": [', status: 400, code: 'INVALID_JSON' },
    { name: 'an empty body', body: '', status: 400, code: 'INVALID_JSON' },
    { name: 'an array instead of an object', body: '[]', status: 400, code: 'INVALID_BODY' },
    { name: 'checks not an array, prune not a boolean, an unknown field', body: '{"checks": {}, "prune": "yes", "extra": 1}', status: 400, code: 'INVALID_BODY' },
  ];
  it.each(badBodies)('answers $name with $code', async ({ body, status, code }) => {
    const response = await call('POST', '/api/deployments', body);
    expect(response.status).toBe(status);
    expect(response.json.error.code).toBe(code);
  });

  it('lists every body problem at once', async () => {
    const response = await call('POST', '/api/deployments', { checks: 1, prune: 'yes', extra: true });
    expect(response.json.error.problems.map((p: any) => p.field)).toEqual(['checks', 'prune', 'extra']);
  });

  it('refuses a body over 5 MB with 413 and stays up', async () => {
    const big = JSON.stringify({ checks: [], padding: 'x'.repeat(MAX_BODY_BYTES) });
    const response = await call('POST', '/api/deployments', big);
    expect(response.status).toBe(413);
    expect(response.json.error.code).toBe('BODY_TOO_LARGE');
    // Without a content-length (chunked), the limit holds too.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${coordinator.url}/api/deployments`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (c) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      const chunk = 'x'.repeat(1024 * 1024);
      for (let i = 0; i < 6; i++) req.write(chunk);
      req.end();
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).error.code).toBe('BODY_TOO_LARGE');
    expect((await call('GET', '/healthz')).status).toBe(200);
  });

  it('answers unknown routes, wrong methods and bad ids with JSON errors', async () => {
    const cases: Array<[method: string, path: string, status: number, code: string]> = [
      ['GET', '/api/nope', 404, 'NOT_FOUND'],
      ['PUT', '/api/checks', 405, 'METHOD_NOT_ALLOWED'],
      ['GET', '/api/checks/missing', 404, 'CHECK_NOT_FOUND'],
      ['DELETE', '/api/checks/missing', 404, 'CHECK_NOT_FOUND'],
      ['GET', '/api/checks/NOT%20VALID', 400, 'INVALID_CHECK_ID'],
      ['GET', '/api/checks/%E0%A4%A', 400, 'INVALID_CHECK_ID'],
      ['GET', '/api/incidents?state=closed', 400, 'INVALID_QUERY'],
    ];
    for (const [method, path, status, code] of cases) {
      const response = await call(method, path);
      expect({ path, status: response.status, code: response.json?.error?.code }).toEqual({ path, status, code });
    }
  });

  it('refuses ids with path characters on every id route, with a short message, and stays up', async () => {
    const long = 'a'.repeat(5_000);
    const cases: Array<[method: string, path: string, status: number, code: string]> = [
      ['GET', '/api/checks/..%2F..%2Fetc', 400, 'INVALID_CHECK_ID'],
      ['DELETE', '/api/checks/..%2Fx', 400, 'INVALID_CHECK_ID'],
      ['GET', `/api/checks/${long}`, 400, 'INVALID_CHECK_ID'],
      ['GET', `/api/checks/${long}/slo`, 400, 'INVALID_CHECK_ID'],
      ['GET', '/api/checks/..%2Fx/slo', 400, 'INVALID_CHECK_ID'],
      ['GET', '/api/maintenance/..%2Fx', 400, 'INVALID_MAINTENANCE_ID'],
      ['DELETE', `/api/maintenance/${long}`, 400, 'INVALID_MAINTENANCE_ID'],
      ['GET', '/api/artifacts/..%2Fx', 400, 'INVALID_RUN_ID'],
      ['GET', '/api/artifacts/us-east.run-1/..%2Fx', 400, 'INVALID_ARTIFACT_NAME'],
      ['POST', '/api/alerts/dead-letters/..%2Fx/retry', 404, 'DEAD_LETTER_NOT_FOUND'],
      ['POST', `/api/alerts/dead-letters/${long}/retry`, 400, 'INVALID_DELIVERY_ID'],
    ];
    for (const [method, path, status, code] of cases) {
      const response = await call(method, path);
      expect({ path: path.slice(0, 60), status: response.status, code: response.json?.error?.code }).toEqual({ path: path.slice(0, 60), status, code });
      expect(response.json.error.message.length).toBeLessThan(300);
    }
    expect((await call('GET', '/healthz')).status).toBe(200);
  });

  it('deploys, reports the plan, serves the read endpoints, and deletes', async () => {
    const deployed = await call('POST', '/api/deployments', { checks: [httpCheck('home'), httpCheck('login', { regions: ['us-east'] })] });
    expect(deployed.status).toBe(200);
    expect(deployed.json.summary).toMatchObject({ added: ['home', 'login'], changed: [], removed: [], unchanged: [] });
    expect(deployed.json.schedulers.upserted).toEqual(['home@eu-west', 'home@us-east', 'login@us-east']);

    await heartbeat(redis, prefix, 'agent-us', 'us-east', 60_000);
    const producer = resultsProducer(redis, prefix);
    await producer.add('r', runResult({ checkId: 'home', region: 'us-east', scheduledAt: Date.now() - 1_000 }));
    await producer.close();
    await waitUntil('home up in us-east', async () => (await call('GET', '/api/checks')).json.checks[0].regions[0].status === 'up');

    const list = (await call('GET', '/api/checks')).json;
    expect(list.checks.map((c: any) => c.id)).toEqual(['home', 'login']);
    expect(list.checks[0]).toMatchObject({
      id: 'home', name: 'Check home', type: 'http', version: 1, incident: null,
      regions: [
        { region: 'us-east', status: 'up', since: expect.any(Number), lastError: null, uptime: { '1h': 1, '24h': 1, '7d': 1, '30d': 1 } },
        { region: 'eu-west', status: 'no-data', lastError: null, uptime: { '1h': null, '24h': null, '7d': null, '30d': null } },
      ],
    });

    const detail = (await call('GET', '/api/checks/home')).json;
    expect(detail.check).toMatchObject({ version: 1, definition: { id: 'home', url: 'http://127.0.0.1:9/health' } });
    expect(detail.regions[0]).toMatchObject({
      region: 'us-east', verdict: { status: 'up' }, uptime: { '1h': 1 },
      latency: { window: '24h', samples: 1, p50: expect.any(Number), p95: expect.any(Number), p99: expect.any(Number) },
      recentRuns: [{ outcome: 'pass', agentId: 'agent-1', totalMs: 42, statusCode: 200 }],
    });

    expect((await call('GET', '/api/incidents')).json).toEqual({ state: 'open', open: [], resolved: [] });
    const agents = (await call('GET', '/api/agents')).json;
    expect(agents.regions).toEqual([{
      region: 'us-east', online: 1, offline: 0,
      // A fake heartbeat with no worker behind it answers no canary (test/e2e/canary.test.ts covers stalls).
      canary: expect.objectContaining({ lastAnswerAt: null, stalled: false }),
      agents: [expect.objectContaining({ agentId: 'agent-us', status: 'online', inFlight: 1, version: '0.1.0-test', lastSeenAt: expect.any(Number) })],
    }]);

    // An unchanged redeployment with prune removes what is absent.
    const pruned = await call('POST', '/api/deployments', { checks: [httpCheck('home')], prune: true });
    expect(pruned.json.summary).toMatchObject({ unchanged: ['home'], removed: ['login'] });
    expect(pruned.json.schedulers.removed).toEqual(['login@us-east']);

    const removed = await call('DELETE', '/api/checks/home');
    expect(removed.status).toBe(200);
    expect(removed.json.removed).toBe('home');
    expect((await call('GET', '/api/checks')).json.checks).toEqual([]);
  });

  it('serves health, readiness, metrics and the dashboard', async () => {
    expect((await call('GET', '/healthz')).json).toEqual({ status: 'ok' });
    const ready = await call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({
      ready: true, checks: { redis: true, ingestWorker: true, stopping: false }, down: [],
      dependencies: {
        redis: { up: true, detail: expect.stringMatching(/^primary at 127\.0\.0\.1:\d+ \(redis:\/\/127\.0\.0\.1:\d+\)$/) },
        ingest: { up: true, detail: expect.stringMatching(/^consuming results of \d+ region\(s\)$/) },
      },
    });
    const metrics = await call('GET', '/metrics');
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    for (const name of ['lookout_results_ingested_total', 'lookout_results_duplicate_total', 'lookout_results_invalid_total', 'lookout_verdict_changes_total',
      'lookout_open_incidents', 'lookout_ingest_duration_seconds', 'lookout_scheduler_reconciles_total', 'lookout_dependency_up', 'lookout_monitoring_degraded']) {
      expect(metrics.json).toContain(`# TYPE ${name}`);
    }
    expect(metrics.json).toContain('lookout_dependency_up{dependency="redis"} 1');
    const page = await fetch(`${coordinator.url}/`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('/api/checks');
    expect(html).toContain('/api/incidents');
  });

  it('serves browser run artifacts stored by agents', async () => {
    const data = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]);
    await redis.multi()
      .hset(artifactKey(prefix, 'us-east', 'us-east.run-1', 'screenshot.png'), { data, contentType: 'image/png', bytes: String(data.byteLength), createdAt: String(Date.now()) })
      .sadd(artifactIndexKey(prefix, 'us-east', 'us-east.run-1'), 'screenshot.png')
      .exec();
    const list = await call('GET', '/api/artifacts/us-east.run-1');
    expect(list.json).toEqual({ runId: 'us-east.run-1', artifacts: [{ name: 'screenshot.png', bytes: 6, contentType: 'image/png', createdAt: expect.any(Number) }] });
    const file = await fetch(`${coordinator.url}/api/artifacts/us-east.run-1/screenshot.png`);
    expect(file.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await file.arrayBuffer())).toEqual(data);
    expect((await call('GET', '/api/artifacts/us-east.run-1/missing.png')).json.error.code).toBe('ARTIFACT_NOT_FOUND');
  });
});
