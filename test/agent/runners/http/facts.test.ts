/**
 * Network facts of real runs against servers on 127.0.0.1 (http and https with the tests' own CA), and a
 * block recognised as BLOCKED_BY_TARGET.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHttpRunner, runHttpCheck } from '../../../../agent/runners/http/index.ts';
import { startHttpTarget, startHttpsTarget, type TestTarget } from '../../../support/http-targets.ts';
import { assertValidReport, httpCheck, runContext } from '../../../support/http-check.ts';
import { makeTestCertificates, type TestCertificates } from '../../../support/tls-certs.ts';

let certs: TestCertificates;
let target: TestTarget;
let secure: TestTarget;

function handler(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path === '/edge') { res.writeHead(200, { 'cf-ray': '8f3b2c1d9e0a1b2c-FRA', server: 'cloudflare' }).end('ok'); return; }
  if (path === '/down') { res.writeHead(503, { 'set-cookie': 'session=abc123', 'x-request-id': 'r-1', server: 'nginx' }).end('down'); return; }
  if (path === '/challenge') { res.writeHead(403, { 'cf-mitigated': 'challenge', 'cf-ray': '8f3b2c1d9e0a1b2c-FRA', server: 'cloudflare' }).end('<title>Just a moment...</title>'); return; }
  if (path === '/redirect') { res.writeHead(302, { location: '/edge' }).end(); return; }
  res.end('ok');
}

beforeAll(async () => {
  certs = makeTestCertificates();
  target = await startHttpTarget(handler);
  secure = await startHttpsTarget(certs.valid, handler);
});
afterAll(async () => {
  await target?.close();
  await secure?.close();
});

describe('network facts', () => {
  it('of a plain http run to an IP literal: the address connected to, the edge, no TLS, no headers when it passes', async () => {
    const report = await runHttpCheck(httpCheck({ url: target.url('/edge') }), runContext(5_000));
    assertValidReport(report);
    expect(report.network).toMatchObject({
      url: target.url('/edge'), host: '127.0.0.1', resolver: 'none (IP address)', addresses: ['127.0.0.1'], connectedAddress: '127.0.0.1',
      port: Number(new URL(target.url('/')).port), tls: null, httpVersion: '1.1',
    });
    expect(report.network!.edge).toEqual([
      { provider: 'cloudflare', pop: 'FRA', header: 'cf-ray', value: '8f3b2c1d9e0a1b2c-FRA' },
      { provider: 'cloudflare', pop: null, header: 'server', value: 'cloudflare' },
    ]);
    expect(report.network!.responseHeaders).toBeUndefined();
  });

  it('of an https run through a name: every resolved address, the resolver, and the leaf certificate', async () => {
    const url = secure.url('/').replace('127.0.0.1', 'localhost');
    const report = await createHttpRunner({ ca: certs.ca })(httpCheck({ url }), runContext(5_000));
    assertValidReport(report);
    expect(report.outcome).toBe('pass');
    const facts = report.network!;
    expect(facts.host).toBe('localhost');
    expect(facts.resolver).toMatch(/^system/);
    expect(facts.addresses).toContain(facts.connectedAddress);
    const leaf = new X509Certificate(certs.valid.cert);
    expect(facts.tls).toEqual({
      protocol: 'TLSv1.3', cipher: expect.any(String), subject: 'localhost', sans: ['localhost', '127.0.0.1'],
      issuer: 'Lookout Test CA', notAfter: new Date(leaf.validTo).toISOString(), fingerprint256: leaf.fingerprint256,
    });
  });

  it('of a failed run: the response headers too, cookies redacted', async () => {
    const report = await runHttpCheck(httpCheck({ url: target.url('/down') }), runContext(5_000));
    assertValidReport(report);
    expect(report.error?.code).toBe('ASSERTION_FAILED');
    const headers = Object.fromEntries(report.network!.responseHeaders!);
    expect(headers).toMatchObject({ 'set-cookie': '[redacted]', 'x-request-id': 'r-1', server: 'nginx' });
    expect(JSON.stringify(report)).not.toContain('abc123');
  });

  it('describe the last hop after a redirect', async () => {
    const report = await runHttpCheck(httpCheck({ url: target.url('/redirect') }), runContext(5_000));
    expect(report.network!.url).toBe(target.url('/edge'));
    expect(report.network!.edge[0]!.pop).toBe('FRA');
  });

  it('of a connection that failed: the address it tried, no HTTP version', async () => {
    const report = await runHttpCheck(httpCheck({ url: 'http://127.0.0.1:9/' }), runContext(5_000));
    expect(report.error?.code).toBe('CONNECT_REFUSED');
    expect(report.network).toMatchObject({ host: '127.0.0.1', resolver: 'none (IP address)', addresses: ['127.0.0.1'], connectedAddress: null, httpVersion: null, edge: [] });
  });

  it('can be turned off (to measure their cost)', async () => {
    const report = await createHttpRunner({ facts: false })(httpCheck({ url: target.url('/edge') }), runContext(5_000));
    expect(report.network).toBeUndefined();
  });
});

describe('blocked, not down', () => {
  it('a 403 with cf-mitigated: challenge fails as BLOCKED_BY_TARGET, naming the challenge', async () => {
    const report = await runHttpCheck(httpCheck({ url: target.url('/challenge') }), runContext(5_000));
    assertValidReport(report);
    expect(report.error?.code).toBe('BLOCKED_BY_TARGET');
    expect(report.error?.message).toBe('the target blocked this probe: Cloudflare challenge (cf-mitigated: challenge); 1 of 1 assertion failed: expected status between 200 and 399, got status 403');
  });

  it('a check that expects the 403 passes', async () => {
    const report = await runHttpCheck(httpCheck({ url: target.url('/challenge'), assertions: [{ type: 'status', op: 'equals', value: 403 }] }), runContext(5_000));
    expect(report.outcome).toBe('pass');
  });
});
