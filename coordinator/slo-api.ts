/**
 * HTTP handler for SLOs, registered by api.ts:
 *
 * GET /api/checks/:id/slo   the check's SLO report (slo-report.ts): per objective, SLI, error budget
 *                           (total, consumed, remaining, in events) and burn rates (5m, 30m, 1h, 6h), for
 *                           the check and per region; and the burn-rate alerts firing now. A check without
 *                           an SLO answers with `availability: null, latency: null`.
 *
 * Errors: 400 INVALID_CHECK_ID, 404 CHECK_NOT_FOUND.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import { CheckId } from '../checks/contract.ts';
import { HttpError, sendJson } from './http.ts';
import type { Registry } from './registry.ts';
import { buildSloReport } from './slo-report.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], url: URL) => Promise<void>;

export function sloApiRoutes(deps: { redis: Redis; prefix: string; registry: Registry; now?: () => number }): Array<{ pattern: RegExp; methods: Partial<Record<string, Handler>> }> {
  const now = deps.now ?? Date.now;
  return [
    { pattern: /^\/api\/checks\/([^/]+)\/slo$/, methods: {
      GET: async (_req, res, [rawId]) => {
        let id: string;
        try { id = decodeURIComponent(rawId!); } catch { throw new HttpError(400, 'INVALID_CHECK_ID', 'check id is not valid URL encoding'); }
        const parsed = CheckId.safeParse(id);
        if (!parsed.success) throw new HttpError(400, 'INVALID_CHECK_ID', `invalid check id ${JSON.stringify(id)}: ${parsed.error.issues[0]?.message}`);
        const check = await deps.registry.getCheck(id);
        if (!check) throw new HttpError(404, 'CHECK_NOT_FOUND', `no check with id "${id}"`);
        sendJson(res, 200, await buildSloReport(deps.redis, deps.prefix, check, now()));
      },
    } },
  ];
}
