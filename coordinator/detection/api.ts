/**
 * HTTP routes for what detection decided (in the route table, http/routes.ts):
 *
 * GET /api/checks                 checks with per-region verdict and uptime (1h, 24h, 7d, 30d)
 * GET /api/checks/:id             definition, version, per-region verdicts, uptime, latency, recent runs
 * GET /api/incidents?state=open|all
 *
 * The verdicts come from the check states (store.ts), the figures from the results' rollups
 * (results/stats.ts), the maintenance flags from maintenance windows.
 */
import type { Redis } from 'ioredis';
import { checkTarget } from '../../checks/check-types.ts';
import type { StoredCheck } from '../../checks/contract.ts';
import { recentRunsKey } from '../../checks/keys.ts';
import { HttpError, checkIdParam, sendJson } from '../http/json.ts';
import { read, type Route } from '../http/route.ts';
import { checkMaintenance } from '../maintenance/maintenance.ts';
import type { CheckRegistry } from '../registry/store.ts';
import type { RecentRun } from '../results/rollups.ts';
import { pairKey, readStats, type PairStats } from '../results/stats.ts';
import { alignRegions, emptyCheckState, type CheckState } from './check-state.ts';
import type { CheckStateStore } from './store.ts';

/** Recent runs returned per region by `GET /api/checks/:id`. */
export const RECENT_RUNS_SHOWN = 20;

export interface DetectionApiDeps {
  redis: Redis;
  prefix: string;
  registry: CheckRegistry;
  store: CheckStateStore;
  now?: () => number;
}

export function detectionRoutes(deps: DetectionApiDeps): Route[] {
  const now = deps.now ?? Date.now;
  return [
    { pattern: /^\/api\/checks$/, methods: { GET: read(async (_req, res) => sendJson(res, 200, await listChecks(deps, now()))) } },
    { pattern: /^\/api\/checks\/([^/]+)$/, methods: {
      GET: read(async (_req, res, [rawId]) => sendJson(res, 200, await checkDetail(deps, checkIdParam(rawId!), now()))),
    } },
    { pattern: /^\/api\/incidents$/, methods: { GET: read(async (_req, res, _p, url) => sendJson(res, 200, await listIncidents(deps, url))) } },
  ];
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

async function listChecks(deps: DetectionApiDeps, now: number) {
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
        id: d.id, name: d.name, type: d.type, target: checkTarget(d), version: check.version, updatedAt: check.updatedAt,
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

async function checkDetail(deps: DetectionApiDeps, id: string, now: number) {
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

async function listIncidents(deps: DetectionApiDeps, url: URL) {
  const state = url.searchParams.get('state') ?? 'open';
  if (state !== 'open' && state !== 'all') throw new HttpError(400, 'INVALID_QUERY', `state must be "open" or "all", got ${JSON.stringify(state)}`);
  const [open, resolved] = await Promise.all([deps.store.openIncidents(), state === 'all' ? deps.store.resolvedIncidents() : []]);
  return { state, open, resolved };
}
