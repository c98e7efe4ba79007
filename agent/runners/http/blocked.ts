/**
 * Blocked, not down: whether a failed run's response says the target refused this probe (a WAF, bot
 * protection or rate limit) rather than failed. Such a run fails with `BLOCKED_BY_TARGET`: a region whose
 * probes are blocked while others pass needs another fix than an outage (allow-list the probes' addresses,
 * relax a rule), and the alert says so. Pure; table-tested.
 *
 * Signals, first match wins: a challenge header (`cf-mitigated: challenge`, AWS WAF's
 * `x-amzn-waf-action`), a well-known challenge or block page in the body (when the run kept the body:
 * Cloudflare, Akamai, Imperva/Incapsula, DataDome, PerimeterX, F5), then status 429 or 403.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface BlockSignal {
  /** A short phrase for the message: `Cloudflare challenge (cf-mitigated: challenge)`. */
  reason: string;
}

const firstValue = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** Body markers of challenge and block pages, with who serves them. */
export const BLOCK_PAGES: ReadonlyArray<[marker: RegExp, what: string]> = [
  [/<title>\s*Just a moment\.\.\.\s*<\/title>|cf-chl-|challenge-platform/i, 'Cloudflare challenge page'],
  [/Attention Required! \| Cloudflare|cf-error-details/i, 'Cloudflare block page'],
  [/Access Denied[\s\S]{0,400}Reference\s+#[0-9a-f.]+/i, 'Akamai block page'],
  [/Incapsula incident ID|_Incapsula_Resource/i, 'Imperva block page'],
  [/captcha-delivery\.com|geo\.captcha-delivery/i, 'DataDome challenge page'],
  [/px-captcha|_pxCaptcha|perimeterx/i, 'PerimeterX challenge page'],
  [/The requested URL was rejected\. Please consult with your administrator\./i, 'F5 block page'],
];

/** Why this response blocks the probe, or null when nothing says so. `body` only when the run kept it. */
export function blockSignal(status: number, headers: IncomingHttpHeaders, body?: string): BlockSignal | null {
  const mitigated = firstValue(headers['cf-mitigated'])?.trim().toLowerCase();
  if (mitigated === 'challenge') return { reason: 'Cloudflare challenge (cf-mitigated: challenge)' };
  const waf = firstValue(headers['x-amzn-waf-action'])?.trim().toLowerCase();
  if (waf === 'captcha' || waf === 'challenge' || waf === 'block') return { reason: `AWS WAF ${waf} (x-amzn-waf-action)` };
  if (body !== undefined && body !== '') {
    const head = body.slice(0, 64 * 1024);
    for (const [marker, what] of BLOCK_PAGES) if (marker.test(head)) return { reason: `${what} (status ${status})` };
  }
  if (status === 429) {
    const retry = firstValue(headers['retry-after']);
    return { reason: `rate limited (429${retry ? `, retry-after ${retry.slice(0, 40)}` : ''})` };
  }
  if (status === 403) {
    const server = firstValue(headers.server)?.trim().slice(0, 60);
    return { reason: `forbidden (403${server ? ` from ${server}` : ''})` };
  }
  return null;
}
