/**
 * Runs issued and not answered yet, against a real redis-server: the store (the sorted set), and the
 * watcher deciding about each run in the check's transaction with a controlled clock.
 */
import { describe, expect, it } from 'vitest';
import type { StoredCheck } from '../../../checks/contract.ts';
import { unansweredRunsKey } from '../../../checks/keys.ts';
import { silentLogger } from '../../../lib/log.ts';
import { unansweredBudgetMs, type PlannedConfirmation } from '../../../coordinator/detection/confirmation.ts';
import { CheckStateStore } from '../../../coordinator/detection/store.ts';
import { UnansweredRunStore, parseRunMember, runMember } from '../../../coordinator/detection/unanswered-store.ts';
import { UnansweredWatcher } from '../../../coordinator/detection/unanswered-watch.ts';
import { TransactionRunner } from '../../../coordinator/platform/transaction.ts';
import { CheckRegistry } from '../../../coordinator/registry/store.ts';
import { redisForFile, uniquePrefix } from '../../support/redis.ts';
import { httpCheck, runResult } from '../support.ts';

const shared = redisForFile();
const REGIONS = ['a', 'b', 'c'];

describe('run members', () => {
  it('round-trip through the set member', () => {
    const run = { checkId: 'shop-api', region: 'eu-west', scheduledAt: 1_700_000_000_123, trigger: 'schedule' as const };
    expect(parseRunMember(runMember(run))).toEqual(run);
  });
  it.each(['', 'a b c', 'a b c d e', 'shop eu-west 12x schedule', 'shop eu-west 1 sometimes', ' eu-west 1 schedule'])('refuses %j', (member) => {
    expect(parseRunMember(member)).toBeNull();
  });
});

describe('UnansweredRunStore', () => {
  it('lists runs from their slot plus the shortest budget, forgets answered ones, and never re-adds them by a later look', async () => {
    const store = new UnansweredRunStore({ redis: shared.redis, prefix: uniquePrefix('ua') });
    const run = (region: string, scheduledAt: number) => ({ checkId: 'web', region, scheduledAt, trigger: 'schedule' as const });
    await store.issued([run('a', 1_000), run('b', 2_000)]);
    await store.issued([run('a', 1_000)]);
    expect(await store.size()).toBe(2);
    expect((await store.unansweredRuns(1_299)).map((d) => d.run)).toEqual([]);
    expect((await store.unansweredRuns(1_300)).map((d) => d.run)).toEqual([run('a', 1_000)]);
    expect((await store.unansweredRuns(5_000)).map((d) => d.run)).toEqual([run('a', 1_000), run('b', 2_000)]);

    await store.lookAgainAt(runMember(run('a', 1_000)), 9_000);
    expect((await store.unansweredRuns(5_000)).map((d) => d.run)).toEqual([run('b', 2_000)]);
    await store.answered(run('b', 2_000));
    await store.lookAgainAt(runMember(run('b', 2_000)), 3_000);
    expect(await store.unansweredRuns(5_000)).toEqual([]);
    await store.forget([runMember(run('a', 1_000))]);
    expect(await store.size()).toBe(0);
  });
});

describe('UnansweredWatcher', () => {
  async function setup(overrides: Record<string, unknown> = {}) {
    const prefix = uniquePrefix('uaw');
    let now = 1_000_000;
    const clock = () => now;
    const tx = new TransactionRunner(shared.redis, { size: 2 });
    shared.onCleanup(() => tx.close());
    const registry = new CheckRegistry({ redis: shared.redis, tx, prefix, logger: silentLogger, now: clock });
    await registry.deploy([httpCheck('web', { regions: REGIONS, frequencyMs: 10_000, timeoutMs: 3_000, ...overrides })], { prune: false });
    const states = new CheckStateStore({ redis: shared.redis, tx, prefix, registry, now: clock });
    const runs = new UnansweredRunStore({ redis: shared.redis, prefix });
    const started: Array<{ check: StoredCheck; runs: readonly PlannedConfirmation[] }> = [];
    const watcher = new UnansweredWatcher({
      runs, states, logger: silentLogger, now: clock,
      confirm: async (check, planned) => { started.push({ check, runs: planned }); },
    });
    // Every region up, answering 20 ms after its slot.
    for (const region of REGIONS) {
      now = 1_000_020;
      await states.applyResult(runResult({ checkId: 'web', region, scheduledAt: 1_000_000 }));
    }
    return { prefix, runs, states, watcher, started, at(t: number) { now = t; } };
  }

  it('starts the confirmations of a run silent past its budget, once, however often it is looked at', async () => {
    const s = await setup();
    const silent = { checkId: 'web', region: 'a', scheduledAt: 1_010_000, trigger: 'schedule' as const };
    await s.runs.issued([silent]);
    s.at(1_010_200);
    expect((await s.watcher.tick()).looked).toBe(0);
    s.at(1_010_300);
    const report = await s.watcher.tick();
    expect(report.confirmed).toEqual([{ ...silent, runs: [{ region: 'a', reason: 'retry' }, { region: 'b', reason: 'other-region' }, { region: 'c', reason: 'other-region' }] }]);
    expect(s.started).toHaveLength(1);
    expect(s.started[0]!.runs.every((r) => r.scheduledAt === 1_010_300 && r.after === 'silence')).toBe(true);
    expect(await s.runs.size()).toBe(0);

    // Issued again (a second coordinator's stand-in): looked at, nothing more started.
    await s.runs.issued([silent]);
    s.at(1_010_400);
    expect((await s.watcher.tick()).confirmed).toEqual([]);
    expect(s.started).toHaveLength(1);
    expect(await s.runs.size()).toBe(0);
    const [state] = (await s.states.readMany(['web'])).values();
    expect(state!.earlyConfirmed).toEqual({ a: 1_010_000 });
    expect(Object.keys(state!.confirmations ?? {}).sort()).toEqual(REGIONS);
  });

  it('looks again later at a run of a usually slow target, and forgets a run answered meanwhile', async () => {
    const s = await setup();
    // a usually answers 400 ms after its slot: its budget is 2 × 400 + 150 ms.
    s.at(1_010_400);
    await s.states.applyResult(runResult({ checkId: 'web', region: 'a', scheduledAt: 1_010_000 }));
    const state = (await s.states.readMany(['web'])).get('web')!;
    const usual = state.answerMs!.a!;
    const slow = { checkId: 'web', region: 'a', scheduledAt: 1_020_000, trigger: 'schedule' as const };
    await s.runs.issued([slow]);
    s.at(1_020_300);
    await s.watcher.tick();
    expect(s.started).toEqual([]);
    expect(await s.runs.size()).toBe(1);
    const budget = unansweredBudgetMs(3_000, usual);
    expect(budget).toBe(2 * usual + 150);
    expect((await s.runs.unansweredRuns(1_020_000 + budget - 1)).length).toBe(0);
    expect((await s.runs.unansweredRuns(1_020_000 + budget)).length).toBe(1);
    // Its result comes in before that.
    s.at(1_020_450);
    await s.states.applyResult(runResult({ checkId: 'web', region: 'a', scheduledAt: 1_020_000 }));
    await s.runs.answered(slow);
    s.at(1_022_000);
    await s.watcher.tick();
    expect(s.started).toEqual([]);
    expect(await s.runs.size()).toBe(0);
  });

  it('forgets runs of removed checks and malformed members', async () => {
    const s = await setup();
    await s.runs.issued([{ checkId: 'gone', region: 'a', scheduledAt: 1_010_000, trigger: 'schedule' }]);
    await shared.redis.zadd(unansweredRunsKey(s.prefix), 0, 'not a run');
    s.at(1_010_300);
    await s.watcher.tick();
    expect(s.started).toEqual([]);
    expect(await s.runs.size()).toBe(0);
  });
});
