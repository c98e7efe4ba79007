/**
 * The cost of the always-on network facts (agent/runners/http/facts.ts: resolved addresses, the address
 * connected to, TLS session and certificate, edge identity), over HTTP and HTTPS against a loopback target
 * in a process of its own, as a share of the agent's CPU per check (the target: under 5 %).
 * - The cost: what the agent does per check that depends on the facts (the runner, then validating and
 *   serialising the result as the worker and publisher do), with facts on and off, in this process, in
 *   rounds where the two modes run back to back in alternating order; the trimmed mean of the rounds' differences.
 * - The limit: an agent process's CPU per check, measured in the same run with the agent rig (jobs through
 *   its region's queue, results on the results queue), for the same target.
 */
import { createHttpRunner } from '../../agent/runners/http/index.ts';
import { validResult } from '../../agent/results/result.ts';
import { startAgentRig } from '../lib/agent-rig.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCertificates } from '../lib/certs.ts';
import { httpCheck } from '../lib/payloads.ts';
import { figure, target, type Figure, type Target } from '../lib/report.ts';
import type { Section, SectionContext, SectionOutput } from '../lib/section.ts';
import { median, trimmedMean } from '../lib/stats.ts';
import { startTarget } from './http-throughput.ts';

/** CPU microseconds per run of `runs` sequential runs (4 at a time, as an agent would run them). */
async function cpuPerRun(run: () => Promise<unknown>, runs: number): Promise<number> {
  const before = process.cpuUsage();
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next++ < runs) await run();
  }));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / runs;
}

export const networkFacts: Section = {
  id: 'network-facts',
  title: 'Cost of the network facts on every HTTP run',
  async run(ctx: SectionContext): Promise<SectionOutput> {
    const batches = ctx.smoke ? 3 : 31;
    const perBatch = ctx.smoke ? 20 : 200;
    const certs = makeCertificates(join(ctx.resultsDir, 'facts-certs'), ['localhost']);
    const plain = await startTarget(ctx, 'facts-target-http');
    const secure = await startTarget(ctx, 'facts-target-https', ['--tls', join(ctx.resultsDir, 'facts-certs')]);
    const ca = readFileSync(certs.ca, 'utf8');
    const figures: Figure[] = [];
    const targets: Target[] = [];
    const data: Record<string, { on: number[]; off: number[]; cost: number[] }> = {};
    for (const [label, url] of [['http', plain.url], ['https', secure.url]] as const) {
      const definition = httpCheck({ id: `facts-${label}`, url: `${url}/`, regions: ['bench'], timeoutMs: 5_000 });
      const runners = { on: createHttpRunner({ ca }), off: createHttpRunner({ ca, facts: false }) };
      const once = (mode: 'on' | 'off') => async (): Promise<void> => {
        const scheduledAt = Date.now();
        const report = await runners[mode](definition, { region: 'bench', agentId: 'bench', signal: AbortSignal.timeout(5_000), deadlineAt: scheduledAt + 5_000 });
        if (report.outcome !== 'pass') throw new Error(`BENCH_FACTS: ${label} run failed: ${report.error?.code} ${report.error?.message}`);
        if ((mode === 'on') !== (report.network !== undefined)) throw new Error('BENCH_FACTS: facts were not what the runner was built for');
        // What the worker and the publisher do with the report: validate the result, serialise it.
        const built = validResult({ checkId: definition.id, checkVersion: 1, region: 'bench', agentId: 'bench', trigger: 'schedule', scheduledAt, slot: null }, report);
        if (!('result' in built) || built.replaced) throw new Error('BENCH_FACTS: the result did not validate');
        JSON.stringify(built.result);
      };
      const samples = { on: [] as number[], off: [] as number[], cost: [] as number[] };
      for (let batch = 0; batch < batches; batch++) {
        const order: Array<'on' | 'off'> = batch % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
        const pair: Record<string, number> = {};
        for (const mode of order) pair[mode] = await cpuPerRun(once(mode), perBatch);
        if (batch === 0) continue;
        samples.on.push(pair.on!);
        samples.off.push(pair.off!);
        // Paired: the two batches of one round ran back to back, under the same load.
        samples.cost.push(pair.on! - pair.off!);
      }
      const on = median(samples.on)!;
      const off = median(samples.off)!;
      const cost = trimmedMean(samples.cost, 0.2)!;
      // The agent's own CPU per check for this target, through its queue (facts on, as agents run).
      const rig = await startAgentRig(ctx, { targetUrl: url, concurrency: 10, label: `facts-${label}`, env: { NODE_EXTRA_CA_CERTS: certs.ca } });
      const drain = await rig.drain({ jobs: ctx.smoke ? 100 : 3_000, timeLimitMs: ctx.smoke ? 20_000 : 90_000 });
      await rig.stop();
      const agentMicros = drain.cpuMsPerCheck === null ? null : Math.round(drain.cpuMsPerCheck * 1000);
      figures.push(figure(`${label}: runner + result CPU per run, facts on`, Math.round(on), 'µs', { name: 'facts off', value: Math.round(off) }));
      figures.push(figure(`${label}: cost of the facts per check`, Math.round(cost), 'µs', { name: 'agent CPU per check', value: agentMicros }));
      targets.push(target(`${label}: facts cost under 5 % of the agent's CPU per check`, agentMicros === null ? null : Math.round((cost / agentMicros) * 1000) / 10, '%', (v) => v < 5));
      data[label] = { ...samples, agentMicrosPerCheck: agentMicros } as never;
    }
    return {
      figures, targets, data,
      notes: [
        `${batches - 1} rounds of ${perBatch} runs per mode and protocol (4 at a time), the two modes back to back in each round, in alternating order; the cost is the mean of the rounds' differences without the 20 % highest and lowest (a shared machine's load swings more than the cost). A fresh connection per run (TLS handshake included), loopback target in its own process.`,
        'The limit: an agent process draining its region\'s queue against the same target (concurrency 10, facts on), CPU per check from /proc over the steady part of the drain.',
      ],
    };
  },
};
