import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckRegistry } from '../../../coordinator/registry/store.ts';
import { silentLogger } from '../../../lib/log.ts';
import { TransactionRunner } from '../../../coordinator/platform/transaction.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../../support/redis.ts';
import { httpCheck } from '../support.ts';

let server: TestRedis;
let redis: Redis;
let tx: TransactionRunner;
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  tx = new TransactionRunner(redis, { size: 4 });
});
afterAll(async () => {
  await tx?.close();
  await redis?.quit();
  await server?.stop();
});

function registry(prefix = uniquePrefix('reg'), now?: () => number): CheckRegistry {
  return new CheckRegistry({ redis, tx, prefix, logger: silentLogger, now });
}

describe('registry', () => {
  it('adds, keeps unchanged versions, bumps changed ones, and prunes', async () => {
    let clock = 1_000;
    const reg = registry(undefined, () => clock);
    const first = await reg.applyDeployment([httpCheck('a'), httpCheck('b'), httpCheck('c')], { prune: false });
    expect(first).toEqual({ summary: { added: ['a', 'b', 'c'], changed: [], removed: [], unchanged: [], revision: 1 } });

    clock = 2_000;
    // Same definitions written differently (defaults omitted, keys in another order) are unchanged.
    const { type: _t, ...rest } = httpCheck('a');
    const sameA = { ...rest, type: 'http', method: undefined, tags: undefined };
    const second = await reg.applyDeployment([sameA, httpCheck('b', { url: 'http://127.0.0.1:9/v2' })], { prune: true });
    expect(second).toEqual({ summary: { added: [], changed: ['b'], removed: ['c'], unchanged: ['a'], revision: 2 } });

    const checks = await reg.listChecks();
    expect(checks.map((c) => [c.definition.id, c.version, c.updatedAt])).toEqual([['a', 1, 1_000], ['b', 2, 2_000]]);
    expect((await reg.getCheck('b'))?.definition).toMatchObject({ url: 'http://127.0.0.1:9/v2' });
    expect(await reg.getCheck('c')).toBeNull();
  });

  it('does not bump the revision for a deployment that changes nothing, and keeps absent checks without prune', async () => {
    const reg = registry();
    await reg.applyDeployment([httpCheck('a'), httpCheck('b')], { prune: false });
    const again = await reg.applyDeployment([httpCheck('a')], { prune: false });
    expect(again).toEqual({ summary: { added: [], changed: [], removed: [], unchanged: ['a'], revision: 1 } });
    expect(await reg.revision()).toBe(1);
    expect((await reg.listChecks()).map((c) => c.definition.id)).toEqual(['a', 'b']);
  });

  it('stores nothing when any definition is invalid, and lists every problem', async () => {
    const reg = registry();
    const result = await reg.applyDeployment([
      httpCheck('ok'),
      { ...httpCheck('bad'), frequencyMs: 10, regions: [] },
      httpCheck('ok'),
    ], { prune: false });
    expect('problems' in result && result.problems).toEqual(expect.arrayContaining([
      expect.objectContaining({ index: 1, checkId: 'bad', field: 'frequencyMs' }),
      expect.objectContaining({ index: 1, checkId: 'bad', field: 'regions' }),
      expect.objectContaining({ index: 2, checkId: 'ok', field: 'id', message: expect.stringContaining('duplicate') }),
    ]));
    expect(await reg.listChecks()).toEqual([]);
    expect(await reg.revision()).toBe(0);
  });

  it('removes one check and bumps the revision', async () => {
    const reg = registry();
    await reg.applyDeployment([httpCheck('a'), httpCheck('b')], { prune: false });
    expect(await reg.removeCheck('a')).toBe(true);
    expect(await reg.removeCheck('a')).toBe(false);
    expect(await reg.revision()).toBe(2);
    expect((await reg.listChecks()).map((c) => c.definition.id)).toEqual(['b']);
  });

  it('applies concurrent deployments atomically: every change is counted once', async () => {
    const prefix = uniquePrefix('reg');
    const regs = [registry(prefix), registry(prefix), registry(prefix)];
    await Promise.all(regs.map((reg, i) => reg.applyDeployment([httpCheck(`c${i}`), httpCheck('shared', { name: `v${i}` })], { prune: false })));
    const checks = await regs[0]!.listChecks();
    expect(checks.map((c) => c.definition.id)).toEqual(['c0', 'c1', 'c2', 'shared']);
    // `shared` was added once and changed twice: version 3, and three revisions in all.
    expect(checks.find((c) => c.definition.id === 'shared')!.version).toBe(3);
    expect(await regs[0]!.revision()).toBe(3);
  });
});
