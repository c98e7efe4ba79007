/**
 * Edge identity: which CDN or proxy edge (and which point of presence) a response came through, read from
 * well-known response headers. One table, one parser per header; each returns an identity or null. Pure.
 *
 * | header | example | provider, pop |
 * |---|---|---|
 * | `cf-ray` | `8f3b2c1d9e0a1b2c-FRA` | cloudflare, `FRA` |
 * | `x-amz-cf-pop` | `FRA56-P1` | cloudfront, `FRA56-P1` |
 * | `x-served-by` | `cache-fra-eddf8230096-FRA, cache-ams21052-AMS` | fastly (or varnish), the last node's POP `AMS` |
 * | `fly-request-id` | `01H7Z…-fra` | fly, `FRA` |
 * | `x-vercel-id` | `fra1::iad1::8x2lq-1712345678901-abc` | vercel, `fra1` (the edge: the first part) |
 * | `x-akamai-request-id`, `akamai-grn` | | akamai |
 * | `x-azure-ref`, `x-msedge-ref` | | azure |
 * | `x-nf-request-id` | | netlify |
 * | `cdn-pullzone`, `server: BunnyCDN-DE1-1045` | | bunny, `DE1` |
 * | `x-amz-cf-id` | | cloudfront (no POP) |
 * | `x-cache` | `Hit from cloudfront`, `HIT` | the provider it names, else `cache` |
 * | `via` | `1.1 abc.cloudfront.net (CloudFront)`, `1.1 varnish`, `1.1 google` | the provider it names, else `proxy` |
 * | `server` | `cloudflare`, `AkamaiGHost`, `nginx` | a known edge, else `server` |
 */
import type { IncomingHttpHeaders } from 'node:http';
import { EVIDENCE_LIMITS, type EdgeIdentity } from '../../../checks/contract.ts';

type Parser = (value: string) => Omit<EdgeIdentity, 'header' | 'value'> | null;

/** `…-FRA` → `FRA`: a trailing segment of 2-6 letters/digits after the last hyphen. */
const trailingPop = (value: string): string | null => {
  const match = /-([A-Za-z0-9]{2,6})$/.exec(value.trim());
  return match ? match[1]!.toUpperCase() : null;
};

const KNOWN_SERVERS: ReadonlyArray<[RegExp, string]> = [
  [/^cloudflare/i, 'cloudflare'],
  [/^akamai/i, 'akamai'],
  [/cloudfront/i, 'cloudfront'],
  [/^(amazons3|awselb)/i, 'aws'],
  [/^netlify/i, 'netlify'],
  [/^vercel/i, 'vercel'],
  [/^fly\//i, 'fly'],
  [/^(gws|esf|google frontend)/i, 'google'],
  [/^(ecs|ecacc|ecd)/i, 'edgecast'],
  [/^varnish/i, 'varnish'],
  [/^bunnycdn/i, 'bunny'],
];
const providerNamedIn = (value: string): string | null => {
  const text = value.toLowerCase();
  for (const name of ['cloudfront', 'cloudflare', 'fastly', 'akamai', 'varnish', 'google', 'vercel', 'netlify', 'fly', 'azure', 'bunny']) {
    if (text.includes(name)) return name;
  }
  return null;
};

/** One parser per header; the order is the order of specificity (a POP-naming header before a generic one). */
export const EDGE_HEADERS: ReadonlyArray<[header: string, parse: Parser]> = [
  ['cf-ray', (v) => ({ provider: 'cloudflare', pop: trailingPop(v) })],
  ['x-amz-cf-pop', (v) => ({ provider: 'cloudfront', pop: v.trim() || null })],
  ['x-served-by', (v) => {
    const last = v.split(',').map((part) => part.trim()).filter(Boolean).pop();
    if (!last) return null;
    return { provider: /^cache-/i.test(last) ? 'fastly' : 'varnish', pop: trailingPop(last) };
  }],
  ['fly-request-id', (v) => ({ provider: 'fly', pop: trailingPop(v) })],
  ['x-vercel-id', (v) => {
    const edge = v.split('::')[0]?.trim();
    return { provider: 'vercel', pop: edge && /^[a-z]{3}\d?$/i.test(edge) ? edge.toLowerCase() : null };
  }],
  ['x-akamai-request-id', () => ({ provider: 'akamai', pop: null })],
  ['akamai-grn', () => ({ provider: 'akamai', pop: null })],
  ['x-azure-ref', () => ({ provider: 'azure', pop: null })],
  ['x-msedge-ref', () => ({ provider: 'azure', pop: null })],
  ['x-nf-request-id', () => ({ provider: 'netlify', pop: null })],
  ['cdn-pullzone', () => ({ provider: 'bunny', pop: null })],
  ['x-amz-cf-id', () => ({ provider: 'cloudfront', pop: null })],
  ['x-cache', (v) => ({ provider: providerNamedIn(v) ?? 'cache', pop: null })],
  ['via', (v) => ({ provider: providerNamedIn(v) ?? 'proxy', pop: null })],
  ['server', (v) => {
    const known = KNOWN_SERVERS.find(([pattern]) => pattern.test(v.trim()));
    if (known?.[1] === 'bunny') return { provider: 'bunny', pop: /^BunnyCDN-([A-Z]{2}\d*)/i.exec(v.trim())?.[1]?.toUpperCase() ?? null };
    return { provider: known?.[1] ?? 'server', pop: null };
  }],
];

const firstValue = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** Every edge the headers name, in table order, at most {@link EVIDENCE_LIMITS.edges}. */
export function edgeIdentities(headers: IncomingHttpHeaders | Readonly<Record<string, string | string[] | undefined>>): EdgeIdentity[] {
  const found: EdgeIdentity[] = [];
  for (const [header, parse] of EDGE_HEADERS) {
    const value = firstValue(headers[header]);
    if (value === undefined || value.trim() === '') continue;
    const identity = parse(value);
    if (identity) found.push({ ...identity, header, value: value.trim().slice(0, 200) });
    if (found.length >= EVIDENCE_LIMITS.edges) break;
  }
  return found;
}
