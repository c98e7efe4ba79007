/**
 * HTTP route for SLOs (in the route table, http/routes.ts):
 *
 * GET /api/checks/:id/slo   the check's SLO report (slo-report.ts): per objective, SLI, error budget
 *                           (total, consumed, remaining, in events) and burn rates (5m, 30m, 1h, 6h), for
 *                           the check and per region; and the burn-rate alerts firing now. A check without
 *                           an SLO answers with `availability: null, latency: null`.
 *
 * Errors: 400 INVALID_CHECK_ID, 404 CHECK_NOT_FOUND.
 */
import type { Redis } from 'ioredis';
import { HttpError, checkIdParam, sendJson } from '../http/json.ts';
import type { CheckRegistry } from '../registry/store.ts';
import { read, type Route } from '../http/route.ts';
import { buildSloReport } from './report.ts';

export function sloRoutes(deps: { redis: Redis; prefix: string; registry: CheckRegistry; now?: () => number }): Route[] {
  const now = deps.now ?? Date.now;
  return [
    { pattern: /^\/api\/checks\/([^/]+)\/slo$/, methods: {
      GET: read(async (_req, res, [rawId]) => {
        const id = checkIdParam(rawId!);
        const check = await deps.registry.getCheck(id);
        if (!check) throw new HttpError(404, 'CHECK_NOT_FOUND', `no check with id "${id}"`);
        sendJson(res, 200, await buildSloReport(deps.redis, deps.prefix, check, now()));
      }),
    } },
  ];
}
