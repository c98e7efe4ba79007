/**
 * The shape of the API's route table: each method of each route names the access it needs, so that
 * each capability's api.ts lists its routes with their scopes, and auth.ts checks them in one place.
 *
 * ```ts
 * { pattern: /^\/api\/checks\/([^/]+)$/, methods: { GET: read(detail), DELETE: deploy(remove) } }
 * ```
 *
 * A bare handler (no access given) needs `read` for GET/HEAD and `admin` for anything else: a route
 * added without thinking about access is closed rather than open.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal, RouteAccess } from './auth.ts';

/** What a handler knows about the request beyond the URL. */
export interface RequestContext {
  /** Who is calling (a token, or anonymous when auth is off or the route is public). */
  principal: Principal;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], url: URL, context: RequestContext) => Promise<void>;

export interface Endpoint {
  access: RouteAccess;
  handle: Handler;
}

export interface Route {
  pattern: RegExp;
  methods: Partial<Record<string, Endpoint | Handler>>;
}

/** No token needed (the dashboard page, health checks). */
export const open = (handle: Handler): Endpoint => ({ access: 'public', handle });
/** Needs a token with `read` (or wider), unless the coordinator runs with `--public-read`. */
export const read = (handle: Handler): Endpoint => ({ access: 'read', handle });
/** Needs a token with `deploy` (or `admin`). */
export const deploy = (handle: Handler): Endpoint => ({ access: 'deploy', handle });
/** Needs a token with `artifacts:read` (or `admin`); `--public-read` does not open it. */
export const artifacts = (handle: Handler): Endpoint => ({ access: 'artifacts:read', handle });
/** Needs a token with `admin`. */
export const admin = (handle: Handler): Endpoint => ({ access: 'admin', handle });

/** The endpoint of one method of a route; see the module comment for bare handlers. */
export function endpointOf(method: string, entry: Endpoint | Handler): Endpoint {
  if (typeof entry !== 'function') return entry;
  return { access: method === 'GET' || method === 'HEAD' ? 'read' : 'admin', handle: entry };
}
