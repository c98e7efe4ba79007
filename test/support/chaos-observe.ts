/**
 * What the chaos suite watches, from outside the fleet, as an operator would: a webhook receiver that
 * records every notification (and each delivery id it sees twice), a poller of the coordinators' verdicts
 * (a timeline of every (check, region) status), and the accounting of runs: results the agents made (their
 * `run.finished` log lines) against the results ingest recorded (its de-duplication markers in Redis), and
 * the slots of the schedule that got no result at all, with why when the agents said.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { pairId, phaseOf, nextSlotAfter } from '../../coordinator/scheduling/slots.ts';

export interface Notification {
  at: number;
  deliveryId: string;
  eventId: string;
  type: string;
  body: Record<string, unknown>;
}

export interface Receiver {
  url: string;
  notifications: Notification[];
  /** Delivery ids received more than once (the same event sent again to the same channel). */
  duplicates(): string[];
  close(): Promise<void>;
}

/** A webhook receiver on `host` (the host end of the control namespace's link): answers 204 after `holdMs`. */
export async function startReceiver(host: string, holdMs = 0): Promise<Receiver> {
  const notifications: Notification[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
        notifications.push({
          at: Date.now(), deliveryId: String(req.headers['x-lookout-delivery'] ?? ''), eventId: String(body.eventId ?? ''), type: String(body.event ?? ''), body,
        });
      } catch { /* not JSON: not ours to count */ }
      setTimeout(() => res.writeHead(204).end(), holdMs);
    });
  });
  server.listen(0, host);
  await once(server, 'listening');
  return {
    url: `http://${host}:${(server.address() as { port: number }).port}/hook`,
    notifications,
    duplicates() {
      const seen = new Map<string, number>();
      for (const n of notifications) seen.set(n.deliveryId, (seen.get(n.deliveryId) ?? 0) + 1);
      return [...seen].filter(([, count]) => count > 1).map(([id]) => id);
    },
    async close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

export interface Snapshot { at: number; statuses: Map<string, string> }

/** Polls `GET /api/checks` of whichever coordinator answers, every `everyMs`, keeping a timeline. */
export function pollVerdicts(urls: () => string[], everyMs = 250): { timeline: Snapshot[]; stop(): void; latest(): Snapshot | undefined } {
  const timeline: Snapshot[] = [];
  let stopped = false;
  const look = async (): Promise<void> => {
    for (const url of urls()) {
      try {
        const response = await fetch(`${url}/api/checks`, { signal: AbortSignal.timeout(2_000) });
        if (!response.ok) continue;
        const body = await response.json() as { checks: Array<{ id: string; regions: Array<{ region: string; status: string }> }> };
        const statuses = new Map<string, string>();
        for (const check of body.checks) for (const r of check.regions) statuses.set(pairId(check.id, r.region), r.status);
        timeline.push({ at: Date.now(), statuses });
        return;
      } catch { /* the next coordinator */ }
    }
  };
  void (async () => {
    while (!stopped) {
      await look();
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return { timeline, stop: () => { stopped = true; }, latest: () => timeline.at(-1) };
}

/** The first time at or after `from` when every pair of the snapshot was `up`; null if never. */
export function allUpAt(timeline: readonly Snapshot[], from: number): number | null {
  const snapshot = timeline.find((s) => s.at >= from && s.statuses.size > 0 && [...s.statuses.values()].every((status) => status === 'up'));
  return snapshot?.at ?? null;
}

/** Every change away from `up` in the timeline after `from` (pair, from, to, at). */
export function flips(timeline: readonly Snapshot[], from: number): Array<{ pair: string; to: string; at: number }> {
  const out: Array<{ pair: string; to: string; at: number }> = [];
  let previous: Map<string, string> | undefined;
  for (const snapshot of timeline) {
    if (snapshot.at >= from && previous) {
      for (const [pair, status] of snapshot.statuses) {
        if (previous.get(pair) === 'up' && status !== 'up') out.push({ pair, to: status, at: snapshot.at });
      }
    }
    previous = snapshot.statuses;
  }
  return out;
}

export interface RunKey { checkId: string; region: string; scheduledAt: number; trigger: string }
const keyOf = (r: RunKey): string => `${r.checkId}|${r.region}|${r.scheduledAt}|${r.trigger}`;

/** `run.finished` and `run.skipped_late` lines of agent logs (JSON lines). */
export function agentRuns(logFiles: readonly string[]): { finished: RunKey[]; skipped: RunKey[] } {
  const finished: RunKey[] = [];
  const skipped: RunKey[] = [];
  for (const file of logFiles) {
    let text = '';
    try { text = readFileSync(file, 'utf8'); } catch { continue; }
    for (const line of text.split('\n')) {
      if (!line.includes('"run.finished"') && !line.includes('"run.skipped_late"')) continue;
      try {
        const entry = JSON.parse(line) as { msg: string; checkId: string; region: string; scheduledAt: number; trigger: string };
        const run = { checkId: entry.checkId, region: entry.region, scheduledAt: entry.scheduledAt, trigger: entry.trigger };
        (entry.msg === 'run.finished' ? finished : skipped).push(run);
      } catch { /* a line cut by a SIGKILL */ }
    }
  }
  return { finished, skipped };
}

/** Every run ingest recorded (its de-duplication markers, `<prefix>:lookout:seen:<check>:<region>:<slot>:<trigger>`). */
export async function recordedRuns(admin: Redis, prefix: string): Promise<RunKey[]> {
  const runs: RunKey[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:lookout:seen:*`, 'COUNT', 1_000);
    cursor = next;
    for (const key of keys) {
      const [checkId, region, scheduledAt, trigger] = key.slice(`${prefix}:lookout:seen:`.length).split(':');
      runs.push({ checkId: checkId!, region: region!, scheduledAt: Number(scheduledAt), trigger: trigger! });
    }
  } while (cursor !== '0');
  return runs;
}

export interface RunAccounting {
  /** Scheduled slots of the window (from each pair's phase). */
  slots: number;
  /** Slots with a recorded result. */
  recorded: number;
  /** Results agents made that were never recorded: the figure that must be 0. */
  lost: RunKey[];
  /** Slots without a result that an agent skipped as too late to run. */
  skippedLate: number;
  /** Slots without a result and without a word from any agent (not issued, or cut with the agent that ran them). */
  notRun: number;
}

/**
 * Results made vs recorded over `[from, to)` (slot times), and the schedule's slots in it, for checks
 * `{ id, frequencyMs }` in `regions`.
 */
export function accountRuns(
  checks: ReadonlyArray<{ id: string; frequencyMs: number }>, regions: readonly string[], window: { from: number; to: number },
  agents: { finished: RunKey[]; skipped: RunKey[] }, recorded: readonly RunKey[],
): RunAccounting {
  const inWindow = (r: RunKey): boolean => r.scheduledAt >= window.from && r.scheduledAt < window.to;
  const recordedKeys = new Set(recorded.map(keyOf));
  const lost = agents.finished.filter(inWindow).filter((r) => !recordedKeys.has(keyOf(r)));
  const uniqueLost = [...new Map(lost.map((r) => [keyOf(r), r])).values()];
  const skipped = new Set(agents.skipped.map(keyOf));
  let slots = 0;
  let got = 0;
  let skippedLate = 0;
  for (const check of checks) {
    for (const region of regions) {
      const phase = phaseOf(pairId(check.id, region), check.frequencyMs);
      for (let slot = nextSlotAfter(window.from - 1, check.frequencyMs, phase); slot < window.to; slot += check.frequencyMs) {
        slots++;
        const key = keyOf({ checkId: check.id, region, scheduledAt: slot, trigger: 'schedule' });
        if (recordedKeys.has(key)) got++;
        else if (skipped.has(key)) skippedLate++;
      }
    }
  }
  return { slots, recorded: got, lost: uniqueLost, skippedLate, notRun: slots - got - skippedLate };
}
