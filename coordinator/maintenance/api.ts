/**
 * HTTP handlers for maintenance windows, registered by api.ts:
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
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, quoted, readJsonBody, sendJson } from '../http/json.ts';
import { MaintenanceInput, activeOccurrence, nextOccurrence, type MaintenanceWindow } from './maintenance.ts';
import { MAX_MAINTENANCE_WINDOWS, type MaintenanceStore } from './store.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], url: URL) => Promise<void>;

/** Largest maintenance request body. */
const MAX_BODY_BYTES = 64 * 1024;

export function maintenanceApiRoutes(deps: { store: { maintenance: MaintenanceStore }; now?: () => number }): Array<{ pattern: RegExp; methods: Partial<Record<string, Handler>> }> {
  const now = deps.now ?? Date.now;
  const store = deps.store.maintenance;
  const shown = (w: MaintenanceWindow, at: number) => ({ ...w, active: activeOccurrence(w.schedule, at) !== null, current: activeOccurrence(w.schedule, at), next: nextOccurrence(w.schedule, at) });

  return [
    { pattern: /^\/api\/maintenance$/, methods: {
      GET: async (_req, res) => {
        const at = now();
        sendJson(res, 200, { generatedAt: at, windows: (await store.list()).map((w) => shown(w, at)) });
      },
      POST: async (req, res) => {
        const body = await readJsonBody(req, MAX_BODY_BYTES);
        const parsed = MaintenanceInput.safeParse(body);
        if (!parsed.success) {
          const problems = parsed.error.issues.map((issue) => ({
            field: issue.path.map(String).join('.') || '(body)',
            message: issue.code === 'unrecognized_keys' ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}` : issue.message,
          }));
          throw new HttpError(400, 'INVALID_BODY', `${problems.length} problem(s) in the maintenance window`, { problems });
        }
        const window = await store.create(parsed.data);
        if (!window) throw new HttpError(409, 'MAINTENANCE_LIMIT', `at most ${MAX_MAINTENANCE_WINDOWS} maintenance windows can be stored; delete some first`);
        sendJson(res, 201, { window: shown(window, now()) });
      },
    } },
    { pattern: /^\/api\/maintenance\/([^/]+)$/, methods: {
      GET: async (_req, res, [rawId]) => {
        const id = windowId(rawId!);
        const window = await store.get(id);
        if (!window) throw notFound(id);
        sendJson(res, 200, { window: shown(window, now()) });
      },
      DELETE: async (req, res, [rawId]) => {
        req.resume();
        const id = windowId(rawId!);
        if (!(await store.remove(id))) throw notFound(id);
        sendJson(res, 200, { removed: id });
      },
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
