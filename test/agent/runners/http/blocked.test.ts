import { describe, expect, it } from 'vitest';
import { BLOCK_PAGES, blockSignal } from '../../../../agent/runners/http/blocked.ts';

describe('blockSignal', () => {
  const cases: Array<{ name: string; status: number; headers?: Record<string, string>; body?: string; reason: string | null }> = [
    { name: 'a Cloudflare challenge header', status: 403, headers: { 'cf-mitigated': 'challenge', server: 'cloudflare' }, reason: 'Cloudflare challenge (cf-mitigated: challenge)' },
    { name: 'the challenge header wins over any status', status: 200, headers: { 'cf-mitigated': 'Challenge' }, reason: 'Cloudflare challenge (cf-mitigated: challenge)' },
    { name: 'AWS WAF captcha', status: 405, headers: { 'x-amzn-waf-action': 'captcha' }, reason: 'AWS WAF captcha (x-amzn-waf-action)' },
    { name: 'a Cloudflare challenge page (503)', status: 503, body: '<html><head><title>Just a moment...</title></head>', reason: 'Cloudflare challenge page (status 503)' },
    { name: 'a Cloudflare block page', status: 403, body: '<title>Attention Required! | Cloudflare</title>', reason: 'Cloudflare block page (status 403)' },
    { name: 'an Akamai block page', status: 403, body: '<H1>Access Denied</H1> You don\'t have permission ... Reference #18.2f3c1702.1712345678.5e6f7a8', reason: 'Akamai block page (status 403)' },
    { name: 'an Imperva block page', status: 200, body: 'Request unsuccessful. Incapsula incident ID: 123-456', reason: 'Imperva block page (status 200)' },
    { name: 'a DataDome challenge', status: 403, body: '<script src="https://ct.captcha-delivery.com/c.js">', reason: 'DataDome challenge page (status 403)' },
    { name: 'a PerimeterX challenge', status: 403, body: '<div id="px-captcha"></div>', reason: 'PerimeterX challenge page (status 403)' },
    { name: 'an F5 block page', status: 200, body: 'The requested URL was rejected. Please consult with your administrator.', reason: 'F5 block page (status 200)' },
    { name: 'rate limited', status: 429, headers: { 'retry-after': '30' }, reason: 'rate limited (429, retry-after 30)' },
    { name: 'forbidden, naming the server', status: 403, headers: { server: 'AkamaiGHost' }, reason: 'forbidden (403 from AkamaiGHost)' },
    { name: 'forbidden', status: 403, reason: 'forbidden (403)' },
    { name: 'an outage is not a block', status: 503, body: 'upstream connect error', reason: null },
    { name: 'a wrong page is not a block', status: 200, body: '<title>Welcome</title>', reason: null },
    { name: 'a 404 is not a block', status: 404, reason: null },
  ];
  it.each(cases)('$name', ({ status, headers, body, reason }) => {
    expect(blockSignal(status, headers ?? {}, body)?.reason ?? null).toBe(reason);
  });

  it('has a tested page for every marker', () => {
    for (const [, what] of BLOCK_PAGES) expect(cases.some((c) => c.reason?.startsWith(what)), what).toBe(true);
  });
});
