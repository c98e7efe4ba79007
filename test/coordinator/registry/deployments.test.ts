/**
 * Deployments through a real coordinator: the plan (nothing applied), apply at the planned revision,
 * the delete guard, the history with who deployed, rollbacks; and atomicity: a step refused by Redis
 * inside the transaction applies nothing, and a scheduler reconcile failing after the commit leaves
 * the registry applied and converges on the next reconcile.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckDefinition } from '../../../checks/contract.ts';
import { startCoordinator, type RunningCoordinator } from '../../../coordinator/coordinator.ts';
import { deploymentsKey, registryKey, registryRevisionKey, knownRegionsKey } from '../../../checks/keys.ts';
import { silentLogger } from '../../../lib/log.ts';
import { CheckRegistry } from '../../../coordinator/registry/store.ts';
import { TokenStore } from '../../../coordinator/http/tokens.ts';
import { TransactionRunner } from '../../../coordinator/platform/transaction.ts';
import { redisForFile, uniquePrefix } from '../../support/redis.ts';
import { httpCheck, memoryLogger, testConfig } from '../support.ts';

const shared = redisForFile();

describe('deployments API', () => {
  let coordinator: RunningCoordinator;
  let token: string;
  let prefix: string;
  beforeAll(async () => {
    prefix = uniquePrefix('dep');
    token = (await new TokenStore({ redis: shared.redis, prefix }).create({ name: 'ci', scopes: ['deploy'] })).token;
    coordinator = await startCoordinator(testConfig(shared.url, prefix, { auth: true }), { logger: memoryLogger().logger, deliver: async () => {} });
  });
  afterAll(async () => { await coordinator?.stop(); });

  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${coordinator.url}${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    return { status: response.status, json: await response.json() as any };
  };
  const history = async () => (await (await fetch(`${coordinator.url}/api/deployments`, { headers: { authorization: `Bearer ${token}` } })).json() as any).deployments;
  const ids = async () => (await coordinator.registry.listChecks()).map((c) => c.definition.id);
  const v1 = [httpCheck('a'), httpCheck('b'), httpCheck('c'), httpCheck('d')];

  it('plans added, changed (by property) and removed checks without applying anything', async () => {
    expect((await post('/api/deployments', { checks: v1, prune: true })).status).toBe(200);
    const revision = await coordinator.registry.revision();
    const planned = await post('/api/deployments/plan', {
      checks: [httpCheck('a', { frequencyMs: 30_000, assertions: [{ type: 'status', op: 'equals', value: 204 }] }), httpCheck('b'), httpCheck('c'), httpCheck('e')],
      prune: true,
    });
    expect(planned.status).toBe(200);
    expect(planned.json).toEqual({
      plan: {
        added: ['e'],
        changed: [{ id: 'a', changes: [{ path: 'assertions.0.value', before: 200, after: 204 }, { path: 'frequencyMs', before: 60_000, after: 30_000 }] }],
        removed: ['d'],
        unchanged: ['b', 'c'],
      },
      revision, registered: 4, guard: { allowed: true },
    });
    expect(await ids()).toEqual(['a', 'b', 'c', 'd']);
    expect(await coordinator.registry.revision()).toBe(revision);
  });

  it('applies only at the revision the plan was made at', async () => {
    const revision = await coordinator.registry.revision();
    const stale = await post('/api/deployments', { checks: [...v1, httpCheck('e')], prune: true, expectedRevision: revision - 1 });
    expect(stale).toMatchObject({ status: 409, json: { error: { code: 'REGISTRY_CHANGED' } } });
    expect(await ids()).toEqual(['a', 'b', 'c', 'd']);
    const applied = await post('/api/deployments', { checks: [...v1, httpCheck('e')], prune: true, expectedRevision: revision });
    expect(applied.status).toBe(200);
    expect(applied.json.summary).toMatchObject({ added: ['e'], changed: [], removed: [], unchanged: ['a', 'b', 'c', 'd'], revision: revision + 1 });
    expect(applied.json.deployment).toMatchObject({ id: `dep-${revision + 1}`, kind: 'deploy', actor: { name: 'ci' }, summary: { added: ['e'] } });
  });

  it('refuses to remove more than the allowed share of the checks unless forced, applying nothing', async () => {
    const refused = await post('/api/deployments', { checks: [httpCheck('a'), httpCheck('b')], prune: true });
    expect(refused.status).toBe(409);
    expect(refused.json.error).toMatchObject({ code: 'DELETE_GUARD', message: expect.stringMatching(/remove 3 of 5 deployed check\(s\) \(60%, more than the 50% allowed\): c, d, e/) });
    expect(await ids()).toEqual(['a', 'b', 'c', 'd', 'e']);
    const planned = await post('/api/deployments/plan', { checks: [httpCheck('a'), httpCheck('b')], prune: true });
    expect(planned.json.guard).toMatchObject({ allowed: false });
    // A stricter share refuses even one removal; force overrides any share.
    expect((await post('/api/deployments', { checks: v1, prune: true, maxDeleteShare: 0.1 })).json.error.code).toBe('DELETE_GUARD');
    expect((await post('/api/deployments', { checks: v1, prune: true, maxDeleteShare: 0.1, force: true })).status).toBe(200);
    expect(await ids()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('rolls back deployment after deployment, and says when there is nothing left to roll back', async () => {
    const before = await history();
    const changed = await post('/api/deployments', { checks: [httpCheck('a', { name: 'A v2' }), httpCheck('b'), httpCheck('c'), httpCheck('f')], prune: true });
    expect(changed.json.summary).toMatchObject({ added: ['f'], changed: ['a'], removed: ['d'] });

    const preview = await post('/api/deployments/rollback', { dryRun: true });
    expect(preview.json).toMatchObject({ rolledBack: changed.json.deployment.id, dryRun: true, deployment: null,
      plan: { added: ['d'], removed: ['f'], changed: [{ id: 'a', changes: [{ path: 'name', before: 'A v2', after: 'Check a' }] }] } });
    expect(await ids()).toEqual(['a', 'b', 'c', 'f']);

    const rolled = await post('/api/deployments/rollback', { expectedTarget: changed.json.deployment.id });
    expect(rolled.status).toBe(200);
    expect(rolled.json.deployment).toMatchObject({ kind: 'rollback', rollbackOf: changed.json.deployment.id, actor: { name: 'ci' } });
    expect(await ids()).toEqual(['a', 'b', 'c', 'd']);
    expect((await coordinator.registry.getCheck('a'))!.definition.name).toBe('Check a');
    // The removed check's schedule went with it.
    const scheduled = coordinator.scheduler.pairs().filter((p) => p.region === 'us-east').map((p) => p.id);
    expect(scheduled).toEqual(['a@us-east', 'b@us-east', 'c@us-east', 'd@us-east']);

    const listed = await history();
    expect(listed).toHaveLength(before.length + 2);
    expect(listed[0]).toMatchObject({ kind: 'rollback', rollbackOf: changed.json.deployment.id, rolledBack: false });
    expect(listed[1]).toMatchObject({ id: changed.json.deployment.id, rolledBack: true, changes: [{ id: 'a', changes: [{ path: 'name', before: 'Check a', after: 'A v2' }] }] });

    // A stale preview is refused: the next rollback undoes an older deployment.
    expect((await post('/api/deployments/rollback', { expectedTarget: changed.json.deployment.id })).json.error.code).toBe('REGISTRY_CHANGED');
    // Walk back through every deployment of this coordinator, down to the empty registry.
    for (let i = 0; i < before.length; i++) expect((await post('/api/deployments/rollback', {})).status).toBe(200);
    expect(await ids()).toEqual([]);
    expect(await post('/api/deployments/rollback', {})).toMatchObject({ status: 409, json: { error: { code: 'NOTHING_TO_ROLL_BACK' } } });
  });

  it('records a check deleted through the API, and a rollback brings it back', async () => {
    await post('/api/deployments', { checks: [httpCheck('x'), httpCheck('y')], prune: true });
    const deleted = await fetch(`${coordinator.url}/api/checks/x`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(deleted.status).toBe(200);
    expect((await history())[0]).toMatchObject({ kind: 'delete', summary: { removed: ['x'] }, actor: { name: 'ci' } });
    await post('/api/deployments/rollback', {});
    expect(await ids()).toEqual(['x', 'y']);
  });

  it('keeps the registry applied when the scheduler reconcile fails after the commit, and converges on the next reconcile', async () => {
    // A key of the wrong type makes the reconcile's Redis step fail (WRONGTYPE), after the registry commit.
    await shared.redis.del(knownRegionsKey(prefix));
    await shared.redis.set(knownRegionsKey(prefix), 'not a set');
    const applied = await post('/api/deployments', { checks: [httpCheck('x'), httpCheck('y'), httpCheck('z', { regions: ['ap-south'] })], prune: true });
    expect(applied.status).toBe(200);
    expect(applied.json.schedulers).toMatchObject({ error: { code: 'RECONCILE_FAILED' } });
    expect(await ids()).toEqual(['x', 'y', 'z']);
    expect(coordinator.scheduler.pairs().map((p) => p.id)).not.toContain('z@ap-south');

    await shared.redis.del(knownRegionsKey(prefix));
    await coordinator.reconcile();
    expect(coordinator.scheduler.pairs().map((p) => p.id)).toContain('z@ap-south');
    expect(await shared.redis.smembers(knownRegionsKey(prefix))).toContain('ap-south');
  });
});

describe('registry atomicity', () => {
  const snapshot = async (prefix: string) => ({
    registry: await shared.redis.hgetall(registryKey(prefix)),
    revision: await shared.redis.get(registryRevisionKey(prefix)),
    history: await shared.redis.lrange(deploymentsKey(prefix), 0, -1),
  });

  it('applies nothing when Redis refuses one step of the deployment transaction', async () => {
    const prefix = uniquePrefix('atomic');
    const tx = new TransactionRunner(shared.redis, { size: 2 });
    const registry = new CheckRegistry({ redis: shared.redis, tx, prefix, logger: silentLogger });
    await registry.deploy([httpCheck('a'), httpCheck('b')], { prune: true });
    const before = await snapshot(prefix);

    // A Redis user that may do everything but trim lists: the history's LTRIM, the last command of
    // the MULTI, is refused when queued, and Redis then discards the whole transaction.
    await shared.redis.call('ACL', 'SETUSER', 'no-ltrim', 'on', '>pw', '~*', '&*', '+@all', '-ltrim');
    const restricted = new Redis(shared.url, { username: 'no-ltrim', password: 'pw' });
    const restrictedTx = new TransactionRunner(restricted, { size: 2 });
    try {
      const failing = new CheckRegistry({ redis: restricted, tx: restrictedTx, prefix, logger: silentLogger });
      await expect(failing.deploy([httpCheck('a', { name: 'changed' }), httpCheck('c')], { prune: true }))
        .rejects.toMatchObject({ code: 'DEPLOY_FAILED', message: expect.stringMatching(/nothing was applied: EXECABORT/) });
      await expect(failing.rollback()).rejects.toMatchObject({ code: 'DEPLOY_FAILED' });
      await expect(failing.removeCheck('a')).rejects.toMatchObject({ code: 'DEPLOY_FAILED' });
    } finally {
      await restrictedTx.close();
      restricted.disconnect();
      await tx.close();
    }
    expect(await snapshot(prefix)).toEqual(before);
  });

  it('refuses to roll back over a change made outside the history', async () => {
    const prefix = uniquePrefix('drift');
    const tx = new TransactionRunner(shared.redis, { size: 2 });
    const registry = new CheckRegistry({ redis: shared.redis, tx, prefix, logger: silentLogger });
    try {
      await registry.deploy([httpCheck('a')], { prune: true });
      await registry.deploy([httpCheck('a', { name: 'v2' })], { prune: true });
      // As an older coordinator (without a history) would write it.
      const edited: CheckDefinition = httpCheck('a', { name: 'edited by hand' });
      await shared.redis.multi().hset(registryKey(prefix), 'a', JSON.stringify({ definition: edited, version: 9, updatedAt: 1 })).incr(registryRevisionKey(prefix)).exec();
      await expect(registry.rollback()).rejects.toMatchObject({ code: 'ROLLBACK_CONFLICT', message: expect.stringMatching(/cannot roll back dep-2: a changed since/) });
      expect((await registry.getCheck('a'))!.definition.name).toBe('edited by hand');
    } finally {
      await tx.close();
    }
  });
});
