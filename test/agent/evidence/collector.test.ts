/**
 * Deeper evidence around the real HTTP runner, against targets on 127.0.0.1 and a loopback DNS server:
 * captured on the first failure of a streak, reused by the failures right after, never on passes, started
 * while a silent run still waits for its timeout, and never more than the budget after a fast failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withEvidence } from '../../../agent/evidence/collector.ts';
import { parseResolverAddress } from '../../../agent/evidence/resolver.ts';
import { findTraceTools } from '../../../agent/evidence/trace.ts';
import { runHttpCheck } from '../../../agent/runners/http/index.ts';
import { runnerTable } from '../../../agent/runners/index.ts';
import { startDnsServer, type TestDnsServer } from '../../support/dns-server.ts';
import { startHttpTarget, startUnacceptingListener, type TestTarget, type UnacceptingListener } from '../../support/http-targets.ts';
import { assertValidReport, httpCheck, runContext } from '../../support/http-check.ts';

let target: TestTarget;
let silent: UnacceptingListener;
let dns: TestDnsServer;
let failing = true;
beforeAll(async () => {
  target = await startHttpTarget((req, res) => { req.resume(); res.writeHead(failing ? 503 : 200).end(); });
  silent = await startUnacceptingListener();
  dns = await startDnsServer({ address: '203.0.113.9' });
});
afterAll(async () => {
  await target?.close();
  await silent?.close();
  await dns?.close();
});

const table = (options: Parameters<typeof withEvidence>[1]) => withEvidence(runnerTable({ http: runHttpCheck }), { tools: findTraceTools(), ...options });

describe('evidence on failure', () => {
  it('is captured on the first failure of a streak, reused by the next failures, and never added to a pass', async () => {
    // A budget that holds on a busy machine: this test is about what is captured, not how fast.
    const runners = table({ diagnosticResolver: dns.server, extraMs: 4_000 });
    const check = httpCheck({ id: 'shop', url: target.url('/').replace('127.0.0.1', 'localhost') });
    failing = true;
    const first = await runners.http(check, runContext(5_000));
    assertValidReport(first);
    expect(first.evidence).toMatchObject({
      reused: false,
      trace: { status: 'done', target: first.network!.connectedAddress, port: Number(new URL(target.url('/')).port), reachedTarget: true },
      // The second resolver answers otherwise than the system's (localhost): the difference shows.
      diagnosticDns: { resolver: `DNS ${dns.server}`, addresses: ['203.0.113.9'], error: null },
    });
    const again = await runners.http(check, runContext(5_000));
    expect(again.evidence).toEqual({ ...first.evidence, reused: true });

    failing = false;
    const pass = await runners.http(check, runContext(5_000));
    expect(pass.outcome).toBe('pass');
    expect(pass.evidence).toBeUndefined();
  });

  it('starts while a silent run waits for its timeout, so it adds nothing after it', async () => {
    const runners = table({ speculateAfterMs: 200, extraMs: 1_000 });
    const started = Date.now();
    // A long timeout: the trace gets the rest of it, enough even on a busy machine.
    const report = await runners.http(httpCheck({ id: 'silent', url: `http://127.0.0.1:${silent.port}/`, timeoutMs: 4_000 }), runContext(4_000));
    const took = Date.now() - started;
    expect(report.error?.code).toBe('CONNECT_TIMEOUT');
    expect(report.evidence?.trace).toMatchObject({ status: 'done', target: '127.0.0.1', port: silent.port });
    // Captured during the run: the result comes with the deadline, not a trace later.
    expect(report.evidence!.capturedAt).toBeLessThan(report.endedAt);
    expect(took).toBeLessThan(4_000 + 1_000);
  });

  it('holds a fast failure back no longer than its budget', async () => {
    const runners = table({ extraMs: 600 });
    const started = Date.now();
    const report = await runners.http(httpCheck({ id: 'refused', url: 'http://127.0.0.1:9/' }), runContext(5_000));
    expect(report.error?.code).toBe('CONNECT_REFUSED');
    // Done, or cut at the budget on a busy machine: either way the result is not held longer.
    expect(['done', 'failed']).toContain(report.evidence?.trace?.status);
    expect(Date.now() - started).toBeLessThan(600 + 1_000);
  });

  it('says so when no trace tool is installed, and the run still fails for its own reason', async () => {
    const runners = table({ tools: { mtr: null, traceroute: null } });
    const report = await runners.http(httpCheck({ id: 'no-tools', url: 'http://127.0.0.1:9/' }), runContext(5_000));
    assertValidReport(report);
    expect(report.error?.code).toBe('CONNECT_REFUSED');
    expect(report.evidence).toMatchObject({ trace: { status: 'unavailable' }, diagnosticDns: null, reused: false });
  });
});

describe('parseResolverAddress', () => {
  it.each([
    ['9.9.9.9', true], ['10.0.0.2:5353', true], ['[2620:fe::fe]:53', true], ['2620:fe::fe', true],
    ['dns.google', false], ['9.9.9.9:0', false], ['9.9.9.9:70000', false], ['300.1.1.1', false], ['', false],
  ])('%s → %s', (text, ok) => {
    expect(parseResolverAddress(text).ok).toBe(ok);
  });
});
