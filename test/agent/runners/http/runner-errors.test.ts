/**
 * Every failure code the HTTP runner can meet on loopback, produced for real: refused and hanging
 * connections, resets, DNS answers from a DNS server on 127.0.0.1, bad certificates made by the test,
 * slow-drip bodies, garbage responses, and cancellation by the agent.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { Resolver } from 'node:dns';
import type { ServerResponse } from 'node:http';
import { runCancelled } from '../../../../agent/runs/execute.ts';
import { createHttpRunner, lookupVia, runHttpCheck } from '../../../../agent/runners/http/index.ts';
import type { RunReport } from '../../../../agent/runners/types.ts';
import { startDnsServer, type DnsBehaviour, type TestDnsServer } from '../../../support/dns-server.ts';
import { startHttpTarget, startHttpsTarget, startTcpTarget, startUnacceptingListener, type TestTarget } from '../../../support/http-targets.ts';
import { assertValidReport, httpCheck, runContext } from '../../../support/http-check.ts';
import { freePort } from '../../../support/redis.ts';
import { makeTestCertificates, type TestCertificates } from '../../../support/tls-certs.ts';

/**
 * Messages name the run's real budget, `min(timeoutMs, deadlineAt - start)`: a millisecond or two under
 * the check's timeout when the context's deadline was set just before the run began.
 */
const ABOUT_300 = '(29\\d|300)';

let certs: TestCertificates;
const cleanups: Array<() => Promise<void> | void> = [];
/** Starts something that the current test owns; it is stopped after the test. */
async function owned<T extends { close(): Promise<void> }>(started: Promise<T>): Promise<T> {
  const thing = await started;
  cleanups.push(() => thing.close());
  return thing;
}

beforeAll(() => { certs = makeTestCertificates(); });
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A failed run: valid against the contract, with this code, outcome `fail`. */
function expectFailure(report: RunReport, code: string, message?: string | RegExp): void {
  assertValidReport(report);
  expect(report.outcome).toBe('fail');
  expect(report.error?.code).toBe(code);
  if (typeof message === 'string') expect(report.error?.message).toBe(message);
  else if (message) expect(report.error?.message).toMatch(message);
  expect(report.timings).not.toBeNull();
}

describe('connecting', () => {
  it('CONNECT_REFUSED on a closed port', async () => {
    const port = await freePort();
    const report = await runHttpCheck(httpCheck({ url: `http://127.0.0.1:${port}/` }), runContext(5_000));
    expectFailure(report, 'CONNECT_REFUSED', `connection refused by 127.0.0.1:${port}`);
    expect(report.statusCode).toBeNull();
  });

  it('CONNECT_TIMEOUT when the listener never answers the SYN, at the run deadline', async () => {
    const listener = await owned(startUnacceptingListener());
    const started = performance.now();
    const report = await runHttpCheck(httpCheck({ url: `http://127.0.0.1:${listener.port}/`, timeoutMs: 300 }), runContext(300));
    expectFailure(report, 'CONNECT_TIMEOUT', new RegExp(`^could not connect to 127\\.0\\.0\\.1:${listener.port} within the ${ABOUT_300} ms deadline$`));
    expect(performance.now() - started).toBeLessThan(300 + 450);
    expect(report.timings?.connectMs).toBeNull();
  });

  it.each([
    ['reset (RST)', (res: ServerResponse) => res.socket!.resetAndDestroy(), /was reset while waiting for the response \(ECONNRESET\)/],
    ['closed (FIN)', (res: ServerResponse) => res.socket!.destroy(), /was closed by the server while waiting for the response/],
    ['reset mid-body', (res: ServerResponse) => { res.writeHead(200, { 'content-length': '100' }); res.write('0123456789', () => res.socket!.resetAndDestroy()); }, /was reset while reading the response body/],
  ])('CONNECTION_RESET when the server %s the connection', async (_name, misbehave, message) => {
    const target = await owned(startHttpTarget((_req, res) => misbehave(res)));
    const report = await runHttpCheck(httpCheck({ url: target.url('/') }), runContext(5_000));
    expectFailure(report, 'CONNECTION_RESET', message);
  });

  it('HTTP_BODY_INCOMPLETE when the server closes (FIN) before the announced body ended', async () => {
    const target = await owned(startHttpTarget((_req, res) => { res.writeHead(200, { 'content-length': '100' }); res.write('0123456789', () => res.socket!.destroy()); }));
    const report = await runHttpCheck(httpCheck({ url: target.url('/') }), runContext(5_000));
    expectFailure(report, 'HTTP_BODY_INCOMPLETE', /ended before it was complete/);
  });
});

describe('DNS, from a DNS server on 127.0.0.1', () => {
  async function runAgainstDns(behaviour: DnsBehaviour, timeoutMs = 2_000): Promise<{ report: RunReport; dns: TestDnsServer; runAgain: () => Promise<RunReport> }> {
    const dns = await owned(startDnsServer(behaviour));
    const resolver = new Resolver({ timeout: 5_000, tries: 1 });
    resolver.setServers([dns.server]);
    cleanups.push(() => resolver.cancel());
    const target = await owned(startHttpTarget((_req, res) => res.end('ok')));
    const runner = createHttpRunner({ lookup: lookupVia(resolver) });
    const runAgain = () => runner(httpCheck({ url: target.url('/', 'service.lookout.test'), timeoutMs }), runContext(timeoutMs));
    return { report: await runAgain(), dns, runAgain };
  }

  it('DNS_NXDOMAIN when the name does not exist', async () => {
    const { report } = await runAgainstDns({ rcode: 3 });
    expectFailure(report, 'DNS_NXDOMAIN', 'DNS: service.lookout.test does not exist (NXDOMAIN)');
    expect(report.timings?.dnsMs).not.toBeNull();
  });

  it('DNS_FAILURE when the server fails', async () => {
    const { report } = await runAgainstDns({ rcode: 2 });
    expectFailure(report, 'DNS_FAILURE', /^DNS lookup of service\.lookout\.test failed: .*ESERVFAIL/);
  });

  it('DNS_FAILURE when the server does not answer before the deadline', async () => {
    const { report } = await runAgainstDns('silent', 300);
    expectFailure(report, 'DNS_FAILURE', new RegExp(`^DNS lookup of service\\.lookout\\.test did not finish within the ${ABOUT_300} ms deadline$`));
  });

  it('resolves for every run: no answer is cached', async () => {
    const { report, dns, runAgain } = await runAgainstDns({ address: '127.0.0.1' });
    expect(report.outcome).toBe('pass');
    expect(report.timings?.dnsMs).not.toBeNull();
    const queriesAfterFirst = dns.queries;
    expect((await runAgain()).outcome).toBe('pass');
    expect(dns.queries).toBe(queriesAfterFirst * 2);
  });
});

describe('TLS, with certificates the test made', () => {
  const ok = (_req: unknown, res: ServerResponse) => res.end('ok');
  const runTls = async (cert: keyof Omit<TestCertificates, 'ca'>, trustTestCa = true) => {
    const target = await owned(startHttpsTarget(certs[cert], ok));
    const runner = trustTestCa ? createHttpRunner({ ca: certs.ca }) : runHttpCheck;
    return runner(httpCheck({ url: target.url('/', 'localhost') }), runContext(5_000));
  };

  it('TLS_CERT_EXPIRED', async () => {
    expectFailure(await runTls('expired'), 'TLS_CERT_EXPIRED', 'TLS certificate of localhost has expired');
  });

  it('TLS_CERT_UNTRUSTED for a self-signed certificate', async () => {
    expectFailure(await runTls('selfSigned'), 'TLS_CERT_UNTRUSTED', /^TLS certificate of localhost is not trusted: .*DEPTH_ZERO_SELF_SIGNED_CERT/);
  });

  it('TLS_CERT_UNTRUSTED for a certificate from an unknown CA', async () => {
    expectFailure(await runTls('valid', false), 'TLS_CERT_UNTRUSTED', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
  });

  it('TLS_HOSTNAME_MISMATCH', async () => {
    expectFailure(await runTls('wrongHost'), 'TLS_HOSTNAME_MISMATCH', /^TLS certificate is not valid for localhost: .*other\.invalid/);
  });

  it('TLS_FAILURE when the port does not speak TLS', async () => {
    const plain = await owned(startHttpTarget(ok));
    const report = await runHttpCheck(httpCheck({ url: `https://127.0.0.1:${plain.port}/` }), runContext(5_000));
    expectFailure(report, 'TLS_FAILURE', /ERR_SSL_/);
  });
});

describe('the deadline', () => {
  it('stops a slow-drip body (one byte every 100 ms, forever) at the deadline: TIMEOUT', async () => {
    let serverSawClose!: Promise<unknown>;
    const target = await owned(startHttpTarget((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
      const drip = setInterval(() => res.write('x'), 100);
      serverSawClose = once(res, 'close').finally(() => clearInterval(drip));
    }));
    const started = performance.now();
    const report = await runHttpCheck(httpCheck({ url: target.url('/drip'), timeoutMs: 500 }), runContext(500));
    expectFailure(report, 'TIMEOUT', /^response body from http:\/\/127\.0\.0\.1:\d+\/drip was still arriving at the (49\d|500) ms deadline \(\d+ bytes read\)$/);
    // Well before undici's own body timeout (deadline + 1 s) could have stopped it.
    expect(performance.now() - started).toBeLessThan(500 + 450);
    expect(report.statusCode).toBe(200);
    expect(report.responseBytes).toBeGreaterThan(0);
    await serverSawClose; // the connection is gone, not left dripping
  });

  it('TIMEOUT when no response comes, at the deadline of the context signal', async () => {
    const target = await owned(startHttpTarget(() => { /* never answers */ }));
    const report = await runHttpCheck(httpCheck({ url: target.url('/hang'), timeoutMs: 5_000 }), runContext(300));
    expectFailure(report, 'TIMEOUT', new RegExp(`^no response from http://127\\.0\\.0\\.1:\\d+/hang within the ${ABOUT_300} ms deadline$`));
    expect(report.timings?.firstByteMs).toBeNull();
  });

  it("TIMEOUT on the runner's own timer even if the context signal never fires", async () => {
    const target = await owned(startHttpTarget(() => { /* never answers */ }));
    const started = performance.now();
    const report = await runHttpCheck(httpCheck({ url: target.url('/hang'), timeoutMs: 300 }), runContext(300, new AbortController().signal));
    expectFailure(report, 'TIMEOUT');
    expect(performance.now() - started).toBeLessThan(300 + 450);
  });
});

describe('cancellation by the agent', () => {
  it('is an agent error, RUN_CANCELLED, with no timings', async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => { arrived = resolve; });
    const target = await owned(startHttpTarget(() => arrived()));
    const controller = new AbortController();
    const running = runHttpCheck(httpCheck({ url: target.url('/') }), runContext(5_000, controller.signal));
    await requestArrived;
    controller.abort(runCancelled());
    const report = await running;
    assertValidReport(report);
    expect(report).toMatchObject({ outcome: 'error', timings: null, error: { code: 'RUN_CANCELLED' } });
    expect(report.error?.message).toMatch(/^run cancelled before it finished: .*shutting down/);
  });

  it('before the run started, nothing is sent', async () => {
    const target = await owned(startHttpTarget((_req, res) => res.end()));
    const report = await runHttpCheck(httpCheck({ url: target.url('/') }), runContext(5_000, AbortSignal.abort(runCancelled())));
    expect(report.error?.code).toBe('RUN_CANCELLED');
    expect(target.connections).toBe(0);
  });

  it('a run handed over after its deadline is not started, and does not blame the target', async () => {
    const target = await owned(startHttpTarget((_req, res) => res.end()));
    const late = { ...runContext(5_000), deadlineAt: Date.now() - 10 };
    const report = await runHttpCheck(httpCheck({ url: target.url('/') }), late);
    assertValidReport(report);
    expect(report).toMatchObject({ outcome: 'error', timings: null, error: { code: 'RUN_CANCELLED', message: 'run not started: its deadline had already passed when the runner got it' } });
    expect(target.connections).toBe(0);
  });
});

describe('checks whose request cannot be sent', () => {
  it('a header value with a line break is the check\'s fault: INVALID_JOB, and nothing is sent', async () => {
    const target = await owned(startHttpTarget((_req, res) => res.end()));
    const report = await runHttpCheck(httpCheck({ url: target.url('/'), headers: { 'x-injected': 'a\r\nx-evil: 1' } }), runContext(5_000));
    assertValidReport(report);
    expect(report).toMatchObject({ outcome: 'error', timings: null, error: { code: 'INVALID_JOB' } });
    expect(report.error?.message).toMatch(/^the check's request cannot be sent: .*x-injected/);
    expect(target.connections).toBe(0);
  });
});

describe('responses that are not HTTP', () => {
  it.each([
    ['garbage', 'HELLO THERE\r\n\r\n', /^invalid HTTP response from 127\.0\.0\.1:\d+: .*Expected HTTP\//],
    ['a status code out of range', 'HTTP/1.1 999 Odd\r\ncontent-length: 0\r\n\r\n', /^http:\/\/127\.0\.0\.1:\d+\/ answered with status 999, outside 100-599$/],
  ])('HTTP_PROTOCOL_ERROR for %s', async (_name, response, message) => {
    const target = await owned(startTcpTarget((socket) => {
      socket.once('data', () => socket.end(response));
      socket.on('error', () => {});
    }));
    const report = await runHttpCheck(httpCheck({ url: target.url('/') }), runContext(5_000));
    expectFailure(report, 'HTTP_PROTOCOL_ERROR', message);
    expect(report.statusCode).toBeNull();
  });
});
