/**
 * The egress policy (egress.ts), the codes of short bodies, and what a cross-origin redirect may carry,
 * against real servers on 127.0.0.1. Denied addresses are never contacted: the connector refuses them
 * before any packet is sent, so these tests send traffic to loopback only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { createHttpRunner, runHttpCheck } from '../../../../agent/runners/http/index.ts';
import { DEFAULT_EGRESS_POLICY, cidrProblem, isDenied, type EgressPolicy } from '../../../../agent/runners/http/egress.ts';
import type { Lookup } from '../../../../agent/runners/http/connector.ts';
import { withSecrets } from '../../../../agent/secrets/apply.ts';
import { runnerTable } from '../../../../agent/runners/index.ts';
import { secret } from '../../../../checks/secrets.ts';
import { startHttpTarget, startTcpTarget, type TestTarget } from '../../../support/http-targets.ts';
import { httpCheck, runContext } from '../../../support/http-check.ts';

const targets: TestTarget[] = [];
const started = async (target: Promise<TestTarget>): Promise<TestTarget> => { const t = await target; targets.push(t); return t; };
afterEach(async () => { for (const t of targets.splice(0)) await t.close(); });

describe('isDenied', () => {
  const withLoopbackDenied: EgressPolicy = { denied: [...DEFAULT_EGRESS_POLICY.denied, '127.0.0.0/8'], allowed: ['127.0.0.2/32'] };
  it.each<[string, EgressPolicy, boolean]>([
    ['169.254.169.254', DEFAULT_EGRESS_POLICY, true],
    ['::ffff:169.254.169.254', DEFAULT_EGRESS_POLICY, true],
    ['fe80::1', DEFAULT_EGRESS_POLICY, true],
    ['fd00:ec2::254', DEFAULT_EGRESS_POLICY, true],
    ['100.100.100.200', DEFAULT_EGRESS_POLICY, true],
    ['127.0.0.1', DEFAULT_EGRESS_POLICY, false],
    ['::1', DEFAULT_EGRESS_POLICY, false],
    ['10.1.2.3', DEFAULT_EGRESS_POLICY, false],
    ['192.168.1.1', DEFAULT_EGRESS_POLICY, false],
    ['127.0.0.1', withLoopbackDenied, true],
    ['127.0.0.2', withLoopbackDenied, false],
    ['not-an-ip', DEFAULT_EGRESS_POLICY, true],
  ])('%s → denied: %s', (address, policy, denied) => {
    expect(isDenied(address, policy)).toBe(denied);
  });

  it('validates CIDR ranges', () => {
    expect(cidrProblem('10.0.0.0/8')).toBeNull();
    expect(cidrProblem('fe80::/10')).toBeNull();
    expect(cidrProblem('10.0.0.0/33')).toContain('0-32');
    expect(cidrProblem('nope')).toContain('not an address');
  });
});

describe('the HTTP runner with the egress policy', () => {
  it('refuses a metadata address given as the URL, without connecting', async () => {
    const report = await runHttpCheck(httpCheck({ url: 'http://169.254.169.254/latest/meta-data/' }), runContext(2_000));
    expect(report.error).toMatchObject({ code: 'TARGET_DENIED' });
    expect(report.outcome).toBe('fail');
  });

  it('refuses a redirect to a metadata address, and a name that resolves to one (on the next hop too)', async () => {
    const redirecting = await started(startHttpTarget((_req, res) => { res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }); res.end(); }));
    expect((await runHttpCheck(httpCheck({ url: redirecting.url('/') }), runContext(2_000))).error?.code).toBe('TARGET_DENIED');

    // DNS rebinding: the name answers loopback first, the metadata address on the second lookup.
    let lookups = 0;
    const rebinding: Lookup = (_host, options, callback) => {
      const address = ++lookups === 1 ? '127.0.0.1' : '169.254.169.254';
      if (options.all) callback(null, [{ address, family: 4 }]);
      else callback(null, address, 4);
    };
    const self = await started(startHttpTarget((req, res) => {
      if (req.url === '/') { res.writeHead(302, { location: '/again' }); res.end(); } else res.end('reached');
    }));
    const report = await createHttpRunner({ lookup: rebinding }).call(null, httpCheck({ url: self.url('/', 'rebind.test') }), runContext(2_000));
    expect(report.error?.code).toBe('TARGET_DENIED');
    expect(lookups).toBe(2);
  });

  it('refuses loopback when the agent denies it, and allows an exception', async () => {
    const target = await started(startHttpTarget((_req, res) => res.end('ok')));
    const denying = createHttpRunner({ egress: { denied: ['127.0.0.0/8'], allowed: [] } });
    expect((await denying(httpCheck({ url: target.url('/') }), runContext(2_000))).error?.code).toBe('TARGET_DENIED');
    expect(target.connections).toBe(0);
    const excepting = createHttpRunner({ egress: { denied: ['127.0.0.0/8'], allowed: ['127.0.0.1/32'] } });
    expect((await excepting(httpCheck({ url: target.url('/') }), runContext(2_000))).outcome).toBe('pass');
  });
});

describe('a cross-origin redirect', () => {
  it('drops every header and body that holds a secret, and keeps them on the same origin', async () => {
    const seen: Array<{ path: string; headers: IncomingMessage['headers']; body: string }> = [];
    const record = (req: IncomingMessage, done: (body: string) => void): void => {
      let body = '';
      req.on('data', (chunk: Buffer) => { body += chunk; }).on('end', () => done(body));
    };
    const other = await started(startHttpTarget((req, res) => record(req, (body) => { seen.push({ path: `other${req.url}`, headers: req.headers, body }); res.end('ok'); })));
    const origin = await started(startHttpTarget((req, res) => record(req, (body) => {
      seen.push({ path: `origin${req.url}`, headers: req.headers, body });
      if (req.url === '/start') { res.writeHead(307, { location: '/same' }); res.end(); }
      else if (req.url === '/same') { res.writeHead(308, { location: other.url('/elsewhere') }); res.end(); }
      else res.end('?');
    })));
    const runners = withSecrets(runnerTable({ http: runHttpCheck }), { KEY: 'k3y-value-0123456789' });
    const check = httpCheck({
      url: origin.url('/start'), method: 'POST', headers: { 'x-api-key': secret('KEY'), 'x-plain': 'kept' }, body: `{"key":"${secret('KEY')}"}`,
    });
    const report = await runners.http(check, runContext(3_000));
    expect(report.outcome).toBe('pass');
    expect(seen.map((s) => s.path)).toEqual(['origin/start', 'origin/same', 'other/elsewhere']);
    expect(seen[1]!.headers['x-api-key']).toBe('k3y-value-0123456789');
    expect(seen[1]!.body).toContain('k3y-value-0123456789');
    expect(seen[2]!.headers['x-api-key']).toBeUndefined();
    expect(seen[2]!.headers['x-plain']).toBe('kept');
    expect(seen[2]!.body).toBe('');
  });
});

describe('a body shorter than announced', () => {
  const respond = (text: string, end: 'close' | 'reset') => startTcpTarget((socket) => {
    socket.once('data', () => {
      socket.write(text);
      setTimeout(() => (end === 'reset' ? socket.resetAndDestroy() : socket.end()), 20);
    });
  });
  it.each<[string, string, 'close' | 'reset', string]>([
    ['Content-Length, then a close', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort', 'close', 'HTTP_BODY_INCOMPLETE'],
    ['Content-Length and Connection: close, then a close', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nshort', 'close', 'HTTP_BODY_INCOMPLETE'],
    ['a broken chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n', 'close', 'HTTP_BODY_INCOMPLETE'],
    ['chunks that stop, then a close', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', 'close', 'HTTP_BODY_INCOMPLETE'],
    ['chunks that stop, then a TCP reset', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', 'reset', 'CONNECTION_RESET'],
  ])('%s → %s', async (_name, text, end, code) => {
    const target = await started(respond(text, end));
    const report = await runHttpCheck(httpCheck({ url: target.url('/'), assertions: [{ type: 'body', op: 'contains', value: 'x' }] }), runContext(3_000));
    expect(report.error?.code).toBe(code);
  });
});
