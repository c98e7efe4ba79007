/**
 * Why a region fails, decided from the regions' latest facts: one table row per kind of split, each
 * stating its difference first, and what must not be claimed.
 */
import { describe, expect, it } from 'vitest';
import type { DeepEvidence, NetworkFacts } from '../../../checks/contract.ts';
import { explainSplit, incidentEvidence, mergeRegionEvidence, type RegionEvidence } from '../../../coordinator/detection/evidence.ts';

const facts = (overrides: Partial<NetworkFacts> = {}): NetworkFacts => ({
  url: 'https://shop.example.com/', host: 'shop.example.com', resolver: 'system (nameservers 10.0.0.2)',
  addresses: ['198.51.100.7'], connectedAddress: '198.51.100.7', port: 443, tls: null, httpVersion: '1.1', edge: [], ...overrides,
});
const pass = (network: NetworkFacts = facts(), status = 200): RegionEvidence =>
  ({ at: 1_000, outcome: 'pass', code: null, message: null, statusCode: status, network, evidence: null });
const fail = (code: string, network: NetworkFacts | null = facts(), statusCode: number | null = null, extra: Partial<RegionEvidence> = {}): RegionEvidence =>
  ({ at: 1_000, outcome: 'fail', code, message: `${code} happened`, statusCode, network, evidence: null, ...extra });
const deep = (overrides: Partial<DeepEvidence> = {}): DeepEvidence => ({ capturedAt: 1_000, reused: false, trace: null, diagnosticDns: null, ...overrides });
const tls = (fingerprint256: string, issuer = 'R3') => ({
  protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', subject: 'shop.example.com', sans: ['shop.example.com'], issuer, notAfter: '2030-01-01T00:00:00.000Z', fingerprint256,
});
const cfRay = (pop: string) => [{ provider: 'cloudflare', pop, header: 'cf-ray', value: `8f3b2c1d9e0a1b2c-${pop}` }];
const cutTrace = (address: string, ttl = 2): DeepEvidence['trace'] => ({
  status: 'done', tool: 'mtr', target: '198.51.100.7', port: 443, reachedTarget: false, durationMs: 900,
  hops: [{ ttl: 1, address: '10.2.0.1', rttMs: 0.1, lossPct: 0 }, ...(ttl > 1 ? [{ ttl, address, rttMs: 0.2, lossPct: 0 }] : []), { ttl: ttl + 1, address: null, rttMs: null, lossPct: 100 }],
});

describe('explainSplit', () => {
  const cases: Array<{ name: string; failing: string[]; passing: string[]; perRegion: Record<string, RegionEvidence>; expected: string[] }> = [
    {
      name: 'GeoDNS: the failing region resolves to another address',
      failing: ['eu-west'], passing: ['us-east', 'ap-south'],
      perRegion: { 'eu-west': fail('CONNECT_REFUSED', facts({ addresses: ['203.0.113.9'], connectedAddress: null })), 'us-east': pass(), 'ap-south': pass() },
      expected: [
        'addresses: eu-west resolves shop.example.com to 203.0.113.9, the passing regions to 198.51.100.7',
        'status: eu-west gets CONNECT_REFUSED, the passing regions status 200',
      ],
    },
    {
      name: 'two failing regions share one address',
      failing: ['eu-west', 'ap-south'], passing: ['us-east'],
      perRegion: {
        'eu-west': fail('TIMEOUT', facts({ addresses: ['203.0.113.9', '203.0.113.10'] })), 'ap-south': fail('TIMEOUT', facts({ addresses: ['203.0.113.9'] })), 'us-east': pass(),
      },
      expected: [
        'addresses: eu-west and ap-south resolve shop.example.com to eu-west: 203.0.113.9, 203.0.113.10; ap-south: 203.0.113.9 (all share 203.0.113.9), us-east to 198.51.100.7',
        'status: eu-west and ap-south get TIMEOUT, us-east status 200',
      ],
    },
    {
      name: 'a region that cannot resolve the name',
      failing: ['eu-west'], passing: ['us-east'],
      perRegion: { 'eu-west': fail('DNS_NXDOMAIN', facts({ addresses: [], connectedAddress: null, httpVersion: null })), 'us-east': pass() },
      expected: ['addresses: eu-west cannot resolve shop.example.com (DNS_NXDOMAIN), us-east resolves it to 198.51.100.7', 'status: eu-west gets DNS_NXDOMAIN, us-east status 200'],
    },
    {
      name: 'the diagnostic resolver answers otherwise than the region\'s own',
      failing: ['eu-west'], passing: ['us-east'],
      perRegion: {
        'eu-west': fail('CONNECT_TIMEOUT', facts({ addresses: ['198.51.100.7'] }), null, { evidence: deep({ diagnosticDns: { resolver: 'DNS 9.9.9.9', addresses: ['198.51.100.8'], error: null } }) }),
        'us-east': pass(),
      },
      expected: [
        'resolver: eu-west\'s resolver (system (nameservers 10.0.0.2)) answers 198.51.100.7 for shop.example.com; its diagnostic resolver (DNS 9.9.9.9) answers 198.51.100.8',
        'status: eu-west gets CONNECT_TIMEOUT, us-east status 200',
      ],
    },
    {
      name: 'an edge POP: same address, another point of presence',
      failing: ['eu-west'], passing: ['us-east', 'ap-south'],
      perRegion: { 'eu-west': fail('ASSERTION_FAILED', facts({ edge: cfRay('FRA') }), 502), 'us-east': pass(facts({ edge: cfRay('AMS') })), 'ap-south': pass(facts({ edge: cfRay('SIN') })) },
      expected: [
        'edge: eu-west reaches the edge cloudflare FRA, the passing regions us-east: cloudflare AMS; ap-south: cloudflare SIN',
        'status: eu-west gets status 502, the passing regions status 200',
      ],
    },
    {
      name: 'another certificate from one edge',
      failing: ['eu-west'], passing: ['us-east'],
      perRegion: { 'eu-west': fail('TLS_CERT_EXPIRED', facts({ tls: tls('AA:BB:CC:DD:EE:FF:00:11:22:33', 'Old CA') })), 'us-east': pass(facts({ tls: tls('11:22:33:44:55:66:77:88:99:00') })) },
      expected: [
        'certificate: eu-west gets another certificate (shop.example.com from Old CA, expires 2030-01-01, SHA-256 AA:BB:CC:DD:EE:FF:00:11…) than us-east (shop.example.com from R3, expires 2030-01-01, SHA-256 11:22:33:44:55:66:77:88…)',
        'status: eu-west gets TLS_CERT_EXPIRED, us-east status 200',
      ],
    },
    {
      name: 'a path cut at a hop',
      failing: ['eu-west'], passing: ['us-east'],
      perRegion: { 'eu-west': fail('CONNECT_TIMEOUT', facts(), null, { evidence: deep({ trace: cutTrace('10.100.1.2') }) }), 'us-east': pass() },
      expected: [
        'path: eu-west\'s path to 198.51.100.7:443 ends at hop 2 (10.100.1.2): nothing answers beyond it',
        'status: eu-west gets CONNECT_TIMEOUT, us-east status 200',
      ],
    },
    {
      name: 'two regions break at a common hop',
      failing: ['eu-west', 'ap-south'], passing: ['us-east'],
      perRegion: {
        'eu-west': fail('CONNECT_TIMEOUT', facts(), null, { evidence: deep({ trace: cutTrace('10.100.1.2') }) }),
        'ap-south': fail('CONNECT_TIMEOUT', facts(), null, { evidence: deep({ trace: cutTrace('10.100.1.2', 3) }) }),
        'us-east': pass(),
      },
      expected: [
        'path: eu-west and ap-south\'s path to 198.51.100.7:443 breaks at a common hop, at hop 2 (10.100.1.2): nothing answers beyond it',
        'status: eu-west and ap-south get CONNECT_TIMEOUT, us-east status 200',
      ],
    },
    {
      name: 'blocked, not down: the block is stated, and no status difference beside it',
      failing: ['eu-west'], passing: ['us-east'],
      perRegion: {
        'eu-west': fail('BLOCKED_BY_TARGET', facts({ edge: cfRay('FRA') }), 403, { message: 'the target blocked this probe: Cloudflare challenge (cf-mitigated: challenge); 1 of 1 assertion failed: …' }),
        'us-east': pass(facts({ edge: cfRay('FRA') })),
      },
      expected: ['blocked: the target blocks the probes of eu-west (Cloudflare challenge (cf-mitigated: challenge)); us-east gets status 200'],
    },
    {
      name: 'nothing but the status differs: only that is said',
      failing: ['eu-west'], passing: ['us-east'],
      perRegion: { 'eu-west': fail('ASSERTION_FAILED', facts(), 503), 'us-east': pass() },
      expected: ['status: eu-west gets status 503, us-east status 200'],
    },
    {
      name: 'a difference that holds for one failing region only is not claimed',
      failing: ['eu-west', 'ap-south'], passing: ['us-east'],
      perRegion: { 'eu-west': fail('ASSERTION_FAILED', facts({ addresses: ['203.0.113.9'] }), 503), 'ap-south': fail('ASSERTION_FAILED', facts(), 503), 'us-east': pass() },
      expected: ['status: eu-west and ap-south get status 503, us-east status 200'],
    },
    {
      name: 'everywhere failing: nothing to compare but the path',
      failing: ['eu-west', 'us-east'], passing: [],
      perRegion: { 'eu-west': fail('CONNECT_TIMEOUT'), 'us-east': fail('CONNECT_TIMEOUT') },
      expected: [],
    },
    {
      name: 'regions without facts (old agents) are left out',
      failing: ['eu-west'], passing: ['us-east'],
      perRegion: { 'eu-west': fail('CONNECT_TIMEOUT', null), 'us-east': pass() },
      expected: ['status: eu-west gets CONNECT_TIMEOUT, us-east status 200'],
    },
  ];
  it.each(cases)('$name', ({ failing, passing, perRegion, expected }) => {
    expect(explainSplit(failing, passing, perRegion).map((d) => `${d.kind}: ${d.text}`)).toEqual(expected);
  });

  it('names what each region saw', () => {
    const [first] = explainSplit(['eu-west'], ['us-east'], { 'eu-west': fail('CONNECT_REFUSED', facts({ addresses: ['203.0.113.9'] })), 'us-east': pass() });
    expect(first).toMatchObject({ kind: 'addresses', failing: { 'eu-west': '203.0.113.9' }, passing: { 'us-east': '198.51.100.7' } });
  });
});

describe('mergeRegionEvidence', () => {
  const kept = { at: 5_000, evidence: deep({ trace: cutTrace('10.100.1.2') }) };
  it.each([
    { name: 'a failing region keeps the deep evidence of its current streak', since: 5_000, outcome: 'fail' as const, keeps: true },
    { name: 'not evidence from an earlier streak', since: 6_000, outcome: 'fail' as const, keeps: false },
    { name: 'a passing region keeps none', since: null, outcome: 'pass' as const, keeps: false },
  ])('$name', ({ since, outcome, keeps }) => {
    const latest = { 'eu-west': outcome === 'fail' ? fail('CONNECT_TIMEOUT') : pass() };
    const merged = mergeRegionEvidence(latest, { 'eu-west': kept }, { 'eu-west': since });
    expect(merged['eu-west']!.evidence).toEqual(keeps ? kept.evidence : null);
  });
  it('drops regions that are no longer the check\'s', () => {
    expect(Object.keys(mergeRegionEvidence({ gone: pass(), 'eu-west': pass() }, {}, { 'eu-west': null }))).toEqual(['eu-west']);
  });
});

it('incidentEvidence keeps the incident\'s regions and their differences', () => {
  const evidence = incidentEvidence({ failingRegions: ['eu-west'], passingRegions: ['us-east'], noDataRegions: [] },
    { 'eu-west': fail('ASSERTION_FAILED', facts(), 503), 'us-east': pass(), other: pass() });
  expect(Object.keys(evidence.perRegion).sort()).toEqual(['eu-west', 'us-east']);
  expect(evidence.differences.map((d) => d.kind)).toEqual(['status']);
});
