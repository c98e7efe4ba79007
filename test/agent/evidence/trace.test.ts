/**
 * Path traces: the parsers on the tools' real output, and real traces on loopback (the suite installs
 * mtr-tiny and traceroute, and runs as root, which traceroute -T needs).
 */
import { describe, expect, it } from 'vitest';
import { findTraceTools, parseMtrJson, parseTraceroute, tracePath, trimSilentTail } from '../../../agent/evidence/trace.ts';

/** `mtr --json --tcp --port 8080 -c 1 -n 10.202.0.2` from a namespace whose path is cut after the first router. */
const MTR_CUT = JSON.stringify({
  report: {
    mtr: { src: 'vm', dst: '10.202.0.2', tos: 0, tests: 1, psize: '64', bitpattern: '0x00' },
    hubs: [
      { count: 1, host: '10.201.1.1', 'Loss%': 0.0, Snt: 1, Last: 0.115, Avg: 0.115, Best: 0.115, Wrst: 0.115, StDev: 0.0 },
      { count: 2, host: '???', 'Loss%': 100.0, Snt: 1, Last: 0.0, Avg: 0.0, Best: 0.0, Wrst: 0.0, StDev: 0.0 },
    ],
  },
});
/** `traceroute -T -p 8080 -n -q 1 -w 1 -m 12 10.202.0.2` on the same cut path. */
const TRACEROUTE_CUT = `traceroute to 10.202.0.2 (10.202.0.2), 12 hops max, 60 byte packets
 1  10.201.1.1  0.050 ms
 2  *
 3  *
 4  *
`;

describe('trace parsers', () => {
  it('read mtr\'s JSON report', () => {
    expect(parseMtrJson(MTR_CUT)).toEqual([
      { ttl: 1, address: '10.201.1.1', rttMs: 0.115, lossPct: 0 },
      { ttl: 2, address: null, rttMs: null, lossPct: 100 },
    ]);
  });
  it('read traceroute\'s lines', () => {
    expect(parseTraceroute(TRACEROUTE_CUT)).toEqual([
      { ttl: 1, address: '10.201.1.1', rttMs: 0.05, lossPct: 0 },
      { ttl: 2, address: null, rttMs: null, lossPct: 100 },
      { ttl: 3, address: null, rttMs: null, lossPct: 100 },
      { ttl: 4, address: null, rttMs: null, lossPct: 100 },
    ]);
  });
  it.each(['', 'not json', '{"report":{}}'])('refuse what is not mtr\'s report: %j', (text) => {
    expect(() => parseMtrJson(text)).toThrow();
  });
  it('keep one silent hop after the last that answered', () => {
    expect(trimSilentTail(parseTraceroute(TRACEROUTE_CUT)).map((h) => h.address)).toEqual(['10.201.1.1', null]);
    expect(trimSilentTail([{ ttl: 1, address: null, rttMs: null, lossPct: 100 }]).map((h) => h.address)).toEqual([null]);
  });
});

describe('tracePath', () => {
  it('reports a missing tool as unavailable evidence', async () => {
    expect(await tracePath('127.0.0.1', 80, 2_000, { mtr: null, traceroute: null })).toEqual({
      status: 'unavailable', reason: 'no trace tool on this agent (install mtr-tiny or traceroute)',
    });
  });

  it('says when the budget is too short to try', async () => {
    expect(await tracePath('127.0.0.1', 80, 100, findTraceTools())).toMatchObject({ status: 'failed', reason: expect.stringContaining('no time left') });
  });

  const tools = findTraceTools();
  it.each([
    { name: 'mtr', tools: { mtr: tools.mtr, traceroute: null } },
    { name: 'traceroute', tools: { mtr: null, traceroute: tools.traceroute } },
  ])('traces to a loopback address with $name within its budget', async ({ name, tools: only }) => {
    const started = Date.now();
    const trace = await tracePath('127.0.0.1', 9, 1_500, only);
    expect(Date.now() - started).toBeLessThan(1_500 + 500);
    expect(trace).toMatchObject({ status: 'done', tool: name, target: '127.0.0.1', port: 9, reachedTarget: true });
    if (trace.status === 'done') expect(trace.hops.at(-1)!.address).toBe('127.0.0.1');
  });
});
