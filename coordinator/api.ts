/**
 * The HTTP API, dashboard and operational endpoints, on `node:http`. Every response is JSON (but `/`,
 * the dashboard, and `/metrics`); every error is `{ error: { code, message, ... } }` with a stable code;
 * nothing a client sends can crash the server.
 *
 * GET    /api/checks                 checks with per-region verdict and uptime (1h, 24h, 7d, 30d)
 * GET    /api/checks/:id             definition, version, per-region verdicts, uptime, latency, recent runs
 * DELETE /api/checks/:id             removes one check
 * GET    /api/incidents?state=open|all
 * GET    /api/agents                 agents grouped by region
 * POST   /api/deployments            { checks: CheckDefinition[], prune?: boolean }
 * GET    /api/artifacts/:runId[/:name] browser run artifacts (artifacts.ts)
 * GET    /healthz, /readyz, /metrics, /
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import { CheckId, agentIndexKey, heartbeatKey, type StoredCheck } from '../checks/contract.ts';
import { parseHeartbeat, parseStoredAgent } from './agent-state.ts';
import { createArtifactReader, getArtifactHandler, listArtifactsHandler } from './artifacts.ts';
import { alignRegions, emptyCheckState, type CheckState } from './check-state.ts';
import { DASHBOARD_HTML } from './dashboard.ts';
import { CoordinatorError } from './errors.ts';
import { HttpError, readJsonBody, sendError, sendJson } from './http.ts';
import { agentStateKey, recentRunsKey } from './keys.ts';
import type { Logger } from './log.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { Registry } from './registry.ts';
import type { RecentRun } from './rollups.ts';
import { pairKey, readStats, type PairStats } from './stats.ts';
import type { CheckStateStore } from './state-store.ts';

/** Recent runs returned per region by `GET /api/checks/:id`. */
export const RECENT_RUNS_SHOWN = 20;

export interface ApiDeps {
  redis: Redis;
  prefix: string;
  registry: Registry;
  store: CheckStateStore;
  metrics: CoordinatorMetrics;
  logger: Logger;
  /** Called after checks were deployed or removed; resolves with what the scheduler did. */
  afterRegistryChange: (removedCheckIds: string[]) => Promise<unknown>;
  /** Whether this coordinator can do its work (Redis reachable, workers running), and why not. */
  readiness: () => Promise<{ ready: boolean; checks: Record<string, boolean> }>;
  now?: () => number;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], url: URL) => Promise<void>;

interface Route { pattern: RegExp; methods: Partial<Record<string, Handler>> }

export function createApiHandler(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const now = deps.now ?? Date.now;
  const artifacts = createArtifactReader(deps.redis, { prefix: deps.prefix });
  const routes: Route[] = [
    { pattern: /^\/$/, methods: { GET: async (_req, res) => sendHtml(res, DASHBOARD_HTML) } },
    { pattern: /^\/healthz$/, methods: { GET: async (_req, res) => sendJson(res, 200, { status: 'ok' }) } },
    { pattern: /^\/readyz$/, methods: { GET: async (_req, res) => {
      const readiness = await deps.readiness();
      sendJson(res, readiness.ready ? 200 : 503, readiness);
    } } },
    { pattern: /^\/metrics$/, methods: { GET: async (_req, res) => {
      const text = await deps.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
      res.end(text);
    } } },
    { pattern: /^\/api\/checks$/, methods: { GET: async (_req, res) => sendJson(res, 200, await listChecks(deps, now())) } },
    { pattern: /^\/api\/checks\/([^/]+)$/, methods: {
      GET: async (_req, res, [rawId]) => sendJson(res, 200, await checkDetail(deps, checkIdParam(rawId!), now())),
      DELETE: async (_req, res, [rawId]) => {
        const id = checkIdParam(rawId!);
        if (!(await deps.registry.removeCheck(id))) throw notFound(id);
        const schedulers = await deps.afterRegistryChange([id]);
        sendJson(res, 200, { removed: id, schedulers });
      },
    } },
    { pattern: /^\/api\/incidents$/, methods: { GET: async (_req, res, _p, url) => sendJson(res, 200, await listIncidents(deps, url)) } },
    { pattern: /^\/api\/agents$/, methods: { GET: async (_req, res) => sendJson(res, 200, await listAgents(deps)) } },
    { pattern: /^\/api\/deployments$/, methods: { POST: async (req, res) => sendJson(res, 200, await deploy(deps, await readJsonBody(req))) } },
    { pattern: /^\/api\/artifacts\/([^/]+)$/, methods: { GET: listArtifactsHandler(artifacts) } },
    { pattern: /^\/api\/artifacts\/([^/]+)\/([^/]+)$/, methods: { GET: getArtifactHandler(artifacts) } },
  ];

  return (req, res) => {
    // With Redis away, API calls answer 503 at once instead of waiting through reconnection attempts.
    const needsRedis = req.url?.startsWith('/api/') ?? false;
    let handled: Promise<void>;
    if (needsRedis && deps.redis.status !== 'ready') {
      req.resume();
      handled = Promise.reject(new HttpError(503, 'REDIS_UNAVAILABLE', 'Redis is not reachable right now; retry shortly'));
    } else handled = route(routes, req, res);
    void handled.catch((error: unknown) => {
      if (error instanceof HttpError) {
        sendError(res, error, error.status === 413 ? { connection: 'close' } : {});
        return;
      }
      const unavailable = unavailableError(error);
      if (unavailable) deps.logger.warn('api.unavailable', { method: req.method, path: req.url, error });
      else deps.logger.error('api.error', { method: req.method, path: req.url, error });
      sendError(res, unavailable ?? new HttpError(500, 'INTERNAL', 'internal error; see the coordinator log'));
    });
  };
}

/** Redis being away is a 503 the client can retry, not a 500. */
function unavailableError(error: unknown): HttpError | null {
  if (error instanceof CoordinatorError && (error.code === 'REDIS_UNAVAILABLE' || error.code === 'COORDINATOR_STOPPED')) {
    return new HttpError(503, error.code, error.message);
  }
  const name = (error as { name?: unknown } | null)?.name;
  const message = (error as { message?: unknown } | null)?.message;
  if (name === 'MaxRetriesPerRequestError' || (typeof message === 'string' && /Connection is closed|ECONNREFUSED|Stream isn't writeable/.test(message))) {
    return new HttpError(503, 'REDIS_UNAVAILABLE', 'Redis is not reachable right now; retry shortly');
  }
  return null;
}

async function route(routes: Route[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    throw new HttpError(400, 'INVALID_URL', 'the request URL cannot be parsed');
  }
  for (const { pattern, methods } of routes) {
    const match = pattern.exec(url.pathname);
    if (!match) continue;
    const handler = methods[req.method ?? 'GET'] ?? (req.method === 'HEAD' ? methods.GET : undefined);
    if (!handler) {
      req.resume();
      const allow = Object.keys(methods).join(', ');
      sendError(res, new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}; use ${allow}`), { allow });
      return;
    }
    await handler(req, res, match.slice(1), url);
    return;
  }
  req.resume();
  throw new HttpError(404, 'NOT_FOUND', `no route for ${req.method} ${url.pathname}`);
}

function sendHtml(res: ServerResponse, html: string): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

function checkIdParam(raw: string): string {
  let id: string;
  try { id = decodeURIComponent(raw); } catch { throw new HttpError(400, 'INVALID_CHECK_ID', 'check id is not valid URL encoding'); }
  const parsed = CheckId.safeParse(id);
  if (!parsed.success) throw new HttpError(400, 'INVALID_CHECK_ID', `invalid check id ${JSON.stringify(id)}: ${parsed.error.issues[0]?.message}`);
  return id;
}

const notFound = (id: string): HttpError => new HttpError(404, 'CHECK_NOT_FOUND', `no check with id "${id}"`);

/** The state to show: stored, with the check's regions aligned (a region never reported is `no-data`). */
function shownState(check: StoredCheck, state: CheckState | undefined): CheckState {
  return alignRegions(state ?? emptyCheckState(check), check);
}

function incidentSummary(state: CheckState) {
  const i = state.incident;
  return i ? { id: i.id, scope: i.scope, failingRegions: i.failingRegions, openedAt: i.openedAt, firstFailureAt: i.firstFailureAt } : null;
}

async function listChecks(deps: ApiDeps, now: number) {
  const checks = await deps.registry.listChecks();
  const states = await deps.store.readMany(checks.map((c) => c.definition.id));
  const pairs = checks.flatMap((c) => c.definition.regions.map((region) => ({ checkId: c.definition.id, region })));
  const stats = await readStats(deps.redis, deps.prefix, pairs, now);
  return {
    generatedAt: now,
    checks: checks.map((check) => {
      const d = check.definition;
      const state = shownState(check, states.get(d.id));
      return {
        id: d.id, name: d.name, type: d.type, target: d.type === 'http' ? d.url : d.script.file, version: check.version, updatedAt: check.updatedAt,
        frequencyMs: d.frequencyMs, tags: d.tags,
        regions: d.regions.map((region) => {
          const verdict = state.verdicts[region]!;
          return {
            region, status: verdict.status, since: verdict.since, lastResultAt: verdict.lastResultAt,
            lastError: verdict.lastFailure, uptime: stats.get(pairKey({ checkId: d.id, region }))?.uptime ?? null,
          };
        }),
        incident: incidentSummary(state),
      };
    }),
  };
}

async function checkDetail(deps: ApiDeps, id: string, now: number) {
  const check = await deps.registry.getCheck(id);
  if (!check) throw notFound(id);
  const regions = check.definition.regions;
  const [states, stats, runs] = await Promise.all([
    deps.store.readMany([id]),
    readStats(deps.redis, deps.prefix, regions.map((region) => ({ checkId: id, region })), now),
    Promise.all(regions.map((region) => deps.redis.lrange(recentRunsKey(deps.prefix, id, region), 0, RECENT_RUNS_SHOWN - 1))),
  ]);
  const state = shownState(check, states.get(id));
  return {
    generatedAt: now,
    check: { definition: check.definition, version: check.version, updatedAt: check.updatedAt },
    regions: regions.map((region, i) => {
      const s: PairStats | undefined = stats.get(pairKey({ checkId: id, region }));
      return {
        region,
        verdict: state.verdicts[region],
        uptime: s?.uptime ?? null,
        latency: s?.latency ?? null,
        counts24h: s?.counts24h ?? null,
        // Newest slot first: concurrent ingest may have pushed neighbours in a different order.
        recentRuns: runs[i]!.flatMap((raw) => { try { return [JSON.parse(raw) as RecentRun]; } catch { return []; } })
          .sort((a, b) => b.scheduledAt - a.scheduledAt),
      };
    }),
    incident: state.incident,
  };
}

async function listIncidents(deps: ApiDeps, url: URL) {
  const state = url.searchParams.get('state') ?? 'open';
  if (state !== 'open' && state !== 'all') throw new HttpError(400, 'INVALID_QUERY', `state must be "open" or "all", got ${JSON.stringify(state)}`);
  const [open, resolved] = await Promise.all([deps.store.openIncidents(), state === 'all' ? deps.store.resolvedIncidents() : []]);
  return { state, open, resolved };
}

async function listAgents(deps: ApiDeps) {
  const ids = (await deps.redis.smembers(agentIndexKey(deps.prefix))).sort();
  const pipeline = deps.redis.pipeline();
  for (const id of ids) pipeline.get(heartbeatKey(deps.prefix, id)).get(agentStateKey(deps.prefix, id));
  const replies = ids.length > 0 ? (await pipeline.exec()) ?? [] : [];
  const byRegion = new Map<string, unknown[]>();
  ids.forEach((agentId, i) => {
    const heartbeat = parseHeartbeat((replies[2 * i]?.[1] as string | null) ?? null);
    const stored = parseStoredAgent((replies[2 * i + 1]?.[1] as string | null) ?? null);
    const known = heartbeat ?? stored?.heartbeat ?? null;
    const region = heartbeat?.region ?? stored?.region ?? 'unknown';
    const list = byRegion.get(region) ?? [];
    list.push({
      agentId, region, status: heartbeat ? 'online' : 'offline',
      lastSeenAt: heartbeat?.sentAt ?? stored?.lastSeenAt ?? null,
      version: known?.version ?? null, hostname: known?.hostname ?? null, pid: known?.pid ?? null,
      inFlight: heartbeat ? heartbeat.inFlight : 0, concurrency: known?.concurrency ?? null,
      capabilities: known?.capabilities ?? [], startedAt: known?.startedAt ?? null,
    });
    byRegion.set(region, list);
  });
  return {
    regions: [...byRegion.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([region, agents]) => ({
      region,
      online: agents.filter((a) => (a as { status: string }).status === 'online').length,
      offline: agents.filter((a) => (a as { status: string }).status === 'offline').length,
      agents,
    })),
  };
}

async function deploy(deps: ApiDeps, body: unknown) {
  const problems: Array<{ field: string; message: string }> = [];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(400, 'INVALID_BODY', 'expected a JSON object { checks: CheckDefinition[], prune?: boolean }');
  }
  const { checks, prune, ...rest } = body as { checks?: unknown; prune?: unknown };
  if (!Array.isArray(checks)) problems.push({ field: 'checks', message: 'must be an array of check definitions' });
  if (prune !== undefined && typeof prune !== 'boolean') problems.push({ field: 'prune', message: 'must be a boolean' });
  for (const key of Object.keys(rest)) problems.push({ field: key, message: 'unknown field' });
  if (problems.length > 0) throw new HttpError(400, 'INVALID_BODY', 'the deployment body is invalid', { problems });

  const result = await deps.registry.applyDeployment(checks as unknown[], { prune: prune === true });
  if ('problems' in result) {
    throw new HttpError(400, 'INVALID_DEFINITIONS', `${result.problems.length} problem(s) in the check definitions; nothing was deployed`, { problems: result.problems });
  }
  const schedulers = await deps.afterRegistryChange(result.summary.removed);
  return { summary: result.summary, schedulers };
}
