/**
 * The HTTP runner against real servers on 127.0.0.1: what a passing run records, what the target sees,
 * fresh connections, decoded and capped bodies, redirects and assertions. Failure codes are in
 * runner-errors.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { Timings } from '../../../../checks/contract.ts';
import { createHttpRunner, runHttpCheck } from '../../../../agent/runners/http/index.ts';
import { startHttpTarget, startHttpsTarget, type TestTarget } from '../../../support/http-targets.ts';
import { assertValidReport, httpCheck, runContext, TEST_REGION } from '../../../support/http-check.ts';
import { makeTestCertificates, type TestCertificates } from '../../../support/tls-certs.ts';

interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const VERSION = (JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const JSON_BODY = JSON.stringify({ status: 'ok', checks: [{ name: 'db', healthy: true }] });
const BIG_TEXT = 'lookout '.repeat(4096); // 32 KiB, compresses well
/** 50 MB of zeros: about 50 KB of gzip. */
let gzipBomb: Buffer;
let certs: TestCertificates;
let target: TestTarget;
let secureTarget: TestTarget;
const seen: SeenRequest[] = [];

function respond(req: IncomingMessage, res: ServerResponse, body: string): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  switch (path) {
    case '/json': res.setHeader('content-type', 'application/json'); res.end(JSON_BODY); return;
    case '/html': res.setHeader('content-type', 'text/html'); res.end('<html><body>Welcome</body></html>'); return;
    case '/unavailable': res.statusCode = 503; res.end('down for maintenance'); return;
    case '/gzip': res.setHeader('content-encoding', 'gzip'); res.end(gzipSync(BIG_TEXT)); return;
    case '/deflate': res.setHeader('content-encoding', 'deflate'); res.end(deflateSync(BIG_TEXT)); return;
    case '/br': res.setHeader('content-encoding', 'br'); res.end(brotliCompressSync(BIG_TEXT)); return;
    case '/unknown-encoding': res.setHeader('content-encoding', 'zstd'); res.end('not really zstd'); return;
    case '/corrupt-gzip': res.setHeader('content-encoding', 'gzip'); res.end(Buffer.concat([gzipSync(BIG_TEXT).subarray(0, 20), Buffer.from('garbage!')])); return;
    case '/bomb': res.setHeader('content-encoding', 'gzip'); res.end(gzipBomb); return;
    case '/large': res.end(Buffer.alloc(5000, 'a')); return;
    case '/redirect-once': res.writeHead(302, { location: 'json?from=redirect' }).end(); return;
    case '/see-other': res.writeHead(303, { location: '/echo' }).end(); return;
    case '/loop': res.writeHead(302, { location: '/loop' }).end(); return;
    case '/bad-location': res.writeHead(301, { location: 'ftp://files.example/' }).end(); return;
    case '/echo': res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ method: req.method, body })); return;
    default: res.end('hello');
  }
}

function handler(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    respond(req, res, body);
  });
}

beforeAll(async () => {
  gzipBomb = gzipSync(Buffer.alloc(50_000_000), { level: 9 });
  certs = makeTestCertificates();
  target = await startHttpTarget(handler);
  secureTarget = await startHttpsTarget(certs.valid, handler);
});

afterAll(async () => {
  await target?.close();
  await secureTarget?.close();
});

const run = (fields: Parameters<typeof httpCheck>[0]) => runHttpCheck(httpCheck(fields), runContext(5_000));
const trusting = () => createHttpRunner({ ca: certs.ca });

/** Phases are non-negative and, being disjoint stretches of the run, add up to no more than the total. */
function expectConsistent(timings: Timings | null): Timings {
  expect(timings).not.toBeNull();
  const t = timings!;
  const phases = [t.dnsMs, t.connectMs, t.tlsMs, t.firstByteMs, t.downloadMs].filter((p): p is number => p !== null);
  for (const phase of phases) expect(phase).toBeGreaterThanOrEqual(0);
  expect(phases.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(t.totalMs + 0.01);
  return t;
}

describe('a passing run', () => {
  it('over http to an IP literal: no DNS, no TLS, every other phase timed', async () => {
    const report = await run({ url: target.url('/json') });
    assertValidReport(report);
    expect(report).toMatchObject({ outcome: 'pass', error: null, statusCode: 200, responseBytes: JSON_BODY.length });
    expect(report.assertions).toEqual([expect.objectContaining({ passed: true, expected: 'status between 200 and 399', actual: 'status 200' })]);
    const t = expectConsistent(report.timings);
    expect(t.dnsMs).toBeNull();
    expect(t.tlsMs).toBeNull();
    expect([t.connectMs, t.firstByteMs, t.downloadMs].every((p) => p !== null)).toBe(true);
    expect(report.endedAt).toBeGreaterThanOrEqual(report.startedAt);
  });

  it('HEAD: no body to read', async () => {
    const report = await run({ url: target.url('/json'), method: 'HEAD' });
    expect(report).toMatchObject({ outcome: 'pass', statusCode: 200, responseBytes: 0 });
  });

  it('to localhost: the lookup is timed', async () => {
    const report = await run({ url: target.url('/json', 'localhost') });
    expect(report.outcome).toBe('pass');
    expect(expectConsistent(report.timings).dnsMs).not.toBeNull();
  });

  it('over https with a trusted CA: every phase timed, TLS included', async () => {
    const report = await trusting()(httpCheck({ url: secureTarget.url('/json', 'localhost') }), runContext(5_000));
    assertValidReport(report);
    expect(report.outcome).toBe('pass');
    const t = expectConsistent(report.timings);
    expect([t.dnsMs, t.connectMs, t.tlsMs, t.firstByteMs, t.downloadMs].every((p) => p !== null)).toBe(true);
  });

  it('over https to an IP literal: the certificate is checked against the IP', async () => {
    const report = await trusting()(httpCheck({ url: secureTarget.url('/json') }), runContext(5_000));
    expect(report.outcome).toBe('pass');
    const t = expectConsistent(report.timings);
    expect(t.dnsMs).toBeNull();
    expect(t.tlsMs).not.toBeNull();
  });
});

describe('what the target sees', () => {
  it('a Lookout user-agent and the region, plus the check method, headers and body', async () => {
    seen.length = 0;
    await run({ url: target.url('/echo'), method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Trace': 'abc' }, body: '{"a":1}' });
    expect(seen).toHaveLength(1);
    const [request] = seen;
    expect(request!.method).toBe('POST');
    expect(request!.body).toBe('{"a":1}');
    expect(request!.headers).toMatchObject({
      'user-agent': `Lookout/${VERSION} (+synthetic monitoring; region=${TEST_REGION})`,
      'x-lookout-region': TEST_REGION,
      'content-type': 'application/json',
      'x-trace': 'abc',
      'accept-encoding': 'gzip, deflate, br',
    });
  });

  it("the check's own user-agent, but always the real region", async () => {
    seen.length = 0;
    await run({ url: target.url('/'), headers: { 'user-agent': 'acme-probe/2', 'x-lookout-region': 'spoofed' } });
    expect(seen[0]!.headers['user-agent']).toBe('acme-probe/2');
    expect(seen[0]!.headers['x-lookout-region']).toBe(TEST_REGION);
  });

  it('a new connection for every run, and no resumed TLS session', async () => {
    const plainBefore = target.connections;
    await run({ url: target.url('/') });
    await run({ url: target.url('/') });
    expect(target.connections - plainBefore).toBe(2);

    const runner = trusting();
    const secureBefore = secureTarget.connections;
    for (let i = 0; i < 3; i++) expect((await runner(httpCheck({ url: secureTarget.url('/', 'localhost') }), runContext(5_000))).outcome).toBe('pass');
    expect(secureTarget.connections - secureBefore).toBe(3);
    expect(secureTarget.resumedSessions).toBe(0);
  });
});

describe('bodies', () => {
  it.each(['/gzip', '/deflate', '/br'])('%s is decoded for assertions, and counted decoded', async (path) => {
    const report = await run({ url: target.url(path), assertions: [{ type: 'body', op: 'contains', value: 'lookout lookout' }] });
    expect(report.outcome).toBe('pass');
    expect(report.responseBytes).toBe(BIG_TEXT.length);
  });

  it('an unknown content-encoding is read as it came', async () => {
    const report = await run({ url: target.url('/unknown-encoding'), assertions: [{ type: 'body', op: 'contains', value: 'not really' }] });
    expect(report.outcome).toBe('pass');
  });

  it('a body that does not decode is a protocol error', async () => {
    const report = await run({ url: target.url('/corrupt-gzip') });
    assertValidReport(report);
    expect(report.outcome).toBe('fail');
    expect(report.error?.code).toBe('HTTP_PROTOCOL_ERROR');
    expect(report.error?.message).toMatch(/could not decode the gzip body/);
  });

  it('a body over maxBodyBytes fails with BODY_TOO_LARGE', async () => {
    const report = await run({ url: target.url('/large'), maxBodyBytes: 1000 });
    assertValidReport(report);
    expect(report.error?.code).toBe('BODY_TOO_LARGE');
    expect(report.error?.message).toContain('exceeds 1000 bytes');
    expect(report.responseBytes).toBeGreaterThan(1000);
    expect(report.statusCode).toBe(200);
  });

  it('a gzip bomb is stopped at the cap, not inflated', async () => {
    const report = await run({ url: target.url('/bomb'), maxBodyBytes: 1024 * 1024 });
    expect(report.error?.code).toBe('BODY_TOO_LARGE');
    // Decoding stopped within one decoder chunk of the cap, nowhere near the 50 MB inside.
    expect(report.responseBytes).toBeGreaterThan(1024 * 1024);
    expect(report.responseBytes).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024);
  });
});

describe('redirects', () => {
  it('follows a relative Location, sums the phases over both hops and reports the last status', async () => {
    seen.length = 0;
    const connectionsBefore = target.connections;
    const report = await run({ url: target.url('/redirect-once'), assertions: [{ type: 'jsonPath', path: '$.status', op: 'equals', value: 'ok' }] });
    assertValidReport(report);
    expect(report).toMatchObject({ outcome: 'pass', statusCode: 200, responseBytes: JSON_BODY.length });
    expect(seen.map((r) => r.url)).toEqual(['/redirect-once', '/json?from=redirect']);
    expect(target.connections - connectionsBefore).toBe(2);
    expectConsistent(report.timings);
  });

  it('303 turns a POST into a GET without body', async () => {
    seen.length = 0;
    const report = await run({ url: target.url('/see-other'), method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'payload' });
    expect(report.outcome).toBe('pass');
    expect(seen.map((r) => [r.method, r.url, r.body, r.headers['content-type']])).toEqual([
      ['POST', '/see-other', 'payload', 'text/plain'],
      ['GET', '/echo', '', undefined],
    ]);
  });

  it('a redirect loop fails with TOO_MANY_REDIRECTS after maxRedirects hops', async () => {
    seen.length = 0;
    const report = await run({ url: target.url('/loop'), maxRedirects: 3 });
    assertValidReport(report);
    expect(report).toMatchObject({ outcome: 'fail', statusCode: 302, error: { code: 'TOO_MANY_REDIRECTS' } });
    expect(report.error?.message).toMatch(/^more than 3 redirects: http:\/\/127\.0\.0\.1:\d+\/loop redirects \(302\) to/);
    expect(seen).toHaveLength(4);
  });

  it('is not followed when followRedirects is off: the 3xx is the response', async () => {
    seen.length = 0;
    const report = await run({ url: target.url('/loop'), followRedirects: false, assertions: [{ type: 'status', op: 'equals', value: 302 }] });
    expect(report).toMatchObject({ outcome: 'pass', statusCode: 302 });
    expect(seen).toHaveLength(1);
  });

  it('a Location that is not http(s) is a protocol error', async () => {
    const report = await run({ url: target.url('/bad-location') });
    expect(report.error?.code).toBe('HTTP_PROTOCOL_ERROR');
    expect(report.error?.message).toContain('only http and https are followed');
  });
});

describe('assertions', () => {
  it('failed assertions fail the run with ASSERTION_FAILED and say what was seen', async () => {
    const report = await run({ url: target.url('/unavailable'), assertions: [{ type: 'status', op: 'equals', value: 200 }, { type: 'body', op: 'notContains', value: 'error' }] });
    assertValidReport(report);
    expect(report.outcome).toBe('fail');
    expect(report.statusCode).toBe(503);
    expect(report.error).toEqual({ code: 'ASSERTION_FAILED', message: '1 of 2 assertions failed: expected status 200, got status 503' });
    expect(report.assertions.map((a) => a.passed)).toEqual([false, true]);
    expect(report.timings).not.toBeNull();
  });

  it('jsonPath assertions on a JSON body, and on a body that is not JSON', async () => {
    const ok = await run({ url: target.url('/json'), assertions: [{ type: 'jsonPath', path: '$.checks[0].healthy', op: 'equals', value: true }] });
    expect(ok.outcome).toBe('pass');
    const html = await run({ url: target.url('/html'), assertions: [{ type: 'jsonPath', path: '$.status', op: 'exists' }] });
    expect(html.error?.code).toBe('ASSERTION_FAILED');
    expect(html.assertions[0]!.actual).toMatch(/^body is not JSON: /);
  });

  it('headers and response time', async () => {
    const report = await run({
      url: target.url('/html'),
      assertions: [{ type: 'header', name: 'Content-Type', op: 'contains', value: 'text/html' }, { type: 'responseTime', op: 'lessThan', ms: 5_000 }],
    });
    expect(report.outcome).toBe('pass');
    expect(report.assertions.map((a) => a.actual)).toEqual(['content-type: "text/html"', expect.stringMatching(/^response time \d+ ms$/)]);
  });
});
