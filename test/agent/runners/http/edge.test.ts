import { describe, expect, it } from 'vitest';
import { EDGE_HEADERS, edgeIdentities } from '../../../../agent/runners/http/edge.ts';

describe('edge identity: one parser per header', () => {
  const cases: Array<{ header: string; value: string; provider: string; pop: string | null }> = [
    { header: 'cf-ray', value: '8f3b2c1d9e0a1b2c-FRA', provider: 'cloudflare', pop: 'FRA' },
    { header: 'cf-ray', value: '8f3b2c1d9e0a1b2c', provider: 'cloudflare', pop: null },
    { header: 'x-amz-cf-pop', value: 'FRA56-P1', provider: 'cloudfront', pop: 'FRA56-P1' },
    { header: 'x-served-by', value: 'cache-fra-eddf8230096-FRA, cache-ams21052-AMS', provider: 'fastly', pop: 'AMS' },
    { header: 'x-served-by', value: 'varnish-node-3', provider: 'varnish', pop: null },
    { header: 'fly-request-id', value: '01H7ZQ8V6X2Y3Z4A5B6C7D8E9F-fra', provider: 'fly', pop: 'FRA' },
    { header: 'x-vercel-id', value: 'fra1::iad1::8x2lq-1712345678901-abc123', provider: 'vercel', pop: 'fra1' },
    { header: 'x-vercel-id', value: 'something-else', provider: 'vercel', pop: null },
    { header: 'x-akamai-request-id', value: '1a2b3c', provider: 'akamai', pop: null },
    { header: 'akamai-grn', value: '0.1a2b3c.1712345678.abc', provider: 'akamai', pop: null },
    { header: 'x-azure-ref', value: '0abc', provider: 'azure', pop: null },
    { header: 'x-msedge-ref', value: 'Ref A: 123 Ref B: FRA', provider: 'azure', pop: null },
    { header: 'x-nf-request-id', value: '01ABC', provider: 'netlify', pop: null },
    { header: 'cdn-pullzone', value: '12345', provider: 'bunny', pop: null },
    { header: 'x-amz-cf-id', value: 'abcDEF==', provider: 'cloudfront', pop: null },
    { header: 'x-cache', value: 'Hit from cloudfront', provider: 'cloudfront', pop: null },
    { header: 'x-cache', value: 'HIT, MISS', provider: 'cache', pop: null },
    { header: 'via', value: '1.1 abc.cloudfront.net (CloudFront)', provider: 'cloudfront', pop: null },
    { header: 'via', value: '1.1 varnish', provider: 'varnish', pop: null },
    { header: 'via', value: '1.1 google', provider: 'google', pop: null },
    { header: 'via', value: '1.1 squid', provider: 'proxy', pop: null },
    { header: 'server', value: 'cloudflare', provider: 'cloudflare', pop: null },
    { header: 'server', value: 'AkamaiGHost', provider: 'akamai', pop: null },
    { header: 'server', value: 'BunnyCDN-DE1-1045', provider: 'bunny', pop: 'DE1' },
    { header: 'server', value: 'nginx/1.25.3', provider: 'server', pop: null },
  ];
  it.each(cases)('$header: $value → $provider $pop', ({ header, value, provider, pop }) => {
    expect(edgeIdentities({ [header]: value })).toEqual([{ provider, pop, header, value }]);
  });

  it('has a tested case for every header of the table', () => {
    for (const [header] of EDGE_HEADERS) expect(cases.some((c) => c.header === header), header).toBe(true);
  });

  it('lists every edge a response names, most specific first, ignoring empty values, capped', () => {
    const edges = edgeIdentities({ server: 'cloudflare', 'cf-ray': 'abc-AMS', via: '', 'x-cache': ['HIT', 'MISS'] });
    expect(edges.map((e) => `${e.header}:${e.provider}:${e.pop}`)).toEqual(['cf-ray:cloudflare:AMS', 'x-cache:cache:null', 'server:cloudflare:null']);
    const many = Object.fromEntries(EDGE_HEADERS.map(([header]) => [header, 'x']));
    expect(edgeIdentities(many)).toHaveLength(8);
    expect(edgeIdentities({ 'cf-ray': `${'a'.repeat(500)}-FRA` })[0]!.value).toHaveLength(200);
  });
});
