/**
 * The chaos suite's short subset, in the test suite (the whole suite, `npm run chaos`, takes about 11
 * minutes on 2 cores; README: Chaos suite). One real fleet in network namespaces: a Redis primary, 2 replicas and 3
 * sentinels, 2 coordinators, an agent in each of 3 regions on its own region user, one check every 5 s;
 * then, in turn: the primary SIGKILLed (Sentinel failover), a coordinator SIGKILLed, and the control, a
 * region cut from the target. After each: no result lost, no duplicate notification, every region up
 * within 30 s, and no incident but the control's one regional incident, opened within an interval plus
 * 2 s and resolved within 2 intervals.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsTestPlan } from '../support/netns.ts';
import { startChaosFleet, type ChaosFleet } from '../support/chaos-fleet.ts';
import { measureFault, type FaultReport } from './measure.ts';
import { judge } from './run.ts';
import { CONTROL_CHECKS, REGIONS, cutRegionFromTarget, killCoordinator, killPrimary, oneRegionalIncident } from './scenarios.ts';

// Where namespaces cannot be made this fails with the reason, unless LOOKOUT_SKIP_NETNS=1 (never set by .ci/run).
const plan = netnsTestPlan();
const log = (line: string): void => { process.stdout.write(`[chaos] ${line}\n`); };

/** Every target of the report, with the report itself in the message when one is missed. */
function expectTargets(report: FaultReport, expectedIncidents?: (events: string[]) => boolean): void {
  const missed = judge(report, expectedIncidents ? { expectedIncidents } : {}).filter((v) => !v.met).map((v) => v.target);
  expect(missed, JSON.stringify(report, null, 2)).toEqual([]);
}

describe.skipIf(!plan.run && plan.skip)('chaos, short subset', () => {
  let fleet: ChaosFleet;
  let dir: string;
  let failed = false;
  beforeAll(async () => {
    if (!plan.run) throw new Error(plan.reason);
    dir = mkdtempSync(join(tmpdir(), 'lookout-chaos-subset-'));
    fleet = await startChaosFleet({ regions: REGIONS, redis: 'sentinel', coordinators: 2, checks: CONTROL_CHECKS, dir });
  }, 180_000);
  afterAll(async () => {
    await fleet?.stop();
    // Kept for a look when something failed: the logs of every process.
    if (failed) log(`logs kept in ${dir}/logs`); else rmSync(dir, { recursive: true, force: true });
  });

  const run = (name: string, body: () => Promise<void>, timeoutMs: number) => it(name, async () => {
    try { await body(); } catch (error) { failed = true; throw error; }
  }, timeoutMs);

  run('the Redis primary SIGKILLed: Sentinel fails over, nothing lost, nothing told, all up again', async () => {
    expectTargets(await measureFault(fleet, 'primary-kill', () => killPrimary(fleet, log), log));
  }, 240_000);

  run('a coordinator SIGKILLed: the other carries on, nothing lost, nothing told twice', async () => {
    expectTargets(await measureFault(fleet, 'coordinator-kill', () => killCoordinator(fleet, log, 5_000), log));
  }, 240_000);

  run('the control: a region cut from the target opens exactly one regional incident, in time, and resolves it', async () => {
    const report = await measureFault(fleet, 'control', () => cutRegionFromTarget(fleet, log, 15_000), log);
    expectTargets(report, oneRegionalIncident);
    expect(report.figures).toMatchObject({ scope: 'regional', failing: 'eu-west' });
  }, 240_000);
});
