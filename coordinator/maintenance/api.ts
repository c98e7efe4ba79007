/**
 * HTTP routes for maintenance windows (in the route table, http/routes.ts):
 *
 * GET    /api/maintenance        every window, with whether it is on now and its current / next occurrence
 * POST   /api/maintenance        { name, checks?: string[], tags?: string[], schedule } → 201 { window }
 *                                 schedule: { type: 'once', start, end } (epoch ms or ISO 8601 with a zone)
 *                                        or { type: 'weekly', days: ['mon', …], at: 'HH:MM', durationMs,
 *                                             timeZone?: 'UTC' | IANA name, from?, until? }
 * GET    /api/maintenance/:id    one window
 * DELETE /api/maintenance/:id    removes one window
 *
 * Errors: 400 INVALID_BODY (with `problems: [{ field, message }]`), 400 INVALID_MAINTENANCE_ID,
 * 404 MAINTENANCE_NOT_FOUND, 409 MAINTENANCE_LIMIT.
 */
import { zodProblems } from '../../lib/zod-problems.ts';
import { HttpError, quoted, readJsonBody, sendJson } from '../http/json.ts';
import { deploy, read, type Route } from '../http/route.ts';
import { MaintenanceInput, activeOccurrence, nextOccurrence, type MaintenanceWindow } from './maintenance.ts';
import { MAX_MAINTENANCE_WINDOWS, type MaintenanceStore } from './store.ts';

/** Largest maintenance request body. */
const MAX_BODY_BYTES = 64 * 1024;

export function maintenanceRoutes(deps: { maintenance: MaintenanceStore; now?: () => number }): Route[] {
  const now = deps.now ?? Date.now;
  const store = deps.maintenance;
  const shown = (w: MaintenanceWindow, at: number) => ({ ...w, active: activeOccurrence(w.schedule, at) !== null, current: activeOccurrence(w.schedule, at), next: nextOccurrence(w.schedule, at) });

  return [
    { pattern: /^\/api\/maintenance$/, methods: {
      GET: read(async (_req, res) => {
        const at = now();
        sendJson(res, 200, { generatedAt: at, windows: (await store.list()).map((w) => shown(w, at)) });
      }),
      POST: deploy(async (req, res) => {
        const body = await readJsonBody(req, { limit: MAX_BODY_BYTES });
        const parsed = MaintenanceInput.safeParse(body);
        if (!parsed.success) {
          const problems = zodProblems(parsed.error).map(({ field, message }) => ({ field: field || '(body)', message }));
          throw new HttpError(400, 'INVALID_BODY', `${problems.length} problem(s) in the maintenance window`, { problems });
        }
        const window = await store.create(parsed.data);
        if (!window) throw new HttpError(409, 'MAINTENANCE_LIMIT', `at most ${MAX_MAINTENANCE_WINDOWS} maintenance windows can be stored; delete some first`);
        sendJson(res, 201, { window: shown(window, now()) });
      }),
    } },
    { pattern: /^\/api\/maintenance\/([^/]+)$/, methods: {
      GET: read(async (_req, res, [rawId]) => {
        const id = windowId(rawId!);
        const window = await store.get(id);
        if (!window) throw notFound(id);
        sendJson(res, 200, { window: shown(window, now()) });
      }),
      DELETE: deploy(async (req, res, [rawId]) => {
        req.resume();
        const id = windowId(rawId!);
        if (!(await store.remove(id))) throw notFound(id);
        sendJson(res, 200, { removed: id });
      }),
    } },
  ];
}

function windowId(raw: string): string {
  let id: string;
  try { id = decodeURIComponent(raw); } catch { throw new HttpError(400, 'INVALID_MAINTENANCE_ID', 'maintenance id is not valid URL encoding'); }
  if (!/^mw-[a-z0-9]{1,16}-[0-9a-f]{6}$/.test(id)) throw new HttpError(400, 'INVALID_MAINTENANCE_ID', `invalid maintenance id ${quoted(id)} (ids look like mw-lx2k9a-1f2e3d)`);
  return id;
}

const notFound = (id: string): HttpError => new HttpError(404, 'MAINTENANCE_NOT_FOUND', `no maintenance window with id "${id}"`);
