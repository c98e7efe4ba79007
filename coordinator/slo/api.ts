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
import { HttpError, checkIdParam, sendJson } from '../http/json.ts';
import type { Registry } from '../registry/store.ts';
import { buildSloReport } from './report.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], url: URL) => Promise<void>;

export function sloApiRoutes(deps: { redis: Redis; prefix: string; registry: Registry; now?: () => number }): Array<{ pattern: RegExp; methods: Partial<Record<string, Handler>> }> {
  const now = deps.now ?? Date.now;
  return [
    { pattern: /^\/api\/checks\/([^/]+)\/slo$/, methods: {
      GET: async (_req, res, [rawId]) => {
        const id = checkIdParam(rawId!);
        const check = await deps.registry.getCheck(id);
        if (!check) throw new HttpError(404, 'CHECK_NOT_FOUND', `no check with id "${id}"`);
        sendJson(res, 200, await buildSloReport(deps.redis, deps.prefix, check, now()));
      },
    } },
  ];
}
