/**
 * The HTTP API, dashboard and operational endpoints, on `node:http`. Every response is JSON (but `/`,
 * the dashboard, and `/metrics`); every error is `{ error: { code, message, ... } }` with a stable code;
 * nothing a client sends can crash the server. Each route says the access it needs (routes.ts: `open`,
 * `read`, `deploy`, `admin`), checked by auth.ts before the handler runs.
 *
 * GET    /api/checks                 checks with per-region verdict and uptime (1h, 24h, 7d, 30d)
 * GET    /api/checks/:id             definition, version, per-region verdicts, uptime, latency, recent runs
 * DELETE /api/checks/:id             removes one check
 * GET    /api/incidents?state=open|all
 * GET    /api/agents                 agents grouped by region, with each region's canary status
 * POST   /api/deployments            { checks: CheckDefinition[], prune?, expectedRevision?, force? } (deployment-api.ts)
 * POST   /api/deployments/plan       the same body: the plan (added, removed, changed by property), nothing applied
 * POST   /api/deployments/rollback   { dryRun? }: undo the newest deployment not yet rolled back
 * GET    /api/deployments            deployment history
 * GET    /api/artifacts/:runId[/:name] browser run artifacts (artifacts.ts)
 * GET    /api/checks/:id/slo         SLIs, error budgets, burn rates, firing burn-rate alerts (slo-api.ts)
 * GET, POST /api/maintenance, GET, DELETE /api/maintenance/:id   maintenance windows (maintenance-api.ts)
 * GET    /api/alerts/dead-letters, POST /api/alerts/dead-letters/:id/retry (alerts-api.ts)
 * GET    /healthz, /readyz, /metrics, /
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import { agentIndexKey, heartbeatKey, type StoredCheck } from '../../checks/contract.ts';
import { parseHeartbeat, parseStoredAgent } from '../liveness/agents.ts';
import { alertsApiRoutes } from '../alerting/api.ts';
import { createArtifactReader, getArtifactHandler, listArtifactsHandler } from './artifacts.ts';
import { readCanaryStatus } from '../liveness/canary-store.ts';
import type { Principal, RouteAccess } from './auth.ts';
import { alignRegions, emptyCheckState, type CheckState } from '../detection/check-state.ts';
import { DASHBOARD_HTML } from './dashboard.ts';
import { actorOf, deploymentHandlers } from '../registry/api.ts';
import { CoordinatorError } from '../platform/errors.ts';
import { HttpError, checkIdParam, sendError, sendJson } from './json.ts';
import { agentStateKey, recentRunsKey } from '../platform/keys.ts';
import type { Logger } from '../platform/log.ts';
import type { CoordinatorMetrics } from '../platform/metrics.ts';
import type { Registry } from '../registry/store.ts';
import type { RecentRun } from '../results/rollups.ts';
import { deploy, endpointOf, open, read, withAccess, type Route } from './route.ts';
import { checkMaintenance } from '../maintenance/maintenance.ts';
import { maintenanceApiRoutes } from '../maintenance/api.ts';
import { sloApiRoutes } from '../slo/api.ts';
import { pairKey, readStats, type PairStats } from '../results/stats.ts';
import type { CheckStateStore } from '../detection/store.ts';

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
  /**
   * Decides who may call a route (auth.ts `createAuthorizer`): resolves the caller or throws a 401/403.
   * @defaultValue everyone may call everything (auth off)
   */
  authorize?: (req: IncomingMessage, access: RouteAccess) => Promise<Principal>;
  now?: () => number;
}

const AUTH_OFF = async (): Promise<Principal> => ({ tokenId: null, name: 'anonymous (auth off)', scopes: ['admin'] });

export function createApiHandler(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const now = deps.now ?? Date.now;
  const artifacts = createArtifactReader(deps.redis, { prefix: deps.prefix });
  const deployments = deploymentHandlers(deps);
  const authorize = deps.authorize ?? AUTH_OFF;
  const routes: Route[] = [
    // The page holds no data: it fetches the API itself (with a token from the URL fragment, #token=…).
    { pattern: /^\/$/, methods: { GET: open(async (_req, res) => sendHtml(res, DASHBOARD_HTML)) } },
    { pattern: /^\/healthz$/, methods: { GET: open(async (_req, res) => sendJson(res, 200, { status: 'ok' })) } },
    { pattern: /^\/readyz$/, methods: { GET: open(async (_req, res) => {
      const readiness = await deps.readiness();
      sendJson(res, readiness.ready ? 200 : 503, readiness);
    }) } },
    { pattern: /^\/metrics$/, methods: { GET: read(async (_req, res) => {
      const text = await deps.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
      res.end(text);
    }) } },
    { pattern: /^\/api\/checks$/, methods: { GET: read(async (_req, res) => sendJson(res, 200, await listChecks(deps, now()))) } },
    { pattern: /^\/api\/checks\/([^/]+)$/, methods: {
      GET: read(async (_req, res, [rawId]) => sendJson(res, 200, await checkDetail(deps, checkIdParam(rawId!), now()))),
      DELETE: deploy(async (req, res, [rawId], _url, { principal }) => {
        req.resume();
        const id = checkIdParam(rawId!);
        if (!(await deps.registry.removeCheck(id, actorOf(principal)))) throw notFound(id);
        const schedulers = await deps.afterRegistryChange([id]);
        sendJson(res, 200, { removed: id, schedulers });
      }),
    } },
    { pattern: /^\/api\/incidents$/, methods: { GET: read(async (_req, res, _p, url) => sendJson(res, 200, await listIncidents(deps, url))) } },
    { pattern: /^\/api\/agents$/, methods: { GET: read(async (_req, res) => sendJson(res, 200, await listAgents(deps))) } },
    { pattern: /^\/api\/deployments$/, methods: { GET: read(deployments.history), POST: deploy(deployments.apply) } },
    { pattern: /^\/api\/deployments\/plan$/, methods: { POST: deploy(deployments.plan) } },
    { pattern: /^\/api\/deployments\/rollback$/, methods: { POST: deploy(deployments.rollback) } },
    { pattern: /^\/api\/artifacts\/([^/]+)$/, methods: { GET: read(listArtifactsHandler(artifacts)) } },
    { pattern: /^\/api\/artifacts\/([^/]+)\/([^/]+)$/, methods: { GET: read(getArtifactHandler(artifacts)) } },
    ...withAccess(alertsApiRoutes(deps), { GET: 'read', POST: 'admin' }),
    ...withAccess(sloApiRoutes(deps), { GET: 'read' }),
    ...withAccess(maintenanceApiRoutes(deps), { GET: 'read', POST: 'deploy', DELETE: 'deploy' }),
  ];

  return (req, res) => {
    // With Redis away, API calls answer 503 at once instead of waiting through reconnection attempts.
    const needsRedis = req.url?.startsWith('/api/') ?? false;
    let handled: Promise<void>;
    if (needsRedis && deps.redis.status !== 'ready') {
      req.resume();
      handled = Promise.reject(new HttpError(503, 'REDIS_UNAVAILABLE', 'Redis is not reachable right now; retry shortly'));
    } else handled = route(routes, req, res, authorize);
    void handled.catch((error: unknown) => {
      if (error instanceof HttpError) {
        sendError(res, error, error.status === 413 ? { connection: 'close' } : error.status === 401 ? { 'www-authenticate': 'Bearer realm="lookout"' } : {});
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

async function route(routes: Route[], req: IncomingMessage, res: ServerResponse, authorize: NonNullable<ApiDeps['authorize']>): Promise<void> {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    throw new HttpError(400, 'INVALID_URL', 'the request URL cannot be parsed');
  }
  for (const { pattern, methods } of routes) {
    const match = pattern.exec(url.pathname);
    if (!match) continue;
    const method = req.method ?? 'GET';
    const entry = methods[method] ?? (method === 'HEAD' ? methods.GET : undefined);
    if (!entry) {
      req.resume();
      const allow = Object.keys(methods).join(', ');
      sendError(res, new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}; use ${allow}`), { allow });
      return;
    }
    const endpoint = endpointOf(method, entry);
    let principal: Principal;
    try {
      principal = await authorize(req, endpoint.access);
    } catch (error) {
      req.resume(); // a refused request's body is drained, so the client gets the answer
      throw error;
    }
    await endpoint.handle(req, res, match.slice(1), url, { principal });
    return;
  }
  req.resume();
  throw new HttpError(404, 'NOT_FOUND', `no route for ${req.method} ${url.pathname}`);
}

function sendHtml(res: ServerResponse, html: string): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
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
  const maintenanceWindows = await deps.store.maintenance.list();
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
            flappingSince: state.flapping?.[region]?.flappingSince ?? null,
          };
        }),
        incident: incidentSummary(state),
        maintenance: checkMaintenance(maintenanceWindows, d, now),
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
        // Non-null while the region flaps (it then counts as failing; see flapping.ts).
        flappingSince: state.flapping?.[region]?.flappingSince ?? null,
        uptime: s?.uptime ?? null,
        latency: s?.latency ?? null,
        counts24h: s?.counts24h ?? null,
        // Newest slot first: concurrent ingest may have pushed neighbours in a different order.
        recentRuns: runs[i]!.flatMap((raw) => { try { return [JSON.parse(raw) as RecentRun]; } catch { return []; } })
          .sort((a, b) => b.scheduledAt - a.scheduledAt),
      };
    }),
    incident: state.incident,
    // Uptime windows that overlapped maintenance: those runs are not in the uptime figures.
    maintenance: checkMaintenance(await deps.store.maintenance.list(), check.definition, now),
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
  const canaries = await readCanaryStatus(deps.redis, deps.prefix, [...byRegion.keys()]);
  return {
    regions: [...byRegion.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([region, agents]) => ({
      region,
      online: agents.filter((a) => (a as { status: string }).status === 'online').length,
      offline: agents.filter((a) => (a as { status: string }).status === 'offline').length,
      // Last canary answer and whether the region is stalled (agents heartbeat but consume nothing).
      canary: canaries.get(region)!,
      agents,
    })),
  };
}
