/**
 * Serves browser runs' artifacts (screenshot, trace, HAR) that agents stored in Redis
 * (`artifactKey`, see agent/artifacts/store.ts). Reads are bounded: an artifact over the size cap or older than
 * the age limit is refused, and the bytes being served at once stay under a total budget, so a burst of
 * downloads cannot grow the coordinator's memory without bound.
 *
 * Routes (wired in api.ts):
 *   GET /api/artifacts/:runId         → `{ runId, artifacts: [{ name, bytes, contentType, createdAt }] }`
 *   GET /api/artifacts/:runId/:name   → the artifact's bytes with its content type
 *
 * Both need the `artifacts:read` scope (or `admin`): a `read` token or `--public-read` is not enough,
 * since a journey's recordings show pages behind its login.
 */
import { artifacts, type Route } from './route.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import { artifactIndexKey, artifactKey, regionOfRunId } from '../../checks/keys.ts';
import { HttpError, sendJson } from './json.ts';

export interface ArtifactReaderOptions {
  prefix: string;
  /** Artifacts larger than this are not served. @defaultValue 16777216 (16 MiB) */
  maxBytes?: number;
  /** Artifacts older than this are not served (even if Redis still holds them). @defaultValue 604800000 (7 days) */
  maxAgeMs?: number;
  /** Bytes served at once, across requests; beyond it requests get 503 and retry. @defaultValue 67108864 (64 MiB) */
  inFlightBudgetBytes?: number;
  now?: () => number;
}

export interface ArtifactInfo {
  name: string;
  bytes: number;
  contentType: string;
  createdAt: number;
}

/** `<region>.<random>` (checks/keys.ts `regionOfRunId`): the region names where the artifacts are. */
const RUN_ID = /^[a-z0-9][a-z0-9-]{0,31}\.[A-Za-z0-9_-]{1,64}$/;
const regionOf = (runId: string): string => regionOfRunId(runId) ?? '';
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const MiB = 1024 * 1024;

export interface ArtifactReader {
  list(runId: string): Promise<ArtifactInfo[]>;
  /** The artifact, or an HttpError with a stable code (404, 410, 413, 503). */
  read(runId: string, name: string): Promise<ArtifactInfo & { data: Buffer }>;
}

export function createArtifactReader(redis: Redis, options: ArtifactReaderOptions): ArtifactReader {
  const maxBytes = options.maxBytes ?? 16 * MiB;
  const maxAgeMs = options.maxAgeMs ?? 7 * 24 * 3_600_000;
  const budget = options.inFlightBudgetBytes ?? 64 * MiB;
  const now = options.now ?? Date.now;
  let inFlight = 0;

  async function info(runId: string, name: string): Promise<ArtifactInfo | undefined> {
    const [contentType, bytes, createdAt] = await redis.hmget(artifactKey(options.prefix, regionOf(runId), runId, name), 'contentType', 'bytes', 'createdAt');
    if (contentType == null || bytes == null || createdAt == null) return undefined;
    const parsed = { name, contentType, bytes: Number(bytes), createdAt: Number(createdAt) };
    return Number.isFinite(parsed.bytes) && Number.isFinite(parsed.createdAt) ? parsed : undefined;
  }

  return {
    async list(runId) {
      validate(runId);
      const names = (await redis.smembers(artifactIndexKey(options.prefix, regionOf(runId), runId))).filter((n) => NAME.test(n)).sort();
      const found = await Promise.all(names.map((name) => info(runId, name)));
      return found.filter((a): a is ArtifactInfo => a !== undefined && now() - a.createdAt <= maxAgeMs);
    },
    async read(runId, name) {
      validate(runId, name);
      const meta = await info(runId, name);
      if (!meta) throw new HttpError(404, 'ARTIFACT_NOT_FOUND', `run ${runId} has no artifact "${name}" (it may have expired)`);
      if (now() - meta.createdAt > maxAgeMs) throw new HttpError(410, 'ARTIFACT_EXPIRED', `artifact "${name}" is older than ${maxAgeMs}ms`);
      if (meta.bytes > maxBytes) throw new HttpError(413, 'ARTIFACT_TOO_LARGE', `artifact "${name}" is ${meta.bytes} bytes; the limit is ${maxBytes}`);
      if (inFlight + meta.bytes > budget) throw new HttpError(503, 'ARTIFACT_BUDGET_SPENT', 'too many artifact bytes are being served right now; retry shortly');
      inFlight += meta.bytes;
      try {
        const data = await redis.hgetBuffer(artifactKey(options.prefix, regionOf(runId), runId, name), 'data');
        if (!data) throw new HttpError(404, 'ARTIFACT_NOT_FOUND', `run ${runId} has no artifact "${name}" (it may have expired)`);
        // The stored size is what the agent said; the data is what counts.
        if (data.byteLength > maxBytes) throw new HttpError(413, 'ARTIFACT_TOO_LARGE', `artifact "${name}" is ${data.byteLength} bytes; the limit is ${maxBytes}`);
        return { ...meta, bytes: data.byteLength, data };
      } finally {
        inFlight -= meta.bytes;
      }
    },
  };
}

function validate(runId: string, name?: string): void {
  if (!RUN_ID.test(runId)) throw new HttpError(400, 'INVALID_RUN_ID', `invalid run id ${JSON.stringify(runId.slice(0, 120))}`);
  if (name !== undefined && !NAME.test(name)) throw new HttpError(400, 'INVALID_ARTIFACT_NAME', `invalid artifact name ${JSON.stringify(name.slice(0, 80))}`);
}

function decode(raw: string): string {
  try { return decodeURIComponent(raw); } catch { throw new HttpError(400, 'INVALID_URL', 'path is not valid URL encoding'); }
}

/** `GET /api/artifacts/:runId`: the route's params are `[runId]`. */
export function listArtifactsHandler(reader: ArtifactReader) {
  return async (_req: IncomingMessage, res: ServerResponse, [rawRunId]: string[]): Promise<void> => {
    const runId = decode(rawRunId ?? '');
    sendJson(res, 200, { runId, artifacts: await reader.list(runId) });
  };
}

/** `GET /api/artifacts/:runId/:name`: the route's params are `[runId, name]`. */
export function getArtifactHandler(reader: ArtifactReader) {
  return async (req: IncomingMessage, res: ServerResponse, [rawRunId, rawName]: string[]): Promise<void> => {
    const artifact = await reader.read(decode(rawRunId ?? ''), decode(rawName ?? ''));
    res.writeHead(200, {
      'content-type': artifact.contentType.replace(/[^\x20-\x7e]/g, ''),
      'content-length': artifact.bytes,
      'content-disposition': `attachment; filename="${artifact.name}"`,
      'cache-control': 'private, max-age=3600',
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : artifact.data);
  };
}

/** `GET /api/artifacts/:runId[/:name]`: a browser run's artifacts (in the route table, routes.ts). */
export function artifactRoutes(deps: { redis: Redis; prefix: string }): Route[] {
  const reader = createArtifactReader(deps.redis, { prefix: deps.prefix });
  return [
    { pattern: /^\/api\/artifacts\/([^/]+)$/, methods: { GET: artifacts(listArtifactsHandler(reader)) } },
    { pattern: /^\/api\/artifacts\/([^/]+)\/([^/]+)$/, methods: { GET: artifacts(getArtifactHandler(reader)) } },
  ];
}
