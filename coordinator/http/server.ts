/**
 * The HTTP API's dispatcher, on `node:http`: finds the route (routes.ts), checks the caller's access
 * (auth.ts) before the handler runs, and turns every failure into JSON `{ error: { code, message, ... } }`
 * with a stable code. Every response is JSON but `/` (the dashboard) and `/metrics`; nothing a client
 * sends can crash the server; with Redis away, API calls answer 503 `REDIS_UNAVAILABLE` at once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../lib/log.ts';
import { isRedisUnavailable } from '../../lib/redis.ts';
import { TransactionError } from '../platform/transaction.ts';
import type { Principal, RouteAccess } from './auth.ts';
import { HttpError, sendError } from './json.ts';
import { endpointOf, type Route } from './route.ts';
import { createRoutes, type RouteDeps } from './routes.ts';

export interface ApiDeps extends RouteDeps {
  logger: Logger;
  /**
   * Decides who may call a route (auth.ts `createAuthorizer`): resolves the caller or throws a 401/403.
   * @defaultValue everyone may call everything (auth off)
   */
  authorize?: (req: IncomingMessage, access: RouteAccess) => Promise<Principal>;
}

const AUTH_OFF = async (): Promise<Principal> => ({ tokenId: null, name: 'anonymous (auth off)', scopes: ['admin'] });

export function createApiHandler(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const routes = createRoutes(deps);
  const authorize = deps.authorize ?? AUTH_OFF;
  return (req, res) => {
    const needsRedis = req.url?.startsWith('/api/') ?? false;
    let handled: Promise<void>;
    if (needsRedis && deps.redis.status !== 'ready') {
      req.resume();
      handled = Promise.reject(new HttpError(503, 'REDIS_UNAVAILABLE', 'Redis is not reachable right now; retry shortly'));
    } else handled = dispatch(routes, req, res, authorize);
    void handled.catch((error: unknown) => {
      if (error instanceof HttpError) {
        // A 413 keeps the connection: the rest of the body is read and dropped (json.ts), so the client,
        // still sending, gets to read this answer rather than a broken pipe.
        sendError(res, error, error.status === 401 ? { 'www-authenticate': 'Bearer realm="lookout"' } : {});
        return;
      }
      const unavailable = unavailableError(error);
      if (unavailable) deps.logger.warn('api.unavailable', { method: req.method, path: req.url, error });
      else deps.logger.error('api.error', { method: req.method, path: req.url, error });
      sendError(res, unavailable ?? new HttpError(500, 'INTERNAL', 'internal error; see the coordinator log'));
    });
  };
}

/**
 * For the server's `clientError` event: a request Node's parser refuses before any handler sees it (a raw
 * NUL or a space in the path, a malformed header, headers past Node's size limit) still gets the API's
 * JSON error, `400 BAD_REQUEST` (`431 HEADERS_TOO_LARGE`), not a bare status line. The connection closes.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) { socket.destroy(); return; }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const body = JSON.stringify({ error: {
    code: tooLarge ? 'HEADERS_TOO_LARGE' : 'BAD_REQUEST',
    message: tooLarge ? 'the request headers are too large' : `the request cannot be parsed as HTTP (${error.code ?? 'parse error'})`,
  } });
  socket.end(`HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\n`
    + `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** Redis being away is a 503 the client can retry, not a 500. */
function unavailableError(error: unknown): HttpError | null {
  if (error instanceof TransactionError && (error.code === 'REDIS_UNAVAILABLE' || error.code === 'COORDINATOR_STOPPED')) {
    return new HttpError(503, error.code, error.message);
  }
  if (isRedisUnavailable(error)) return new HttpError(503, 'REDIS_UNAVAILABLE', 'Redis is not reachable right now; retry shortly');
  return null;
}

/**
 * Runs the first route whose pattern matches the path and that has the request's method (routes of
 * several capabilities may share a path, as `GET` and `DELETE /api/checks/:id` do); 405 with every
 * allowed method when the path matches but no route has the method.
 */
async function dispatch(routes: Route[], req: IncomingMessage, res: ServerResponse, authorize: NonNullable<ApiDeps['authorize']>): Promise<void> {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    throw new HttpError(400, 'INVALID_URL', 'the request URL cannot be parsed');
  }
  const method = req.method ?? 'GET';
  const allowed: string[] = [];
  for (const { pattern, methods } of routes) {
    const match = pattern.exec(url.pathname);
    if (!match) continue;
    const entry = methods[method] ?? (method === 'HEAD' ? methods.GET : undefined);
    if (!entry) {
      allowed.push(...Object.keys(methods));
      continue;
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
  if (allowed.length > 0) {
    const allow = [...new Set(allowed)].join(', ');
    sendError(res, new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}; use ${allow}`), { allow });
    return;
  }
  throw new HttpError(404, 'NOT_FOUND', `no route for ${req.method} ${url.pathname}`);
}
