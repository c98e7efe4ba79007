/**
 * An agent far from Redis, and what an agent's concurrency costs in memory: the figures behind the
 * README's "Deploy" sizing (tolerated round trip, concurrency, Kubernetes requests).
 *
 * - Throughput per agent process by round trip to Redis (0, 50, 150, 300 ms, through the user-space
 *   latency proxy of test/support/latency-proxy.ts) at concurrency 10 and 50, draining jobs against a
 *   fast loopback target; the limit beside each is the same agent with Redis near (0 ms added).
 * - Memory per concurrent HTTP run: peak RSS of one agent with every slot busy (a target that holds each
 *   answer 1 s) at concurrency 1 and at 100; the difference over 99.
 * - Detection with the failing region's agent 150 ms away: failure → incident open in the API, at interval
 *   5 s and failureThreshold 1, against one interval + 2 s + 3 round trips.
 *
 * The proxy is the tests' own (one implementation, also used by test/e2e/far-redis.test.ts): the one
 * import from test/ in bench/.
 */
import { createServer } from 'node:http';
import { startLatencyProxy, type LatencyProxy } from '../../test/support/latency-proxy.ts';
import { startAgentRig } from '../lib/agent-rig.ts';
import { procSample } from '../lib/proc.ts';
import { figure, target, type Figure, type Target } from '../lib/report.ts';
import { uniquePrefix, type Section, type SectionContext, type SectionOutput } from '../lib/section.ts';
import { deploy, startAgentProcess, startCoordinatorProcess } from '../lib/services.ts';
import { httpCheck } from '../lib/payloads.ts';
import { median } from '../lib/stats.ts';
import { delay, waitUntil } from '../lib/wait.ts';
import { startTarget } from './http-throughput.ts';
import { listen } from '../lib/http.ts';

const MB = 1024 * 1024;

async function proxyFor(ctx: SectionContext, rttMs: number): Promise<LatencyProxy> {
  const proxy = await startLatencyProxy({ target: { host: '127.0.0.1', port: ctx.redis.port }, oneWayDelayMs: rttMs / 2, maxConnections: 64 });
  ctx.defer(() => proxy.close());
  return proxy;
}

export const farAgent: Section = {
  id: 'farAgent',
  title: 'An agent far from Redis; memory per concurrent run',
  async run(ctx: SectionContext): Promise<SectionOutput> {
    const figures: Figure[] = [];
    const targets: Target[] = [];
    const notes: string[] = [];
    const data: Record<string, unknown> = {};

    // 1. Throughput by round trip.
    const rtts = ctx.smoke ? [0, 150] : [0, 50, 150, 300];
    const concurrencies = ctx.smoke ? [10] : [10, 50];
    const fast = await startTarget(ctx, 'target-far-agent');
    const throughput: Record<string, number | null> = {};
    for (const concurrency of concurrencies) {
      for (const rtt of rtts) {
        const proxy = await proxyFor(ctx, rtt);
        const rig = await startAgentRig(ctx, { targetUrl: fast.url, concurrency, label: `far-${rtt}-${concurrency}`, agentRedisUrl: `redis://127.0.0.1:${proxy.port}` });
        const jobs = ctx.smoke ? 30 : Math.min(3_000, Math.max(200, Math.round((concurrency * 20_000) / Math.max(rtt * 3, 10))));
        const drain = await rig.drain({ jobs, timeLimitMs: ctx.smoke ? 15_000 : 40_000 });
        await rig.stop();
        const perSecond = drain.perSecond ?? drain.overall.perSecond;
        throughput[`${rtt}/${concurrency}`] = perSecond;
        ctx.log(`RTT ${rtt} ms, concurrency ${concurrency}: ${perSecond.toFixed(1)} checks/s (${drain.results}/${jobs}${drain.timedOut ? ', timed out' : ''})`);
        const near = throughput[`0/${concurrency}`] ?? null;
        figures.push(figure(`checks/s, concurrency ${concurrency}, ${rtt} ms round trip to Redis`, perSecond, '/s', rtt === 0 ? undefined : { name: 'same agent, Redis near', value: near }));
        if (rtt > 0) {
          // Each run costs the agent about this many round trips of its concurrency slot (take, report, finish).
          const tripsPerRun = perSecond > 0 ? (concurrency * 1000) / (perSecond * rtt) : null;
          figures.push(figure(`round trips per run held in a slot, concurrency ${concurrency}, ${rtt} ms`, tripsPerRun, 'RTT'));
        }
      }
    }
    data.throughput = throughput;

    // 2. Memory per concurrent HTTP run: every slot busy on a target that holds its answer.
    const holdMs = ctx.smoke ? 300 : 1_000;
    const slow = createServer((req, res) => { req.resume(); setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'), holdMs).unref(); });
    const slowUrl = await listen(slow);
    ctx.defer(() => { slow.closeAllConnections(); slow.close(); });
    const peakRss: Record<number, number> = {};
    const [low, high] = ctx.smoke ? [1, 10] : [1, 100];
    for (const concurrency of [low, high]) {
      const rig = await startAgentRig(ctx, { targetUrl: slowUrl, concurrency, label: `mem-${concurrency}` });
      let peak = 0;
      await rig.drain({
        jobs: concurrency * (ctx.smoke ? 2 : 5), timeLimitMs: ctx.smoke ? 10_000 : 40_000,
        onSample: () => { peak = Math.max(peak, procSample(rig.pid)?.rssBytes ?? 0); },
      });
      await rig.stop();
      peakRss[concurrency] = peak;
    }
    const perRun = (peakRss[high]! - peakRss[low]!) / (high - low);
    figures.push(figure(`agent peak RSS, concurrency ${low}, every slot busy`, peakRss[low]! / MB, 'MB'));
    figures.push(figure(`agent peak RSS, concurrency ${high}, every slot busy`, peakRss[high]! / MB, 'MB'));
    figures.push(figure('memory per concurrent HTTP run', perRun / MB, 'MB'));
    data.peakRssBytes = peakRss;

    // 3. Detection with the failing region's agent 150 ms away.
    const rtt = 150;
    const intervalMs = ctx.smoke ? 1_000 : 5_000;
    const samples = ctx.smoke ? 1 : 5;
    const failing = new Set<string>();
    const flaky = createServer((req, res) => {
      req.resume();
      const region = String(req.headers['x-lookout-region'] ?? '');
      res.writeHead(failing.has(region) ? 503 : 200).end();
    });
    const flakyUrl = await listen(flaky);
    ctx.defer(() => { flaky.closeAllConnections(); flaky.close(); });
    const prefix = uniquePrefix('far');
    const coordinator = await startCoordinatorProcess({ redisUrl: ctx.redis.url, prefix, logDir: ctx.logDir, name: 'coordinator-far', sweepInterval: '200ms' });
    ctx.defer(() => coordinator.stop(10_000));
    const proxy = await proxyFor(ctx, rtt);
    for (const [region, url] of [['near', ctx.redis.url], ['far', `redis://127.0.0.1:${proxy.port}`]] as const) {
      const agent = await startAgentProcess({ redisUrl: url, prefix, region, logDir: ctx.logDir, agentId: `far-bench-${region}` });
      ctx.defer(() => agent.stop(5_000));
    }
    const checks: unknown[] = [];
    const ids: string[] = [];
    for (let i = 0; i < samples; i++) {
      ids.push(`far-${i}`);
      checks.push(httpCheck({ id: `far-${i}`, url: `${flakyUrl}/${i}`, regions: ['near', 'far'], frequencyMs: intervalMs, timeoutMs: Math.min(2_000, intervalMs), failureThreshold: 1, successThreshold: 1, assertions: [{ type: 'status', op: 'equals', value: 200 }] }));
      await deploy(coordinator.url, checks);
      if (i < samples - 1) await delay(intervalMs / samples);
    }
    const api = async (path: string): Promise<any> => (await fetch(`${coordinator.url}${path}`)).json();
    await waitUntil('every far check up in both regions', async () => {
      const body = await api('/api/checks');
      return ids.every((id) => body.checks.find((c: any) => c.id === id)?.regions.every((r: any) => r.status === 'up'));
    }, intervalMs * 6 + 20_000, 200);
    const start = Date.now();
    failing.add('far');
    const detected: Record<string, number> = {};
    await waitUntil('an incident per far check', async () => {
      const { open } = await api('/api/incidents?state=open');
      for (const incident of open as { checkId: string }[]) detected[incident.checkId] ??= Date.now() - start;
      return ids.every((id) => detected[id] !== undefined);
    }, intervalMs * 4 + 20_000, 50);
    failing.clear();
    const worst = Math.max(...Object.values(detected));
    const goal = intervalMs + 2_000 + 3 * rtt;
    figures.push(figure(`detection, agent ${rtt} ms away, T=1: worst`, worst, 'ms', { name: 'one interval + 2 s + 3 round trips', value: goal }));
    figures.push(figure(`detection, agent ${rtt} ms away, T=1: median`, median(Object.values(detected)), 'ms'));
    targets.push(target(`detection with the agent ${rtt} ms away ≤ one interval + 2 s + 3 round trips (${goal / 1000} s)`, worst, 'ms', (v) => v <= goal));
    const agents = await api('/api/agents');
    const far = agents.regions.find((r: any) => r.region === 'far');
    targets.push(target(`far agent online and not stalled throughout (${rtt} ms)`, far?.online === 1 && far?.canary?.stalled === false ? 1 : 0, 'ok', (v) => v === 1));
    data.detection = { rttMs: rtt, intervalMs, detected };
    notes.push(
      'Round trips are added by a user-space TCP proxy (half each way) between the agent and Redis; the coordinator reaches Redis directly.',
      `Memory per concurrent run: the agent's peak RSS with every slot held ${holdMs} ms by the target, at concurrency ${high} less at ${low}, over ${high - low}.`,
      'An agent takes a job, reports it and finishes it in a few round trips; its throughput is about concurrency ÷ (round trips per run × RTT) once RTT dominates the run time.',
    );
    return { figures, targets, notes, data };
  },
};
