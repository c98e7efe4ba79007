/**
 * Detection latency: from the moment a target starts failing (for one region, then for every region) to
 * the alert webhook arriving, at a 5-second interval, for checks with failureThreshold 2 (the default)
 * and 1. The checks are deployed a little apart so that their runs sit at different phases of the
 * interval (the latency depends on where in the interval the failure begins); each check is one sample.
 *
 * Real parts: a coordinator process with a webhook channel, one agent process per region, a loopback
 * target (in this process) that fails per (check path, region) on demand, a webhook receiver here. The
 * time the incident became visible in the API (`/api/incidents`) is recorded too, to tell detection
 * from delivery.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { recentRunsKey } from '../../checks/keys.ts';
import { httpCheck } from '../lib/payloads.ts';
import { figure, target, type Figure, type Target } from '../lib/report.ts';
import { uniquePrefix, type Section, type SectionContext, type SectionOutput } from '../lib/section.ts';
import { deploy, startAgentProcess, startCoordinatorProcess } from '../lib/services.ts';
import { median } from '../lib/stats.ts';
import { delay, waitUntil } from '../lib/wait.ts';
import { listen, readBody } from '../lib/http.ts';

const REGIONS = ['us-east', 'eu-west', 'ap-south'];
const FAILING_REGION = 'eu-west';

interface Delivered { at: number; event: string; checkId: string; scope: string | null }

interface ScenarioResult {
  scenario: string;
  /** Epoch ms the target started failing. */
  start: number;
  /** Per check: ms from failure start to the first incident webhook (null: none arrived in time). */
  webhookMs: Record<string, number | null>;
  /** Per check: ms from failure start to a webhook saying the incident is global (all-regions scenario). */
  globalWebhookMs: Record<string, number | null>;
  /** Per check: ms from failure start to the incident being listed open by the API. */
  apiMs: Record<string, number | null>;
}

export const detection: Section = {
  id: 'detection',
  title: 'Detection latency',
  async run(ctx: SectionContext): Promise<SectionOutput> {
    const intervalMs = ctx.smoke ? 1_000 : 5_000;
    const perThreshold = ctx.smoke ? 1 : 5;
    const thresholds = [2, 1];
    const prefix = uniquePrefix('detect');

    const failing = new Set<string>(); // `${checkId}|${region}`
    const targetServer = createServer((req, res) => {
      req.resume();
      const checkId = (req.url ?? '/').slice(1);
      const region = String(req.headers['x-lookout-region'] ?? '');
      const fail = failing.has(`${checkId}|${region}`);
      res.writeHead(fail ? 503 : 200, { 'content-type': 'text/plain' }).end(fail ? 'down' : 'ok');
    });
    const targetUrl = await listen(targetServer);
    ctx.defer(() => { targetServer.closeAllConnections(); targetServer.close(); });
    const delivered: Delivered[] = [];
    const receiver = createServer((req, res) => {
      const at = Date.now();
      readBody(req).then((raw) => {
        try {
          const body = JSON.parse(raw) as { event?: string; type?: string; check?: { id?: string }; incident?: { scope?: string } };
          delivered.push({ at, event: String(body.event ?? body.type ?? ''), checkId: String(body.check?.id ?? ''), scope: body.incident?.scope ?? null });
        } catch { /* not JSON: not ours */ }
        res.writeHead(204).end();
      }, () => res.writeHead(400).end());
    });
    const receiverUrl = await listen(receiver);
    ctx.defer(() => { receiver.closeAllConnections(); receiver.close(); });

    const coordinator = await startCoordinatorProcess({
      redisUrl: ctx.redis.url, prefix, logDir: ctx.logDir, name: 'coordinator-detection', webhookUrl: `${receiverUrl}/hook`, webhookSecret: 'bench-detection-webhook-secret',
    });
    ctx.defer(() => coordinator.stop(10_000));
    // Started together: start-up is mostly module loading, and the machine has two cores.
    const agents = await Promise.allSettled(REGIONS.map((region) => startAgentProcess({ redisUrl: ctx.redis.url, prefix, region, logDir: ctx.logDir, agentId: `detect-${region}` })));
    for (const started of agents) if (started.status === 'fulfilled') ctx.defer(() => started.value.stop(5_000));
    for (const started of agents) if (started.status === 'rejected') throw started.reason;

    // Deploy the checks one at a time, spread over one interval, so that their phases differ.
    const checks: ReturnType<typeof httpCheck>[] = [];
    const thresholdOf = new Map<string, number>();
    for (let i = 0; i < perThreshold; i++) {
      for (const threshold of thresholds) {
        const id = `detect-t${threshold}-${i}`;
        thresholdOf.set(id, threshold);
        checks.push(httpCheck({
          id, url: `${targetUrl}/${id}`, regions: REGIONS, frequencyMs: intervalMs, timeoutMs: Math.min(2_000, intervalMs),
          failureThreshold: threshold, assertions: [{ type: 'status', op: 'equals', value: 200 }],
        }));
      }
      await deploy(coordinator.url, checks);
      if (i < perThreshold - 1) await delay(intervalMs / perThreshold);
    }
    const ids = checks.map((c) => c.id);
    const statuses = async (): Promise<Map<string, Record<string, string>>> => {
      type Regions = Array<{ region: string; status: string }> | Record<string, { status: string }>;
      const body = await (await fetch(`${coordinator.url}/api/checks`)).json() as { checks: Array<{ id: string; regions: Regions }> };
      // The API lists regions as an array of { region, status }; an object keyed by region is read too.
      const byRegion = (regions: Regions): Record<string, string> => (Array.isArray(regions)
        ? Object.fromEntries(regions.map((r) => [r.region, r.status]))
        : Object.fromEntries(Object.entries(regions).map(([r, v]) => [r, v.status])));
      return new Map(body.checks.map((c) => [c.id, byRegion(c.regions)]));
    };
    const allUp = async (): Promise<boolean> => {
      const s = await statuses();
      return ids.every((id) => REGIONS.every((r) => s.get(id)?.[r] === 'up'));
    };
    const openIncidents = async (): Promise<Set<string>> => {
      const body = await (await fetch(`${coordinator.url}/api/incidents?state=open`)).json() as { open?: Array<{ checkId: string }>; incidents?: Array<{ checkId: string }> };
      return new Set((body.open ?? body.incidents ?? []).map((i) => i.checkId));
    };
    await waitUntil('every check up in every region', allUp, intervalMs * 6 + 10_000, 200);

    const scenario = async (name: string, regions: string[]): Promise<ScenarioResult> => {
      const start = Date.now();
      const seen = delivered.length;
      for (const id of ids) for (const r of regions) failing.add(`${id}|${r}`);
      ctx.log(`${name}: failing from ${new Date(start).toISOString()}`);
      const apiMs: Record<string, number | null> = Object.fromEntries(ids.map((id) => [id, null]));
      const limit = start + intervalMs * 4 + 10_000;
      const isGlobal = regions.length === REGIONS.length;
      const done = (): boolean => ids.every((id) => {
        const mine = delivered.slice(seen).filter((d) => d.checkId === id);
        return mine.length > 0 && (!isGlobal || mine.some((d) => d.scope === 'global')) && apiMs[id] !== null;
      });
      while (Date.now() < limit && !done()) {
        const open = await openIncidents().catch(() => new Set<string>());
        const now = Date.now();
        for (const id of ids) if (apiMs[id] === null && open.has(id)) apiMs[id] = now - start;
        await delay(50);
      }
      const after = delivered.slice(seen);
      const firstAt = (id: string, predicate: (d: Delivered) => boolean): number | null => {
        const hit = after.find((d) => d.checkId === id && predicate(d));
        return hit ? hit.at - start : null;
      };
      return {
        scenario: name,
        start,
        webhookMs: Object.fromEntries(ids.map((id) => [id, firstAt(id, (d) => d.event.startsWith('incident.'))])),
        globalWebhookMs: Object.fromEntries(ids.map((id) => [id, isGlobal ? firstAt(id, (d) => d.scope === 'global') : null])),
        apiMs,
      };
    };

    /**
     * The floor under each latency, measured: when the run that reached the threshold ended (the T-th
     * failing run that started after the failure began, per region, from the coordinator's recent runs).
     * For the first webhook the earliest failing region counts; for "global", the last one.
     */
    const redis = new Redis(ctx.redis.url, { maxRetriesPerRequest: null });
    ctx.defer(() => { redis.disconnect(); });
    const floors = async (start: number, regions: string[]): Promise<{ first: Record<string, number | null>; last: Record<string, number | null> }> => {
      const first: Record<string, number | null> = {};
      const last: Record<string, number | null> = {};
      for (const id of ids) {
        const ends: Array<number | null> = [];
        for (const region of regions) {
          const runs = (await redis.lrange(recentRunsKey(prefix, id, region), 0, -1)).map((raw) => JSON.parse(raw) as { startedAt: number; endedAt: number; outcome: string });
          const failed = runs.filter((r) => r.outcome === 'fail' && r.startedAt >= start).sort((a, b) => a.endedAt - b.endedAt);
          const nth = failed[thresholdOf.get(id)! - 1];
          ends.push(nth ? nth.endedAt - start : null);
        }
        const known = ends.filter((e): e is number => e !== null);
        first[id] = known.length > 0 ? Math.min(...known) : null;
        last[id] = known.length === ends.length ? Math.max(...known) : null;
      }
      return { first, last };
    };

    const regional = await scenario('one region', [FAILING_REGION]);
    const regionalFloor = await floors(regional.start, [FAILING_REGION]);
    failing.clear();
    ctx.log('recovering');
    await waitUntil('every incident resolved', async () => (await openIncidents()).size === 0 && (await allUp()), intervalMs * 6 + 10_000, 200);
    const global = await scenario('all regions', REGIONS);
    const globalFloor = await floors(global.start, REGIONS);
    failing.clear();

    const figures: Figure[] = [];
    const targets: Target[] = [];
    const goalMs = intervalMs + 2_000;
    const pick = (values: Record<string, number | null>, threshold: number): number[] =>
      Object.entries(values).filter(([id, v]) => thresholdOf.get(id) === threshold && v !== null).map(([, v]) => v!);
    const missing = (values: Record<string, number | null>, threshold: number): number =>
      Object.entries(values).filter(([id, v]) => thresholdOf.get(id) === threshold && v === null).length;
    const notes: string[] = [
      `Interval ${intervalMs / 1000} s, timeout ${Math.min(2_000, intervalMs) / 1000} s, ${perThreshold} check(s) per threshold deployed ${intervalMs / perThreshold} ms apart (different phases), ${REGIONS.length} regions with one agent each; "one region" fails ${FAILING_REGION} only.`,
      'Limit measured in the same run: when the run that reached the threshold ended (the T-th failing run that started after the failure began, from the coordinator\'s recent runs); "after the deciding run" is what Lookout adds on top (ingest, verdict, incident, outbox, webhook delivery).',
      `The earliest a run can see the failure is up to one interval after it begins (phase), and failureThreshold T needs T failing runs: the floor is phase + (T − 1) × interval, i.e. up to ${intervalMs / 1000} s for T = 1 and ${(2 * intervalMs) / 1000} s for T = 2, before ingest and delivery.`,
    ];
    for (const threshold of thresholds) {
      for (const [label, result, values, floor] of [
        ['one region', regional, regional.webhookMs, regionalFloor.first],
        ['all regions', global, global.webhookMs, globalFloor.first],
        ['all regions → global', global, global.globalWebhookMs, globalFloor.last],
      ] as const) {
        const list = pick(values, threshold);
        const worst = list.length > 0 ? Math.max(...list) : null;
        const lost = missing(values, threshold);
        const floors = pick(floor, threshold);
        // What Lookout adds after the deciding run ended: ingest, verdict, incident, outbox, delivery.
        const overhead = Object.entries(values).flatMap(([id, v]) => (thresholdOf.get(id) === threshold && v !== null && floor[id] !== null && floor[id] !== undefined ? [v - floor[id]!] : []));
        figures.push(figure(`T=${threshold} ${label}: webhook max`, worst, 'ms', { name: 'deciding run ended, max', value: floors.length > 0 ? Math.max(...floors) : null }));
        figures.push(figure(`T=${threshold} ${label}: webhook median`, median(list), 'ms', { name: 'deciding run ended, median', value: median(floors) }));
        figures.push(figure(`T=${threshold} ${label}: after the deciding run, median`, median(overhead), 'ms', { name: 'one interval + 2 s', value: goalMs }));
        const api = label.includes('global') ? [] : pick(result.apiMs, threshold);
        if (api.length > 0) figures.push(figure(`T=${threshold} ${label}: incident open in API, median`, median(api), 'ms', { name: 'webhook median', value: median(list) }));
        const goal = `T=${threshold} ${label}: every webhook ≤ one interval + 2 s (${goalMs / 1000} s)`;
        // A webhook that never came misses the target; it is not "unmeasured".
        targets.push(lost > 0 ? { goal, measured: null, unit: 'ms', met: false } : target(goal, worst, 'ms', (v) => v <= goalMs));
        if (lost > 0) notes.push(`T=${threshold} ${label}: ${lost} check(s) got no webhook within ${(intervalMs * 4 + 10_000) / 1000} s.`);
      }
    }
    if (delivered.length === 0) notes.push('No webhook arrived at all: is the coordinator delivering to --webhook-url? The API times above still show when incidents opened.');
    return {
      figures, targets, notes,
      data: { intervalMs, thresholds, regional, global, floors: { regional: regionalFloor, global: globalFloor }, deliveries: delivered.length },
    };
  },
};
