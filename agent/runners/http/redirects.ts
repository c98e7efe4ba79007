/**
 * Whether a response is a redirect to follow, and what the next request is. Pure.
 *
 * Follows 301, 302, 303, 307 and 308 that carry a `Location` (other 3xx, and 3xx without `Location`,
 * are final responses). The method changes as browsers change it: 303 turns anything but HEAD into a
 * GET without body, 301/302 turn POST into GET; 307/308 keep method and body.
 */
import type { HttpCheckDefinition } from '../../../checks/contract.ts';

type Method = HttpCheckDefinition['method'];

export interface HopRequest {
  url: URL;
  method: Method;
  body: string | undefined;
}

export type RedirectDecision =
  | { kind: 'final' }
  | { kind: 'follow'; next: HopRequest; bodyDropped: boolean; crossOrigin: boolean }
  | { kind: 'invalid'; message: string };

/**
 * The next hop of a cross-origin redirect without a body that holds a secret (a 307/308 keeps the body):
 * a secret goes only to the origin the check names. Says whether the body was dropped.
 */
export function withoutSecretBody(next: HopRequest, crossOrigin: boolean, holdsSecret: ((text: string) => boolean) | undefined): { next: HopRequest; dropped: boolean } {
  if (!crossOrigin || next.body === undefined || !holdsSecret?.(next.body)) return { next, dropped: false };
  return { next: { ...next, body: undefined }, dropped: true };
}

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

export function decideRedirect(status: number, location: string | undefined, current: HopRequest): RedirectDecision {
  if (!REDIRECT_STATUSES.has(status) || location === undefined) return { kind: 'final' };
  let url: URL;
  try {
    url = new URL(location, current.url);
  } catch {
    return { kind: 'invalid', message: `redirect (${status}) to an invalid Location ${JSON.stringify(location)}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { kind: 'invalid', message: `redirect (${status}) to ${url.protocol} URL ${JSON.stringify(location)}: only http and https are followed` };
  }
  url.hash = '';
  const toGet = (status === 303 && current.method !== 'HEAD') || ((status === 301 || status === 302) && current.method === 'POST');
  const bodyDropped = toGet && (current.method !== 'GET' || current.body !== undefined);
  return {
    kind: 'follow',
    next: { url, method: toGet ? 'GET' : current.method, body: toGet ? undefined : current.body },
    bodyDropped,
    crossOrigin: url.origin !== current.url.origin,
  };
}
