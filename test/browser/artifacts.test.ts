/**
 * Artifacts between agents and coordinators, through a real Redis: the agent's sink and its bounds, the
 * coordinator's reader and its limits, and the HTTP handlers on a real server.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactIndexKey, artifactKey } from '../../checks/keys.ts';
import { createRedisArtifactSink } from '../../agent/artifacts/store.ts';
import type { Artifact } from '../../agent/artifacts/sink.ts';
import { createArtifactReader, getArtifactHandler, listArtifactsHandler, type ArtifactReader } from '../../coordinator/http/artifacts.ts';
import { HttpError, sendError } from '../../coordinator/http/json.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';

let redisServer: TestRedis;
let redis: Redis;
beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  redis?.disconnect();
  await redisServer?.stop();
});

const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(100, 7)]);
const artifacts = (): Artifact[] => [
  { name: 'screenshot.png', contentType: 'image/png', data: png },
  { name: 'trace.zip', contentType: 'application/zip', data: Buffer.alloc(300, 1) },
];
const owner = (runId: string, checkId = 'journey') => ({ runId, checkId, region: 'eu-west' });

describe('agent artifact sink (Redis)', () => {
  it('stores each artifact as a hash with an expiry, and an index of the run', async () => {
    const prefix = uniquePrefix('art');
    const sink = createRedisArtifactSink(redis, { prefix, ttlSeconds: 600 });
    const result = await sink.store(owner('eu-west.run-1'), artifacts());
    expect(result).toEqual({
      stored: [
        { name: 'screenshot.png', key: artifactKey(prefix, 'eu-west', 'eu-west.run-1', 'screenshot.png'), bytes: png.byteLength, contentType: 'image/png' },
        { name: 'trace.zip', key: artifactKey(prefix, 'eu-west', 'eu-west.run-1', 'trace.zip'), bytes: 300, contentType: 'application/zip' },
      ],
      notes: [],
    });
    expect((await redis.hgetBuffer(artifactKey(prefix, 'eu-west', 'eu-west.run-1', 'screenshot.png'), 'data'))!.equals(png)).toBe(true);
    const ttl = await redis.ttl(artifactKey(prefix, 'eu-west', 'eu-west.run-1', 'trace.zip'));
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
    expect((await redis.smembers(artifactIndexKey(prefix, 'eu-west', 'eu-west.run-1'))).sort()).toEqual(['screenshot.png', 'trace.zip']);
  });

  it('stores nothing for a run id of another region: an agent writes only its own region\'s artifacts', async () => {
    const prefix = uniquePrefix('art');
    const sink = createRedisArtifactSink(redis, { prefix });
    const result = await sink.store(owner('us-east.run-x'), artifacts());
    expect(result).toEqual({ stored: [], notes: ['artifacts not stored: run id us-east.run-x is not of region eu-west'] });
    expect(await redis.exists(artifactKey(prefix, 'us-east', 'us-east.run-x', 'trace.zip'))).toBe(0);
  });

  it('skips an artifact over the cap, with a note, and stores the rest', async () => {
    const prefix = uniquePrefix('art');
    const sink = createRedisArtifactSink(redis, { prefix, maxArtifactBytes: 200 });
    const result = await sink.store(owner('eu-west.run-2'), artifacts());
    expect(result.stored.map((a) => a.name)).toEqual(['screenshot.png']);
    expect(result.notes).toEqual(['trace.zip not stored: 300 bytes is over the 200-byte cap']);
    expect(await redis.exists(artifactKey(prefix, 'eu-west', 'eu-west.run-2', 'trace.zip'))).toBe(0);
  });

  it('stores one run\'s artifacts per check and region per interval', async () => {
    const prefix = uniquePrefix('art');
    const sink = createRedisArtifactSink(redis, { prefix, minIntervalSeconds: 60 });
    expect((await sink.store(owner('eu-west.run-a'), artifacts())).stored).toHaveLength(2);
    const again = await sink.store(owner('eu-west.run-b'), artifacts());
    expect(again).toEqual({ stored: [], notes: ['artifacts not stored: this check stored some in eu-west less than 60s ago'] });
    expect((await sink.store(owner('eu-west.run-c', 'other-check'), artifacts())).stored).toHaveLength(2);
  });

  it('stops storing when the hourly byte budget is spent, without counting what it refused', async () => {
    const prefix = uniquePrefix('art');
    const sink = createRedisArtifactSink(redis, { prefix, minIntervalSeconds: 0, maxBytesPerHour: 700 });
    expect((await sink.store(owner('eu-west.run-1'), artifacts())).stored).toHaveLength(2); // 408 bytes
    const refused = await sink.store(owner('eu-west.run-2'), artifacts());
    expect(refused.stored).toEqual([]);
    expect(refused.notes).toEqual(['artifacts not stored: the hourly artifact budget of 700 bytes is spent']);
    expect((await sink.store(owner('eu-west.run-3'), [{ name: 'small.txt', contentType: 'text/plain', data: Buffer.from('hi') }])).stored).toHaveLength(1);
  });

  it('reports, rather than throws, when Redis does not answer in time', async () => {
    const offline = new Redis({ port: 1, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: null, retryStrategy: () => 50 });
    offline.on('error', () => {});
    try {
      const sink = createRedisArtifactSink(offline, { prefix: uniquePrefix('art'), timeoutMs: 300 });
      const started = Date.now();
      const result = await sink.store(owner('eu-west.run-x'), artifacts());
      expect(result).toEqual({ stored: [], notes: ['artifacts not stored: timed out after 300ms'] });
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      offline.disconnect();
    }
  });
});

describe('coordinator artifact reader', () => {
  it('lists and reads what an agent stored', async () => {
    const prefix = uniquePrefix('art');
    await createRedisArtifactSink(redis, { prefix }).store(owner('eu-west.run-1'), artifacts());
    const reader = createArtifactReader(redis, { prefix });
    expect((await reader.list('eu-west.run-1')).map(({ name, bytes, contentType }) => ({ name, bytes, contentType }))).toEqual([
      { name: 'screenshot.png', bytes: png.byteLength, contentType: 'image/png' },
      { name: 'trace.zip', bytes: 300, contentType: 'application/zip' },
    ]);
    const read = await reader.read('eu-west.run-1', 'screenshot.png');
    expect(read.data.equals(png)).toBe(true);
    expect(await reader.list('eu-west.no-such-run')).toEqual([]);
  });

  it.each<[string, (prefix: string) => ArtifactReader, string, string, number, string]>([
    ['a missing artifact', (p) => createArtifactReader(redis, { prefix: p }), 'eu-west.run-1', 'nope.png', 404, 'ARTIFACT_NOT_FOUND'],
    ['an artifact past the age limit', (p) => createArtifactReader(redis, { prefix: p, maxAgeMs: 60_000, now: () => Date.now() + 120_000 }), 'eu-west.run-1', 'trace.zip', 410, 'ARTIFACT_EXPIRED'],
    ['an artifact over the size limit', (p) => createArtifactReader(redis, { prefix: p, maxBytes: 200 }), 'eu-west.run-1', 'trace.zip', 413, 'ARTIFACT_TOO_LARGE'],
    ['an artifact beyond the in-flight budget', (p) => createArtifactReader(redis, { prefix: p, inFlightBudgetBytes: 100 }), 'eu-west.run-1', 'trace.zip', 503, 'ARTIFACT_BUDGET_SPENT'],
    ['a bad run id', (p) => createArtifactReader(redis, { prefix: p }), 'run 1', 'trace.zip', 400, 'INVALID_RUN_ID'],
    ['a bad name', (p) => createArtifactReader(redis, { prefix: p }), 'eu-west.run-1', '../etc/passwd', 400, 'INVALID_ARTIFACT_NAME'],
  ])('refuses %s with %i %s', async (_name, makeReader, runId, name, status, code) => {
    const prefix = uniquePrefix('art');
    await createRedisArtifactSink(redis, { prefix }).store(owner('eu-west.run-1'), artifacts());
    const error = await makeReader(prefix).read(runId, name).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status, code });
  });

  it('serves over HTTP: the bytes with their type, the list as JSON, errors with stable codes', async () => {
    const prefix = uniquePrefix('art');
    await createRedisArtifactSink(redis, { prefix }).store(owner('eu-west.run-7'), artifacts());
    const reader = createArtifactReader(redis, { prefix });
    const list = listArtifactsHandler(reader);
    const get = getArtifactHandler(reader);
    const server: Server = createServer((req, res) => {
      const path = new URL(req.url!, 'http://x').pathname;
      const one = /^\/api\/artifacts\/([^/]+)\/([^/]+)$/.exec(path);
      const all = /^\/api\/artifacts\/([^/]+)$/.exec(path);
      const handled = one ? get(req, res, one.slice(1)) : all ? list(req, res, all.slice(1)) : Promise.reject(new HttpError(404, 'NOT_FOUND', 'no route'));
      handled.catch((e: unknown) => sendError(res, e as HttpError));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/artifacts`;
    try {
      const shot = await fetch(`${base}/eu-west.run-7/screenshot.png`);
      expect(shot.status).toBe(200);
      expect(shot.headers.get('content-type')).toBe('image/png');
      expect(shot.headers.get('content-disposition')).toBe('attachment; filename="screenshot.png"');
      expect(Buffer.from(await shot.arrayBuffer()).equals(png)).toBe(true);
      const listed = await (await fetch(`${base}/eu-west.run-7`)).json() as { artifacts: Array<{ name: string }> };
      expect(listed.artifacts.map((a) => a.name)).toEqual(['screenshot.png', 'trace.zip']);
      const missing = await fetch(`${base}/eu-west.run-7/network.har`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ error: { code: 'ARTIFACT_NOT_FOUND' } });
      expect((await fetch(`${base}/eu-west.run-7/%E0%A4%A`)).status).toBe(400);
    } finally {
      server.close();
    }
  });
});
