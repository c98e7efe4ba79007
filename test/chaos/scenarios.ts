/**
 * The chaos scenarios: each is a fleet (chaos-fleet.ts) and a fault. `npm run chaos` runs each on a fleet
 * of its own (run.ts); the test suite runs a short subset on one fleet (chaos.test.ts). Every fault is
 * bounded in time, and undone (rules removed, processes started again) before it returns.
 */
import { Queue } from 'bullmq';
import { resultsQueueName } from '../../checks/keys.ts';
import type { ChaosCheck, ChaosFleet, FleetOptions } from '../support/chaos-fleet.ts';
import type { FaultTimes, Log } from './measure.ts';

export const REGIONS = ['us-east', 'eu-west', 'ap-south'] as const;
/** Three checks at 5–10 s in every region. */
export const CHECKS: readonly ChaosCheck[] = [{ id: 'shop', frequencyMs: 5_000 }, { id: 'api', frequencyMs: 5_000 }, { id: 'home', frequencyMs: 10_000 }];
/** One check for the control, so a region cut from the target is exactly one incident. */
export const CONTROL_CHECKS: readonly ChaosCheck[] = [{ id: 'control', frequencyMs: 5_000 }];

export interface Scenario {
  name: string;
  title: string;
  fleet: Omit<FleetOptions, 'dir'>;
  /** Incident notifications that are expected (the control's); every other one is false. @defaultValue none */
  expectedIncidents?: (events: string[]) => boolean;
  fault(fleet: ChaosFleet, log: Log): Promise<FaultTimes>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const base = (overrides: Partial<Omit<FleetOptions, 'dir'>> = {}): Omit<FleetOptions, 'dir'> =>
  ({ regions: REGIONS, redis: 'sentinel', coordinators: 2, checks: CHECKS, ...overrides });

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`CHAOS: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A number from an agent's `/metrics`. */
async function agentMetric(healthUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${healthUrl}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');
}

/** Kills the Redis primary; the sentinels promote a replica. The old primary comes back as a replica. */
export async function killPrimary(fleet: ChaosFleet, log: Log): Promise<FaultTimes> {
  const before = await fleet.redis.primaryPort();
  const node = fleet.redis.nodes.find((n) => n.port === before)!;
  const startedAt = Date.now();
  await node.kill('SIGKILL');
  const after = await until('a new primary', async () => { const port = await fleet.redis.primaryPort(); return port !== before ? port : null; }, 60_000, 200);
  const promotedAt = Date.now();
  log(`primary ${before} killed; ${after} promoted after ${promotedAt - startedAt} ms`);
  await node.start();
  return { startedAt, endedAt: startedAt, figures: { failoverMs: promotedAt - startedAt } };
}

/** Kills coordinator 1 (SIGKILL) and starts it again after `downMs`. */
export async function killCoordinator(fleet: ChaosFleet, log: Log, downMs = 10_000): Promise<FaultTimes> {
  const startedAt = Date.now();
  await fleet.coordinators[0]!.kill('SIGKILL');
  log('coordinator-1 killed');
  await sleep(downMs);
  fleet.coordinators[0]!.start();
  return { startedAt, endedAt: startedAt };
}

/**
 * The control: a region cut from the target (TCP resets) for `cutMs`. Exactly one regional incident must
 * open within an interval plus 2 s of the cut and resolve within 2 intervals of the heal.
 */
export async function cutRegionFromTarget(fleet: ChaosFleet, log: Log, cutMs = 20_000): Promise<FaultTimes> {
  const region = 'eu-west';
  const before = fleet.receiver.notifications.length;
  const startedAt = Date.now();
  const heal = await fleet.net.cutFromTarget(region, 'refuse');
  const opened = await until('the incident to open', async () => fleet.receiver.notifications.slice(before).find((n) => n.type === 'incident.opened'), cutMs + 30_000);
  await sleep(Math.max(0, startedAt + cutMs - Date.now()));
  await heal();
  const endedAt = Date.now();
  const resolved = await until('the incident to resolve', async () => fleet.receiver.notifications.slice(before).find((n) => n.type === 'incident.resolved'), 60_000);
  log(`${region} cut for ${cutMs / 1_000} s: opened after ${opened.at - startedAt} ms, resolved ${resolved.at - endedAt} ms after the heal`);
  const incident = opened.body.incident as { scope?: string; failingRegions?: string[] } | undefined;
  return {
    startedAt, endedAt,
    figures: {
      openedAfterMs: opened.at - startedAt, resolvedAfterMs: resolved.at - endedAt,
      scope: incident?.scope ?? null, failing: (incident?.failingRegions ?? []).join(','),
      openLimitMs: fleet.checks[0]!.frequencyMs + 2_000, resolveLimitMs: 2 * fleet.checks[0]!.frequencyMs,
    },
  };
}

/** The control's incident events: one opening, regional, then its resolution (updates as regions confirm). */
export const oneRegionalIncident = (events: string[]): boolean =>
  events.filter((e) => e === 'incident.opened(regional)').length === 1 && events.filter((e) => e.startsWith('incident.resolved')).length === 1
  && events.every((e) => /^incident\.(opened|updated|resolved)\(regional\)$/.test(e));

export const SCENARIOS: Scenario[] = [
  { name: 'primary-kill', title: 'Redis primary SIGKILLed (Sentinel failover)', fleet: base(), fault: killPrimary },
  {
    name: 'failover-under-load', title: 'SENTINEL FAILOVER during load (30 checks every 5 s)',
    fleet: base({ checks: [...CHECKS, ...Array.from({ length: 27 }, (_, i) => ({ id: `load-${i + 1}`, frequencyMs: 5_000 }))] }),
    async fault(fleet, log) {
      const before = await fleet.redis.primaryPort();
      const startedAt = Date.now();
      await fleet.redis.failover();
      const after = await until('a new primary', async () => { const port = await fleet.redis.primaryPort(); return port !== before ? port : null; }, 60_000, 200);
      log(`failover ${before} → ${after} after ${Date.now() - startedAt} ms`);
      return { startedAt, endedAt: startedAt, figures: { failoverMs: Date.now() - startedAt } };
    },
  },
  {
    name: 'redis-down-no-replica', title: 'Redis down 60 s with no replica (SIGKILL, restarted from its AOF)', fleet: base({ redis: 'single' }),
    async fault(fleet, log) {
      const node = fleet.redis.nodes[0]!;
      const startedAt = Date.now();
      await node.kill('SIGKILL');
      await sleep(60_000);
      await node.start();
      log('Redis restarted from its AOF');
      return { startedAt, endedAt: Date.now() };
    },
  },
  {
    name: 'agent-kill', title: 'An agent SIGKILLed mid-run (its region has a second agent)', fleet: base({ agents: { 'eu-west': 2 } }),
    async fault(fleet, log) {
      fleet.setTargetDelay(1_500);
      const agent = fleet.agents.find((a) => a.agentId === 'chaos-eu-west-1')!;
      await until('a run in flight on the agent', async () => (await agentMetric(agent.healthUrl, 'lookout_agent_runs_in_flight')) > 0, 30_000, 50);
      const startedAt = Date.now();
      await agent.kill('SIGKILL');
      log('chaos-eu-west-1 killed mid-run');
      await sleep(10_000);
      agent.start();
      fleet.setTargetDelay(0);
      return { startedAt, endedAt: startedAt };
    },
  },
  { name: 'coordinator-kill-ingest', title: 'A coordinator SIGKILLed during ingest', fleet: base(), fault: (fleet, log) => killCoordinator(fleet, log) },
  {
    name: 'coordinator-kill-delivery', title: 'A coordinator SIGKILLed during delivery (receiver answers in 500 ms)',
    fleet: base({ checks: CONTROL_CHECKS, receiverHoldMs: 500 }), expectedIncidents: oneRegionalIncident,
    async fault(fleet, log) {
      const before = fleet.receiver.notifications.length;
      const startedAt = Date.now();
      const heal = await fleet.net.cutFromTarget('eu-west', 'refuse');
      await until('a notification on its way', async () => fleet.receiver.notifications.length > before, 30_000, 10);
      await fleet.coordinators[0]!.kill('SIGKILL');
      log('coordinator-1 killed while a notification was being delivered');
      await sleep(10_000);
      await heal();
      fleet.coordinators[0]!.start();
      return { startedAt, endedAt: Date.now() };
    },
  },
  {
    name: 'region-partition', title: 'A region partitioned from Redis for 60 s', fleet: base(),
    async fault(fleet) {
      const startedAt = Date.now();
      const heal = await fleet.net.partitionFromRedis('eu-west');
      await sleep(60_000);
      await heal();
      return { startedAt, endedAt: Date.now() };
    },
  },
  {
    name: 'agent-restart-spool', title: 'An agent restarted while Redis is away (disk spool)', fleet: base(),
    async fault(fleet, log) {
      fleet.setTargetDelay(1_500);
      const agent = fleet.agents.find((a) => a.region === 'eu-west')!;
      await until('a run in flight', async () => (await agentMetric(agent.healthUrl, 'lookout_agent_runs_in_flight')) > 0, 30_000, 50);
      const startedAt = Date.now();
      const heal = await fleet.net.partitionFromRedis('eu-west');
      const spooled = await until('results spooled to disk', async () => { const n = await agentMetric(agent.healthUrl, 'lookout_agent_results_spooled'); return n > 0 ? n : null; }, 30_000);
      await agent.kill('SIGTERM', 15_000);
      agent.start();
      log(`${spooled} result(s) spooled; agent restarted while eu-west cannot reach Redis`);
      await sleep(10_000);
      await heal();
      fleet.setTargetDelay(0);
      return { startedAt, endedAt: Date.now(), figures: { spooled } };
    },
  },
  {
    name: 'agent-clock-skew', title: 'Agents with clocks 5 min ahead and behind', fleet: base({ clockOffsets: { 'chaos-us-east-1': 300_000, 'chaos-eu-west-1': -300_000 } }),
    async fault() {
      const startedAt = Date.now();
      await sleep(40_000);
      return { startedAt, endedAt: startedAt };
    },
  },
  {
    name: 'duplicate-delivery', title: 'Results delivered twice (every recent result published again)', fleet: base(),
    async fault(fleet, log) {
      const startedAt = Date.now();
      let replayed = 0;
      for (const region of REGIONS) {
        const queue = new Queue(resultsQueueName(region), { connection: fleet.admin, prefix: fleet.prefix });
        try {
          const done = await queue.getJobs(['completed'], 0, 19);
          for (const job of done) await queue.add('result', job.data, { jobId: `replay-${job.id}` });
          replayed += done.length;
        } finally {
          await queue.close();
        }
      }
      log(`${replayed} results published a second time`);
      await sleep(5_000);
      // What the coordinators counted as duplicates (each ingested once, recorded nothing).
      let duplicates = 0;
      for (const url of fleet.coordinatorUrls) {
        const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
        duplicates += Number(/^lookout_results_duplicate_total (\S+)$/m.exec(text)?.[1] ?? 0);
      }
      return { startedAt, endedAt: startedAt, figures: { replayed, countedDuplicate: duplicates } };
    },
  },
  {
    name: 'control', title: 'Control: a region cut from the target (TCP resets) for 20 s',
    fleet: base({ checks: CONTROL_CHECKS }), expectedIncidents: oneRegionalIncident, fault: (fleet, log) => cutRegionFromTarget(fleet, log),
  },
];
