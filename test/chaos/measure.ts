/**
 * Running one fault against a running chaos fleet and measuring what an operator would care about:
 * results lost (made by an agent, never recorded), incident notifications, duplicate notifications, the
 * time until every (check, region) is `up` again after the fault ended, and every verdict that left `up`
 * on the way. The fault itself is the scenario's (scenarios.ts); this is the same for all.
 */
import { agentRuns, accountRuns, allUpAt, flips, pollVerdicts, recordedRuns, type Notification, type RunAccounting } from '../support/chaos-observe.ts';
import type { ChaosFleet } from '../support/chaos-fleet.ts';
import { waitUntil } from '../support/wait.ts';

/** What a fault reports about itself. */
export interface FaultTimes {
  /** When the fault began (host clock, ms). */
  startedAt: number;
  /** When it ended: time to all-up counts from here. */
  endedAt: number;
  /** Extra figures the scenario measured itself (the control's detection times, say). */
  figures?: Record<string, number | string | null>;
}

export interface FaultReport {
  name: string;
  faultMs: number;
  /** From the end of the fault to every pair `up` (null: not within the wait). */
  timeToAllUpMs: number | null;
  accounting: Omit<RunAccounting, 'lost'> & { lost: number };
  incidentEvents: string[];
  probeEvents: string[];
  monitoringEvents: string[];
  duplicateNotifications: number;
  /** Pairs that left `up` during the fault and recovery (`check@region→status`). */
  flips: string[];
  figures: Record<string, number | string | null>;
}

export type Log = (line: string) => void;

/** The first time at or after `from` when every pair was `up`, waiting up to `timeoutMs`; null if not by then. */
export async function waitAllUp(poller: ReturnType<typeof pollVerdicts>, from: number, timeoutMs: number): Promise<number | null> {
  return waitUntil('every pair up', () => allUpAt(poller.timeline, from), timeoutMs, 250).catch(() => null);
}

const eventsOf = (notifications: readonly Notification[], since: number, family: string): string[] =>
  notifications.filter((n) => n.at >= since && n.type.startsWith(family))
    .map((n) => `${n.type}${typeof (n.body.incident as { scope?: string } | undefined)?.scope === 'string' ? `(${(n.body.incident as { scope: string }).scope})` : ''}`
      + `${typeof (n.body.agent as { agentId?: string } | undefined)?.agentId === 'string' ? `(${(n.body.agent as { agentId: string }).agentId})` : ''}`);

/**
 * Waits for all up, runs `fault`, waits for all up again (up to `recoverMs`), waits for the results of the
 * fault period to arrive (until nothing the agents logged is missing, up to `settleMs`), and accounts for
 * everything since the fleet was first all up.
 */
export async function measureFault(
  fleet: ChaosFleet, name: string, fault: () => Promise<FaultTimes>, log: Log, options: { recoverMs?: number; settleMs?: number } = {},
): Promise<FaultReport> {
  const poller = pollVerdicts(() => fleet.coordinatorUrls);
  try {
    const warm = await waitAllUp(poller, Date.now(), 90_000);
    if (warm === null) throw new Error(`CHAOS_${name}: the fleet was never all up before the fault`);
    const from = Date.now();
    const notificationsBefore = fleet.receiver.notifications.length;
    log(`${name}: all up; fault begins`);
    const times = await fault();
    log(`${name}: fault over after ${Math.round((times.endedAt - times.startedAt) / 1_000)} s; waiting for every region up`);
    const up = await waitAllUp(poller, times.endedAt, options.recoverMs ?? 90_000);
    const maxFrequency = Math.max(...fleet.checks.map((c) => c.frequencyMs));
    // The window ends maxFrequency + 3 s before the accounting: runs scheduled later may not have finished.
    const account = async (): Promise<{ to: number; accounting: RunAccounting }> => {
      const to = Date.now() - maxFrequency - 3_000;
      const agents = agentRuns(fleet.agents.map((a) => a.logFile));
      return { to, accounting: accountRuns(fleet.checks, Object.keys(fleet.net.network.regions), { from, to }, agents, await recordedRuns(fleet.admin, fleet.prefix)) };
    };
    // Results of the fault period may still be on their way (spools, taken-over ingest): wait until every
    // result the agents logged is recorded, in a window reaching at least past the recovery (so it holds the
    // whole fault). At the deadline, what is still missing is lost: no throw, the figures say so.
    const settleFrom = Date.now();
    const settled = await waitUntil(`${name}: every result the agents logged recorded`, async () => {
      const current = await account();
      return current.to >= settleFrom && current.accounting.lost.length === 0 && current;
    }, options.settleMs ?? 2 * maxFrequency + 5_000, 1_000).catch(() => null);
    const { accounting } = settled ?? await account();
    if (accounting.lost.length > 0) log(`${name}: LOST ${accounting.lost.map((r) => `${r.checkId}@${r.region}@${r.scheduledAt}.${r.trigger}`).join(', ')}`);
    const notifications = fleet.receiver.notifications.slice(notificationsBefore);
    const perDelivery = new Map<string, number>();
    for (const n of notifications) perDelivery.set(n.deliveryId, (perDelivery.get(n.deliveryId) ?? 0) + 1);
    return {
      name,
      faultMs: times.endedAt - times.startedAt,
      timeToAllUpMs: up === null ? null : Math.max(0, up - times.endedAt),
      accounting: { ...accounting, lost: accounting.lost.length },
      incidentEvents: eventsOf(notifications, from, 'incident.'),
      probeEvents: eventsOf(notifications, from, 'probe.'),
      monitoringEvents: notifications.filter((n) => n.type.startsWith('monitoring.')).map((n) => `${n.type}(${String((n.body.data as { reason?: unknown } | undefined)?.reason ?? '')})`),
      duplicateNotifications: [...perDelivery.values()].reduce((sum, count) => sum + count - 1, 0),
      flips: flips(poller.timeline, from).map((f) => `${f.pair}→${f.to}`),
      figures: times.figures ?? {},
    };
  } finally {
    poller.stop();
  }
}
