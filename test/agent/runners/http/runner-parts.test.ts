/** The HTTP runner's pure parts: redirect decisions, request headers, timings, decoders, the run guard. */
import { describe, expect, it } from 'vitest';
import { decodersFor } from '../../../../agent/runners/http/body.ts';
import { guardRun, isRunCancelled } from '../../../../agent/runners/http/deadline.ts';
import { decideRedirect, type HopRequest } from '../../../../agent/runners/http/redirects.ts';
import { buildRequestHeaders, redirectHeaders } from '../../../../agent/runners/http/request-headers.ts';
import { combineTimings, emptyMarks, hopPhases, type HopMarks } from '../../../../agent/runners/http/timings.ts';

const from = (method: HopRequest['method'], body?: string): HopRequest => ({ url: new URL('https://a.example/x/y?q=1'), method, body });

describe('decideRedirect', () => {
  it.each<[string, number, string | undefined, HopRequest, Record<string, unknown>]>([
    ['200 is final', 200, undefined, from('GET'), { kind: 'final' }],
    ['3xx without Location is final', 302, undefined, from('GET'), { kind: 'final' }],
    ['304 is final even with Location', 304, '/z', from('GET'), { kind: 'final' }],
    ['300 is not followed', 300, '/z', from('GET'), { kind: 'final' }],
    ['relative path', 302, 'z?p=2', from('GET'), { kind: 'follow', url: 'https://a.example/x/z?p=2', method: 'GET', body: undefined, bodyDropped: false, crossOrigin: false }],
    ['absolute path', 301, '/root', from('GET'), { kind: 'follow', url: 'https://a.example/root', method: 'GET', body: undefined, bodyDropped: false, crossOrigin: false }],
    ['other origin', 308, 'https://b.example/', from('GET'), { kind: 'follow', url: 'https://b.example/', method: 'GET', body: undefined, bodyDropped: false, crossOrigin: true }],
    ['scheme-relative, fragment dropped', 307, '//b.example/p#frag', from('GET'), { kind: 'follow', url: 'https://b.example/p', method: 'GET', body: undefined, bodyDropped: false, crossOrigin: true }],
    ['http downgrade is another origin', 302, 'http://a.example/', from('GET'), { kind: 'follow', url: 'http://a.example/', method: 'GET', body: undefined, bodyDropped: false, crossOrigin: true }],
    ['303 turns POST into GET', 303, '/done', from('POST', '{"a":1}'), { kind: 'follow', url: 'https://a.example/done', method: 'GET', body: undefined, bodyDropped: true, crossOrigin: false }],
    ['303 turns PUT into GET', 303, '/done', from('PUT', 'x'), { kind: 'follow', url: 'https://a.example/done', method: 'GET', body: undefined, bodyDropped: true, crossOrigin: false }],
    ['303 keeps HEAD', 303, '/done', from('HEAD'), { kind: 'follow', url: 'https://a.example/done', method: 'HEAD', body: undefined, bodyDropped: false, crossOrigin: false }],
    ['302 turns POST into GET', 302, '/done', from('POST', 'x'), { kind: 'follow', url: 'https://a.example/done', method: 'GET', body: undefined, bodyDropped: true, crossOrigin: false }],
    ['302 keeps DELETE', 302, '/done', from('DELETE'), { kind: 'follow', url: 'https://a.example/done', method: 'DELETE', body: undefined, bodyDropped: false, crossOrigin: false }],
    ['307 keeps POST and body', 307, '/again', from('POST', 'x'), { kind: 'follow', url: 'https://a.example/again', method: 'POST', body: 'x', bodyDropped: false, crossOrigin: false }],
    ['308 keeps PUT and body', 308, '/again', from('PUT', 'x'), { kind: 'follow', url: 'https://a.example/again', method: 'PUT', body: 'x', bodyDropped: false, crossOrigin: false }],
  ])('%s', (_name, status, location, current, expected) => {
    const decision = decideRedirect(status, location, current);
    if (decision.kind !== 'follow') return expect(decision).toEqual(expected);
    expect({
      kind: decision.kind, url: decision.next.url.href, method: decision.next.method, body: decision.next.body,
      bodyDropped: decision.bodyDropped, crossOrigin: decision.crossOrigin,
    }).toEqual(expected);
  });

  it.each([
    ['ftp://files.example/x', /ftp: URL "ftp:\/\/files\.example\/x": only http and https are followed/],
    ['javascript:alert(1)', /only http and https are followed/],
    ['http://[bad', /invalid Location "http:\/\/\[bad"/],
  ])('refuses Location %s', (location, message) => {
    const decision = decideRedirect(302, location, from('GET'));
    expect(decision.kind).toBe('invalid');
    if (decision.kind === 'invalid') expect(decision.message).toMatch(message);
  });
});

describe('request headers', () => {
  it('identifies the probe and its region', () => {
    expect(buildRequestHeaders({ Accept: 'text/html' }, 'eu-west', '1.2.3')).toEqual({
      accept: 'text/html',
      'user-agent': 'Lookout/1.2.3 (+synthetic monitoring; region=eu-west)',
      'accept-encoding': 'gzip, deflate, br',
      'x-lookout-region': 'eu-west',
    });
  });

  it("keeps the check's user-agent and accept-encoding, never its x-lookout-region", () => {
    expect(buildRequestHeaders({ 'User-Agent': 'mine/1', 'Accept-Encoding': 'identity', 'X-Lookout-Region': 'fake' }, 'us-east', '1.0.0')).toEqual({
      'user-agent': 'mine/1', 'accept-encoding': 'identity', 'x-lookout-region': 'us-east',
    });
  });

  it('drops body headers when a redirect drops the body, and credentials when it leaves the origin', () => {
    const headers = { 'content-type': 'application/json', 'content-length': '7', authorization: 'Bearer t', cookie: 'a=1', host: 'a.example', 'x-keep': '1' };
    expect(redirectHeaders(headers, { bodyDropped: false, crossOrigin: false })).toBe(headers);
    expect(redirectHeaders(headers, { bodyDropped: true, crossOrigin: false })).toEqual({ authorization: 'Bearer t', cookie: 'a=1', host: 'a.example', 'x-keep': '1' });
    expect(redirectHeaders(headers, { bodyDropped: false, crossOrigin: true })).toEqual({ 'content-type': 'application/json', 'content-length': '7', 'x-keep': '1' });
    expect(headers.authorization).toBe('Bearer t');
  });
});

describe('timings', () => {
  const marks = (over: Partial<HopMarks>): HopMarks => ({ ...emptyMarks(), ...over });

  it.each<[string, HopMarks, Record<string, number | null>]>([
    ['https with a lookup', marks({ connectStart: 10, dnsStart: 10, dnsEnd: 14, connected: 20, secured: 35, headers: 60, bodyEnd: 70 }),
      { dnsMs: 4, connectMs: 6, tlsMs: 15, firstByteMs: 25, downloadMs: 10 }],
    ['http to an IP literal', marks({ connectStart: 10, connected: 12, headers: 30, bodyEnd: 31 }),
      { dnsMs: null, connectMs: 2, tlsMs: null, firstByteMs: 18, downloadMs: 1 }],
    ['failed while connecting', marks({ connectStart: 10, dnsStart: 10, dnsEnd: 11 }),
      { dnsMs: 1, connectMs: null, tlsMs: null, firstByteMs: null, downloadMs: null }],
    ['body not read (a redirect)', marks({ connectStart: 0, connected: 1, headers: 5 }),
      { dnsMs: null, connectMs: 1, tlsMs: null, firstByteMs: 4, downloadMs: null }],
  ])('%s', (_name, hop, phases) => {
    expect(hopPhases(hop)).toEqual(phases);
  });

  it('sums phases over redirect hops, keeping null for phases no hop had', () => {
    const hops = [
      marks({ connectStart: 0, connected: 1, headers: 5 }),
      marks({ connectStart: 6, dnsStart: 6, dnsEnd: 8, connected: 9.5, headers: 12, bodyEnd: 15.25 }),
    ];
    expect(combineTimings(hops, 16.0004)).toEqual({ dnsMs: 2, connectMs: 2.5, tlsMs: null, firstByteMs: 6.5, downloadMs: 3.25, totalMs: 16 });
    expect(combineTimings([], 3)).toEqual({ dnsMs: null, connectMs: null, tlsMs: null, firstByteMs: null, downloadMs: null, totalMs: 3 });
  });
});

describe('decodersFor', () => {
  it.each<[string | undefined, number | null]>([
    [undefined, 0], ['', 0], ['identity', 0], ['gzip', 1], ['x-gzip', 1], ['GZIP', 1], ['deflate', 1], ['br', 1],
    ['gzip, br', 2], ['identity, gzip', 1], ['zstd', null], ['gzip, compress', null],
  ])('content-encoding %j → %j decoders', (encoding, count) => {
    const decoders = decodersFor(encoding);
    expect(decoders === null ? null : decoders.length).toBe(count);
  });
});

describe('guardRun', () => {
  it('tells a cancellation from a deadline by the reason code', () => {
    const cancelled = new AbortController();
    const guard = guardRun(cancelled.signal, 60_000);
    cancelled.abort(Object.assign(new Error('shutting down'), { code: 'RUN_CANCELLED' }));
    expect(guard.cause).toBe('cancelled');
    expect(guard.signal.aborted).toBe(true);
    guard.dispose();

    const deadline = new AbortController();
    const other = guardRun(deadline.signal, 60_000);
    deadline.abort(Object.assign(new Error('deadline'), { code: 'TIMEOUT' }));
    expect(other.cause).toBe('deadline');
    other.dispose();
    expect([isRunCancelled(undefined), isRunCancelled(new DOMException('x', 'TimeoutError')), isRunCancelled({ code: 'RUN_CANCELLED' })]).toEqual([false, false, true]);
  });

  it('fires on its own timer when the outside signal never does', async () => {
    const guard = guardRun(new AbortController().signal, 20);
    await new Promise((resolve) => guard.signal.addEventListener('abort', resolve, { once: true }));
    expect(guard.cause).toBe('deadline');
    guard.dispose();
  });

  it('is already aborted when the outside signal was', () => {
    const guard = guardRun(AbortSignal.abort(Object.assign(new Error('x'), { code: 'RUN_CANCELLED' })), 60_000);
    expect(guard.cause).toBe('cancelled');
    guard.dispose();
  });
});
