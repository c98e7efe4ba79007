/**
 * HTTP routes for alert delivery (in the route table, http/routes.ts):
 *
 * GET  /api/alerts/dead-letters?limit=100&offset=0   deliveries that failed for good, newest first
 * POST /api/alerts/dead-letters/:deliveryId/retry    queue one again with a fresh set of attempts (202);
 *                                                    the id URL-encoded (`ops.inc-1%253A1`), or as listed
 *
 * They work on the `alerts` queue through the API's own Redis connection, so every coordinator can
 * list and retry dead letters, whether or not it has channels configured itself.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { DeadLetterError, listDeadLetters, retryDeadLetter } from './dead-letters.ts';
import { ALERTS_QUEUE } from '../../checks/keys.ts';
import { HttpError, quoted, sendJson } from '../http/json.ts';
import { admin, read, type Route } from '../http/route.ts';

/** Most dead letters one request returns. */
export const MAX_DEAD_LETTERS_PAGE = 500;
/** Longest delivery id accepted in a path (URL-encoded). */
const MAX_DELIVERY_ID_CHARS = 1_024;

/** Reads a non-negative integer query parameter within `max`. */
function intParam(url: URL, name: string, fallback: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) > max) throw new HttpError(400, 'INVALID_QUERY', `${name} must be an integer from 0 to ${max}, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

export function alertingRoutes(deps: { redis: Redis; prefix: string }): Route[] {
  let queue: Queue | null = null;
  // Created on first use, on the API's connection (shared: closing the coordinator closes it).
  const alerts = (): Queue => (queue ??= new Queue(ALERTS_QUEUE, { connection: deps.redis, prefix: deps.prefix }));

  return [
    { pattern: /^\/api\/alerts\/dead-letters$/, methods: {
      GET: read(async (_req, res, _params, url) => {
        const limit = intParam(url, 'limit', 100, MAX_DEAD_LETTERS_PAGE);
        const offset = intParam(url, 'offset', 0, 1_000_000);
        const deadLetters = limit === 0 ? [] : await listDeadLetters(alerts(), { start: offset, end: offset + limit - 1 });
        sendJson(res, 200, { deadLetters, limit, offset });
      }),
    } },
    { pattern: /^\/api\/alerts\/dead-letters\/([^/]+)\/retry$/, methods: {
      POST: admin(async (req, res, [rawId]) => {
        req.resume();
        let deliveryId: string;
        try { deliveryId = decodeURIComponent(rawId!); } catch { throw new HttpError(400, 'INVALID_DELIVERY_ID', 'delivery id is not valid URL encoding'); }
        // Delivery ids are `${channel}.${event id}`: a few hundred characters at most.
        if (rawId!.length > MAX_DELIVERY_ID_CHARS) throw new HttpError(400, 'INVALID_DELIVERY_ID', `delivery id ${quoted(deliveryId)} is longer than ${MAX_DELIVERY_ID_CHARS} characters`);
        try {
          await retryDeadLetter(alerts(), deliveryId).catch((error: unknown) => {
            // Delivery ids contain `%` (`ops.inc-1%3A1`); accept the id pasted without encoding it again.
            if (error instanceof DeadLetterError && error.code === 'DEAD_LETTER_NOT_FOUND' && rawId !== deliveryId) return retryDeadLetter(alerts(), rawId!);
            throw error;
          });
        } catch (error) {
          if (error instanceof DeadLetterError) throw new HttpError(error.code === 'DEAD_LETTER_NOT_FOUND' ? 404 : 409, error.code, error.message);
          throw error;
        }
        sendJson(res, 202, { retried: deliveryId });
      }),
    } },
  ];
}
