/**
 * Memory: idle RSS of an HTTP-only agent, of a browser-enabled agent (when the agent has a flag for it),
 * and of a coordinator, each beside the idle RSS of a bare Node process and of a process holding only an
 * idle BullMQ Worker (the floor of any BullMQ consumer); then the agent's RSS over a long run of HTTP
 * checks (100,000 runs, or as many as fit in the time limit: the count is reported, nothing extrapolated).
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CheckJob, SCHEMA_VERSION } from '../../checks/contract.ts';
import { checkQueueName, heartbeatKey, resultsQueueName } from '../../checks/keys.ts';
import { definitionDigest } from '../../checks/signing.ts';
import { benchSigner } from '../lib/signing.ts';
import { loadChecks } from '../../checks/loader.ts';
import { firstJsonLine, procSample, spawnChild, spawnNode, treeRssBytes, ROOT } from '../lib/proc.ts';
import { figure, target } from '../lib/report.ts';
import { uniquePrefix, type Section, type SectionContext, type SectionOutput } from '../lib/section.ts';
import { metricValue, startAgentProcess, startCoordinatorProcess } from '../lib/services.ts';
import { quantile } from '../lib/stats.ts';
import { delay, waitUntil } from '../lib/wait.ts';
import { startAgentRig } from '../lib/agent-rig.ts';
import { startTarget } from './http-throughput.ts';

const MB = 1024 * 1024;
/** RSS growth allowed from the end of warm-up (20 % of the runs) to the end of the long run. */
export const RSS_GROWTH_BOUND_MB = 20;

/** The agent flag that enables browser checks, as its `--help` lists it; null when there is none. */
export function browserFlagFrom(help: string): string[] | null {
  for (const line of help.split('\n')) {
    // Only a flag that turns browser checks on; `--browser-concurrency` and the like tune them.
    const match = /^\s*(--(?:enable-)?browsers?(?:-checks)?)(?![a-z0-9-])(?:[ =]<([^>]+)>)?/i.exec(line);
    if (!match) continue;
    if (!match[2]) return [match[1]!];
    // A value flag: the "on" word its placeholder (`<on|off>`) or its text ("on or off") offers, else "true".
    const offered = [...match[2].split('|'), ...line.slice(match[0].length).split(/[^A-Za-z0-9]+/)].map((w) => w.trim()).filter(Boolean);
    const on = offered.find((w) => /^(on|true|yes|enabled?)$/i.test(w));
    return [match[1]!, on ?? 'true'];
  }
  return null;
}

/** RSS once the process has been idle for `idleMs`; its anonymous (private) part goes to `privateRss`. */
/** Runs one tiny browser check through the agent serving `region`; resolves with its outcome. */
async function oneBrowserRun(ctx: SectionContext, prefix: string, region: string): Promise<string> {
  const page = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Tiny</title><h1>ok</h1>'));
  page.listen(0, '127.0.0.1');
  await once(page, 'listening');
  ctx.defer(() => { page.closeAllConnections(); page.close(); });
  const url = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
  const dir = mkdtempSync(join(tmpdir(), 'lookout-bench-memory-'));
  ctx.defer(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'tiny.check.ts'), `import { defineBrowserCheck } from 'lookout/checks';
export default defineBrowserCheck({ id: 'mem-browser', name: 'tiny', regions: [${JSON.stringify(region)}], timeout: '30s', frequency: '1m',
  script: async ({ page, step, expect }) => {
    await step('open', () => page.goto(${JSON.stringify(url)}));
    await step('check', () => expect(page.locator('h1')).toHaveText('ok'));
  } });`);
  const loaded = await loadChecks([dir]);
  if (loaded.problems.length > 0 || !loaded.checks[0]) throw new Error(`BENCH_BROWSER_CHECK: ${JSON.stringify(loaded.problems)}`);
  const definition = loaded.checks[0].definition;
  const scheduledAt = Date.now();
  const expiresAt = scheduledAt + 30_000;
  const digest = definitionDigest(definition);
  const job = CheckJob.parse({
    schemaVersion: SCHEMA_VERSION, region, checkVersion: 1, check: definition, trigger: 'manual', scheduledAt, expiresAt, definitionDigest: digest,
    signature: benchSigner.signRun({ region, checkId: definition.id, checkVersion: 1, trigger: 'manual', scheduledAt, expiresAt, definitionDigest: digest }),
  });
  const redis = new Redis(ctx.redis.url, { maxRetriesPerRequest: null });
  ctx.defer(() => { redis.disconnect(); });
  const queue = new Queue(checkQueueName(region), { connection: redis, prefix });
  ctx.defer(() => queue.close());
  await queue.add('mem-browser', job, { attempts: 1 });
  const results = `${prefix}:${resultsQueueName(region)}`;
  const jobId = await waitUntil('the browser run\'s result', async () => (await redis.lrange(`${results}:wait`, 0, 0))[0], 90_000, 200);
  const raw = await redis.hget(`${results}:${jobId}`, 'data');
  const result = raw ? JSON.parse(raw) as { outcome: string; error: { code: string } | null } : null;
  return result ? `${result.outcome}${result.error ? ` ${result.error.code}` : ''}` : 'no result';
}

async function idleRss(pid: number, idleMs: number, label: string, privateRss: Map<string, number>): Promise<number | null> {
  await delay(idleMs);
  const sample = procSample(pid);
  if (sample) privateRss.set(label, sample.rssAnonBytes);
  return sample?.rssBytes ?? null;
}

export const memory: Section = {
  id: 'memory',
  title: 'Memory',
  async run(ctx: SectionContext): Promise<SectionOutput> {
    const idleMs = ctx.smoke ? 500 : 5_000;
    const notes: string[] = [];
    const privateRss = new Map<string, number>();
    const prefix = uniquePrefix('mem');

    // Floors: a bare Node process, and one holding an idle BullMQ Worker.
    const bare = spawnChild('bare-node', process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log(JSON.stringify({ready:true}))'], { logDir: ctx.logDir });
    ctx.defer(() => bare.stop(2_000));
    await firstJsonLine(bare, 'ready', 10_000);
    const bareRss = await idleRss(bare.pid, idleMs, 'bare Node', privateRss);
    await bare.stop(2_000);
    const worker = spawnNode('idle-bullmq-worker', 'bench/children/noop-worker.ts', ['--redis', ctx.redis.url, '--prefix', prefix, '--queue', 'idle', '--concurrency', '10'], { logDir: ctx.logDir });
    ctx.defer(() => worker.stop(2_000));
    await firstJsonLine(worker, 'ready', 15_000);
    const workerRss = await idleRss(worker.pid, idleMs, 'idle BullMQ Worker', privateRss);
    await worker.stop(2_000);

    const httpAgent = await startAgentProcess({ redisUrl: ctx.redis.url, prefix, region: 'mem', logDir: ctx.logDir, agentId: 'mem-http' });
    ctx.defer(() => httpAgent.stop(5_000));
    const httpAgentRss = await idleRss(httpAgent.pid, idleMs, 'HTTP-only agent', privateRss);
    await httpAgent.stop(5_000);

    // Browser-enabled agent, if the agent has a flag for it.
    let browserAgentRss: number | null = null;
    let browserTreeRss: number | null = null;
    let browserAfterRunRss: number | null = null;
    const help = execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', `${ROOT}/agent/main.ts`, '--help'], { encoding: 'utf8' });
    const flag = browserFlagFrom(help);
    if (!flag) {
      notes.push('Browser-enabled agent: n/a. `agent/main.ts --help` lists no flag that enables browser checks: the browser runner exists (agent/runners/browser) but this agent never serves browser checks (see servedBy in agent/runners/browser/index.ts).');
    } else {
      try {
        const agent = await startAgentProcess({ redisUrl: ctx.redis.url, prefix, region: 'mem-browser', logDir: ctx.logDir, agentId: 'mem-browser', extraArgs: flag });
        ctx.defer(() => agent.stop(10_000));
        browserAgentRss = await idleRss(agent.pid, idleMs, 'browser-enabled agent', privateRss);
        if (!ctx.smoke) {
          // Chromium starts on the first browser run: run one, then let the agent idle again.
          const outcome = await oneBrowserRun(ctx, prefix, 'mem-browser');
          browserAfterRunRss = await idleRss(agent.pid, idleMs, 'browser-enabled agent after one browser run', privateRss);
          notes.push(`Browser-enabled agent: one browser check run through it (${outcome}), then ${idleMs / 1000} s idle.`);
        }
        browserTreeRss = treeRssBytes(agent.pid);
        const redis = new Redis(ctx.redis.url, { maxRetriesPerRequest: null });
        const heartbeat = await redis.get(heartbeatKey(prefix, 'mem-browser', 'mem-browser'));
        redis.disconnect();
        const capabilities = heartbeat ? (JSON.parse(heartbeat) as { capabilities?: string[] }).capabilities ?? [] : [];
        notes.push(`Browser-enabled agent started with \`${flag.join(' ')}\`; it announces capabilities ${JSON.stringify(capabilities)}. Its RSS is the agent process; with its descendants (Chromium, launched by the first browser run) ${Math.round((browserTreeRss ?? 0) / MB)} MB${ctx.smoke ? ' (smoke: no browser run, so no Chromium)' : ''}.`);
        await agent.stop(10_000);
      } catch (error) {
        notes.push(`Browser-enabled agent: n/a, the agent did not start with \`${flag.join(' ')}\`: ${(error as Error).message}`);
      }
    }

    const coordinator = await startCoordinatorProcess({ redisUrl: ctx.redis.url, prefix, logDir: ctx.logDir, name: 'coordinator-memory' });
    ctx.defer(() => coordinator.stop(10_000));
    const coordinatorRss = await idleRss(coordinator.pid, idleMs, 'coordinator', privateRss);
    await coordinator.stop(10_000);

    // The long run: RSS sampled as the agent drains, jobs refilled ahead of it.
    const runs = ctx.smoke ? 600 : 100_000;
    const timeLimitMs = ctx.smoke ? 15_000 : 180_000;
    const { url: targetUrl } = await startTarget(ctx, 'memory-target');
    const series: Array<{ results: number; rssMb: number }> = [];
    ctx.log(`long run: up to ${runs} runs in ${timeLimitMs / 1000} s`);
    const rig = await startAgentRig(ctx, { targetUrl, concurrency: ctx.concurrency, label: 'mem-long' });
    const drain = await rig.drain({
      jobs: runs, timeLimitMs, refillWindow: 5_000,
      onSample: (s) => { const rss = procSample(rig.pid)?.rssBytes; if (rss) series.push({ results: s.results, rssMb: rss / MB }); },
    });
    const agentMetrics = await rig.metrics();
    const heap = {
      usedMb: (metricValue(agentMetrics, 'nodejs_heap_size_used_bytes') ?? Number.NaN) / MB,
      totalMb: (metricValue(agentMetrics, 'nodejs_heap_size_total_bytes') ?? Number.NaN) / MB,
      externalMb: (metricValue(agentMetrics, 'nodejs_external_memory_bytes') ?? Number.NaN) / MB,
    };
    await rig.stop();
    const done = drain.results;
    const afterWarmUp = series.find((s) => s.results >= done * 0.2)?.rssMb ?? null;
    const atEnd = series.at(-1)?.rssMb ?? null;
    const peak = series.length > 0 ? Math.max(...series.map((s) => s.rssMb)) : null;
    const growth = afterWarmUp !== null && atEnd !== null ? atEnd - afterWarmUp : null;
    const lateHalf = series.filter((s) => s.results >= done * 0.5).map((s) => s.rssMb);
    if (done < runs) notes.push(`The long run did ${done} runs in ${timeLimitMs / 1000} s (of ${runs} wanted); nothing is extrapolated.`);
    notes.push(
      `Idle = ${idleMs / 1000} s after ready, VmRSS from /proc/<pid>/status. Floors measured in the same run: bare Node ${Math.round((bareRss ?? 0) / MB)} MB, an idle BullMQ Worker process ${Math.round((workerRss ?? 0) / MB)} MB.`,
      `Long run: ${done} runs at concurrency ${ctx.concurrency} (${Math.round(drain.overall.perSecond)} runs/s); RSS after 20 % of the runs ${afterWarmUp?.toFixed(1)} MB, at the end ${atEnd?.toFixed(1)} MB, peak ${peak?.toFixed(1)} MB, median of the second half ${quantile(lateHalf, 0.5)?.toFixed(1)} MB; at the end the V8 heap was ${heap.totalMb.toFixed(0)} MB of which ${heap.usedMb.toFixed(0)} MB in use (external ${heap.externalMb.toFixed(0)} MB): under load V8 grows its heap rather than collect more often, and keeps it. Bound stated here: at most ${RSS_GROWTH_BOUND_MB} MB growth from the end of warm-up (20 % of the runs) to the end.`,
    );
    notes.push(`Private (anonymous) part of those idle RSS figures: ${[...privateRss].map(([label, bytes]) => `${label} ${Math.round(bytes / MB)} MB`).join(', ')}; the rest is file-backed pages, mostly the node binary's, shared by every Node process on a machine.`);
    const mb = (bytes: number | null): number | null => (bytes === null ? null : bytes / MB);
    return {
      figures: [
        figure('HTTP-only agent idle RSS', mb(httpAgentRss), 'MB', { name: 'idle BullMQ Worker process', value: mb(workerRss) }),
        figure('HTTP-only agent idle RSS vs bare Node', mb(httpAgentRss), 'MB', { name: 'bare Node', value: mb(bareRss) }),
        figure('browser-enabled agent idle RSS', mb(browserAgentRss), 'MB', { name: 'HTTP-only agent', value: mb(httpAgentRss) }),
        figure('browser-enabled agent idle RSS after one browser run', mb(browserAfterRunRss), 'MB', { name: 'HTTP-only agent', value: mb(httpAgentRss) }),
        figure('browser-enabled agent + Chromium processes, RSS sum', mb(browserTreeRss), 'MB', { name: 'HTTP-only agent', value: mb(httpAgentRss) }),
        figure('coordinator idle RSS', mb(coordinatorRss), 'MB', { name: 'idle BullMQ Worker process', value: mb(workerRss) }),
        figure(`agent RSS after ${done} runs`, atEnd, 'MB', { name: 'after 20 % of the runs', value: afterWarmUp }),
        figure('agent RSS peak during the long run', peak, 'MB', { name: 'HTTP-only agent idle', value: mb(httpAgentRss) }),
      ],
      targets: [
        target('HTTP-only agent idle RSS ≤ 90 MB', mb(httpAgentRss), 'MB', (v) => v <= 90),
        target(`agent RSS growth after warm-up ≤ ${RSS_GROWTH_BOUND_MB} MB over the long run`, growth, 'MB', (v) => v <= RSS_GROWTH_BOUND_MB),
      ],
      notes,
      data: { idleMs, privateRss: Object.fromEntries(privateRss), bareRss, workerRss, httpAgentRss, browserAgentRss, browserAfterRunRss, browserTreeRss, coordinatorRss, longRun: { wanted: runs, done, heap, outcomes: drain.outcomes, series: series.filter((_, i) => i % 10 === 0) } },
    };
  },
};
