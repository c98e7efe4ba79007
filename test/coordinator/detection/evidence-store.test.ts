/**
 * Evidence kept with the check state in a real redis-server: every applied result writes its region's
 * facts in the transition's MULTI; an open incident carries the comparison, recomputed as results come,
 * and so do the events about it; the deep evidence of a streak outlives the results that reuse none.
 */
import { describe, expect, it } from 'vitest';
import type { DeepEvidence, NetworkFacts, RunResult } from '../../../checks/contract.ts';
import { regionEvidenceKey } from '../../../checks/keys.ts';
import { silentLogger } from '../../../lib/log.ts';
import { CheckStateStore } from '../../../coordinator/detection/store.ts';
import { TransactionRunner } from '../../../coordinator/platform/transaction.ts';
import { CheckRegistry } from '../../../coordinator/registry/store.ts';
import { redisForFile, uniquePrefix } from '../../support/redis.ts';
import { httpCheck, runResult } from '../support.ts';

const shared = redisForFile();
const network = (addresses: string[]): NetworkFacts => ({
  url: 'http://shop.example.test/', host: 'shop.example.test', resolver: 'system', addresses, connectedAddress: addresses[0] ?? null,
  port: 80, tls: null, httpVersion: '1.1', edge: [],
});
const trace: DeepEvidence = {
  capturedAt: 1, reused: false, diagnosticDns: null,
  trace: { status: 'done', tool: 'mtr', target: '203.0.113.9', port: 80, reachedTarget: false, durationMs: 800, hops: [{ ttl: 1, address: '10.2.0.1', rttMs: 0.1, lossPct: 0 }, { ttl: 2, address: null, rttMs: null, lossPct: 100 }] },
};

describe('evidence with the check state', () => {
  it('opens the incident with its differences, keeps them current, and writes every region\'s facts', async () => {
    const prefix = uniquePrefix('evs');
    const tx = new TransactionRunner(shared.redis, { size: 2 });
    shared.onCleanup(() => tx.close());
    const registry = new CheckRegistry({ redis: shared.redis, tx, prefix, logger: silentLogger });
    await registry.deploy([httpCheck('shop', { regions: ['us-east', 'eu-west'], failureThreshold: 1 })], { prune: false });
    const store = new CheckStateStore({ redis: shared.redis, tx, prefix, registry });
    // Slots of now: a result older than its check's staleness bound is history, which cannot make a region up.
    const base = Date.now();
    const result = (region: string, at: number, overrides: Partial<RunResult> = {}) => runResult({ checkId: 'shop', region, scheduledAt: base + at, ...overrides });

    await store.applyResult(result('us-east', 1_000, { network: network(['198.51.100.7']) }));
    await store.applyResult(result('eu-west', 1_000, { network: network(['198.51.100.7']) }));
    expect(Object.keys(await shared.redis.hgetall(regionEvidenceKey(prefix, 'shop'))).sort()).toEqual(['eu-west', 'us-east']);

    const opened = await store.applyResult(result('eu-west', 2_000, { outcome: 'fail', network: network(['203.0.113.9']), evidence: trace }));
    const incident = opened!.state.incident!;
    expect(incident.evidence!.differences[0]!.text).toBe('eu-west resolves shop.example.test to 203.0.113.9, us-east to 198.51.100.7');
    expect(incident.evidence!.differences.map((d) => d.kind)).toEqual(['addresses', 'path', 'status']);
    expect(opened!.events[0]).toMatchObject({ type: 'incident.opened', incident: { evidence: incident.evidence } });

    // The next failure carries no deep evidence of its own: the streak's trace is still shown.
    const next = await store.applyResult(result('eu-west', 3_000, { outcome: 'fail', network: network(['203.0.113.9']) }));
    expect(next!.state.incident!.evidence!.perRegion['eu-west']!.evidence).toEqual(trace);
    const [stored] = (await store.readMany(['shop'])).values();
    expect(stored!.incident!.evidence!.differences.map((d) => d.kind)).toEqual(['addresses', 'path', 'status']);
    expect(JSON.parse((await shared.redis.hget(regionEvidenceKey(prefix, 'shop'), 'eu-west'))!)).toMatchObject({ at: base + 3_000, outcome: 'fail', evidence: null });
  });
});
