/**
 * The headers every probe sends. Targets must be able to tell Lookout's traffic from users' (to
 * exclude it from analytics, or allow-list it), so every request says what it is and where it is from.
 */

/** Header names are lower-cased; HTTP header names are case-insensitive and undici accepts either. */
export type RequestHeaders = Record<string, string>;

/** What the probe says it is, unless the check sets its own `user-agent`. */
export function lookoutUserAgent(version: string, region: string): string {
  return `Lookout/${version} (+synthetic monitoring; region=${region})`;
}

/**
 * The check's headers (names lower-cased) plus:
 * - `user-agent: Lookout/<version> (+synthetic monitoring; region=<region>)` unless the check set one;
 * - `accept-encoding: gzip, deflate, br` unless the check set one: what browsers send, and the runner
 *   decodes these itself;
 * - `x-lookout-region: <region>`, always (a check cannot spoof it).
 */
export function buildRequestHeaders(checkHeaders: Readonly<Record<string, string>>, region: string, version: string): RequestHeaders {
  const headers: RequestHeaders = {};
  for (const name in checkHeaders) headers[name.toLowerCase()] = checkHeaders[name]!;
  headers['user-agent'] ??= lookoutUserAgent(version, region);
  headers['accept-encoding'] ??= 'gzip, deflate, br';
  headers['x-lookout-region'] = region;
  return headers;
}

const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'] as const;
/** Meant for the origin the check names: credentials, and a `host` override. */
const ORIGIN_BOUND_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'host'] as const;

/**
 * Headers for the next hop of a redirect, as browsers do (Fetch standard, "HTTP-redirect fetch"):
 * a redirect that turns the request into a GET drops the body's headers, and one that leaves the origin
 * drops credentials (and any `host` override) so that they are never sent to a host the check author
 * did not name.
 */
export function redirectHeaders(
  headers: RequestHeaders, change: { bodyDropped: boolean; crossOrigin: boolean }, holdsSecret?: (text: string) => boolean,
): RequestHeaders {
  if (!change.bodyDropped && !change.crossOrigin) return headers;
  const next: RequestHeaders = { ...headers };
  if (change.bodyDropped) for (const name of BODY_HEADERS) delete next[name];
  if (change.crossOrigin) {
    for (const name of ORIGIN_BOUND_HEADERS) delete next[name];
    // Any header carrying a secret (`x-api-key: secret('KEY')`) is meant for the origin the check names.
    if (holdsSecret) for (const [name, value] of Object.entries(next)) if (holdsSecret(value)) delete next[name];
  }
  return next;
}
