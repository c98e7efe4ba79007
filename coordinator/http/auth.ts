/**
 * Who may call which API route: the one place that checks `Authorization: Bearer <token>`. Each route
 * in api.ts declares the access it needs (`public`, or the scope `read` / `deploy` / `admin`); the API
 * calls {@link createAuthorizer}'s function before the handler. The decision itself is pure
 * ({@link decideAccess}) and table-tested.
 *
 * Refusals have stable codes: 401 `TOKEN_REQUIRED` (no token), 401 `TOKEN_INVALID` (malformed,
 * unknown, or not a Bearer token), 401 `TOKEN_REVOKED`, 403 `INSUFFICIENT_SCOPE`.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './json.ts';
import { scopeAllows, type TokenCheck, type TokenScope, type TokenStore } from './tokens.ts';

/** What a route needs: nothing (`public`), or a token with this scope (or a wider one). */
export type RouteAccess = 'public' | TokenScope;

export interface AuthPolicy {
  /** Whether tokens are required at all (`--auth off` turns this off, for local development). */
  enabled: boolean;
  /** Whether `read` routes answer without a token (`--public-read`). A token sent anyway is still checked. */
  publicRead: boolean;
}

/** Who made a request, as recorded in the deployment history. */
export interface Principal {
  /** Null when no token was used (auth off, or a public read). */
  tokenId: string | null;
  name: string;
  scopes: TokenScope[];
}

/** What the request presented, after parsing the header and (for a token) looking it up. */
export type Presented = { kind: 'none' } | { kind: 'malformed' } | { kind: 'token'; check: TokenCheck };

const AUTH_OFF: Principal = { tokenId: null, name: 'anonymous (auth off)', scopes: ['admin'] };
const PUBLIC: Principal = { tokenId: null, name: 'anonymous', scopes: [] };
const PUBLIC_READER: Principal = { tokenId: null, name: 'anonymous (public read)', scopes: ['read'] };

/** Whether the request may go on, and as whom. Pure. */
export function decideAccess(access: RouteAccess, policy: AuthPolicy, presented: Presented): { principal: Principal } | { error: HttpError } {
  if (access === 'public') return { principal: PUBLIC };
  if (!policy.enabled) return { principal: AUTH_OFF };
  switch (presented.kind) {
    case 'none':
      if (access === 'read' && policy.publicRead) return { principal: PUBLIC_READER };
      return { error: unauthorized('TOKEN_REQUIRED', `this route needs a token with the "${access}" scope: send Authorization: Bearer <token> (create one with \`lookout token create\`)`) };
    case 'malformed':
      return { error: unauthorized('TOKEN_INVALID', 'expected the header Authorization: Bearer <token>') };
    case 'token': {
      const { check } = presented;
      if (!check.ok) return { error: unauthorized(check.code, check.message) };
      const { token } = check;
      if (!scopeAllows(token.scopes, access)) {
        return { error: new HttpError(403, 'INSUFFICIENT_SCOPE', `this route needs the "${access}" scope; the token "${token.name}" (${token.id}) has ${token.scopes.join(', ')}`, { requiredScope: access }) };
      }
      return { principal: { tokenId: token.id, name: token.name, scopes: token.scopes } };
    }
  }
}

/** Reads the Authorization header: absent, a Bearer token, or anything else (malformed). */
export function parseAuthorization(header: string | string[] | undefined): { kind: 'none' } | { kind: 'malformed' } | { kind: 'bearer'; token: string } {
  if (header === undefined || header === '') return { kind: 'none' };
  if (Array.isArray(header)) return { kind: 'malformed' };
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match ? { kind: 'bearer', token: match[1]! } : { kind: 'malformed' };
}

/** The request check the API runs before every handler: resolves the principal or throws the refusal. */
export function createAuthorizer(options: { tokens: TokenStore; policy: AuthPolicy }): (req: IncomingMessage, access: RouteAccess) => Promise<Principal> {
  const { tokens, policy } = options;
  return async (req, access) => {
    let presented: Presented = { kind: 'none' };
    // Tokens are looked up only when the decision depends on them.
    if (access !== 'public' && policy.enabled) {
      const header = parseAuthorization(req.headers.authorization);
      presented = header.kind === 'bearer' ? { kind: 'token', check: await tokens.verify(header.token) } : header;
    }
    const decision = decideAccess(access, policy, presented);
    if ('error' in decision) throw decision.error;
    return decision.principal;
  };
}

function unauthorized(code: string, message: string): HttpError {
  return new HttpError(401, code, message);
}
