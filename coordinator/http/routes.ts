/**
 * The route table: every route of the API, dashboard and operational endpoints, each with the access it
 * needs (route.ts: `open`, `read`, `deploy`, `admin`), gathered from the capabilities that own them. This
 * and `coordinator.ts` are the only modules that know every capability.
 *
 * GET    /  /healthz  /readyz                                   open
 * GET    /metrics                                               read
 * GET    /api/checks, /api/checks/:id, /api/incidents           read    detection/api.ts
 * DELETE /api/checks/:id                                        deploy  registry/api.ts
 * GET    /api/deployments                                       read    registry/api.ts
 * POST   /api/deployments, …/plan, …/rollback                   deploy  registry/api.ts
 * GET    /api/agents                                            read    liveness/api.ts
 * GET    /api/artifacts/:runId[/:name]                          artifacts:read  http/artifacts.ts
 * GET    /api/checks/:id/slo                                    read    slo/api.ts
 * GET    /api/maintenance[/:id]                                 read    maintenance/api.ts
 * POST   /api/maintenance, DELETE /api/maintenance/:id          deploy  maintenance/api.ts
 * GET    /api/alerts/dead-letters                               read    alerting/api.ts
 * POST   /api/alerts/dead-letters/:id/retry                     admin   alerting/api.ts
 */
import type { ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import { alertingRoutes } from '../alerting/api.ts';
import { detectionRoutes } from '../detection/api.ts';
import type { CheckStateStore } from '../detection/store.ts';
import { livenessRoutes } from '../liveness/api.ts';
import { maintenanceRoutes } from '../maintenance/api.ts';
import type { CoordinatorMetrics } from '../platform/metrics.ts';
import { registryRoutes } from '../registry/api.ts';
import type { CheckRegistry } from '../registry/store.ts';
import { sloRoutes } from '../slo/api.ts';
import { artifactRoutes } from './artifacts.ts';
import { DASHBOARD_HTML } from './dashboard.ts';
import { sendJson } from './json.ts';
import { open, read, type Route } from './route.ts';

export interface RouteDeps {
  redis: Redis;
  prefix: string;
  registry: CheckRegistry;
  store: CheckStateStore;
  metrics: CoordinatorMetrics;
  /** Called after checks were deployed or removed; resolves with what the scheduler did. */
  afterRegistryChange: (removedCheckIds: string[]) => Promise<unknown>;
  /** Whether this coordinator can do its work (Redis reachable, workers running), and why not. */
  readiness: () => Promise<{ ready: boolean; checks: Record<string, boolean>; dependencies?: Record<string, { up: boolean; detail: string }>; down?: string[] }>;
  now?: () => number;
}

export function createRoutes(deps: RouteDeps): Route[] {
  return [
    // The page holds no data: it fetches the API itself (with a token from the URL fragment, #token=…).
    { pattern: /^\/$/, methods: { GET: open(async (_req, res) => sendHtml(res, DASHBOARD_HTML)) } },
    { pattern: /^\/healthz$/, methods: { GET: open(async (_req, res) => sendJson(res, 200, { status: 'ok' })) } },
    { pattern: /^\/readyz$/, methods: { GET: open(async (_req, res) => {
      const readiness = await deps.readiness();
      sendJson(res, readiness.ready ? 200 : 503, readiness);
    }) } },
    { pattern: /^\/metrics$/, methods: { GET: read(async (_req, res) => {
      await deps.readiness(); // brings lookout_dependency_up up to date
      const text = await deps.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
      res.end(text);
    }) } },
    ...detectionRoutes(deps),
    ...registryRoutes(deps),
    ...livenessRoutes(deps),
    ...artifactRoutes(deps),
    ...sloRoutes(deps),
    ...maintenanceRoutes({ maintenance: deps.store.maintenance, now: deps.now }),
    ...alertingRoutes(deps),
  ];
}

function sendHtml(res: ServerResponse, html: string): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}
