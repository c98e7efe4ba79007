/**
 * The cost of the always-on network facts (agent/runners/http/facts.ts: resolved addresses, the address
 * connected to, TLS session and certificate, edge identity): the HTTP runner's CPU per run with facts on
 * and off, over HTTP and HTTPS, against a loopback target in a process of its own. Batches alternate
 * (on, off, off, on, …) so that drift in the machine's load hits both alike; the first batch of each is
 * warm-up and dropped. The target: under 5 % of the agent's CPU per check. The runner's own CPU per run
 * is the limit measured here: a whole check also costs the queue round trips, so the agent's CPU per
 * check is larger and the true share smaller.
 */
import { createHttpRunner } from '../../agent/runners/http/index.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCertificates } from '../lib/certs.ts';
import { httpCheck } from '../lib/payloads.ts';
import { figure, target, type Figure, type Target } from '../lib/report.ts';
import type { Section, SectionContext, SectionOutput } from '../lib/section.ts';
import { median } from '../lib/stats.ts';
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
    const batches = ctx.smoke ? 3 : 21;
    const perBatch = ctx.smoke ? 20 : 300;
    const certs = makeCertificates(join(ctx.resultsDir, 'facts-certs'), ['localhost']);
    const plain = await startTarget(ctx, 'facts-target-http');
    const secure = await startTarget(ctx, 'facts-target-https', ['--tls', join(ctx.resultsDir, 'facts-certs')]);
    const ca = readFileSync(certs.ca, 'utf8');
    const figures: Figure[] = [];
    const targets: Target[] = [];
    const data: Record<string, { on: number[]; off: number[] }> = {};
    for (const [label, url] of [['http', plain.url], ['https', secure.url]] as const) {
      const definition = httpCheck({ id: `facts-${label}`, url: `${url}/`, regions: ['bench'], timeoutMs: 5_000 });
      const runners = { on: createHttpRunner({ ca }), off: createHttpRunner({ ca, facts: false }) };
      const once = (mode: 'on' | 'off') => async (): Promise<void> => {
        const report = await runners[mode](definition, { region: 'bench', agentId: 'bench', signal: AbortSignal.timeout(5_000), deadlineAt: Date.now() + 5_000 });
        if (report.outcome !== 'pass') throw new Error(`BENCH_FACTS: ${label} run failed: ${report.error?.code} ${report.error?.message}`);
        if ((mode === 'on') !== (report.network !== undefined)) throw new Error('BENCH_FACTS: facts were not what the runner was built for');
      };
      const samples = { on: [] as number[], off: [] as number[] };
      for (let batch = 0; batch < batches; batch++) {
        const order: Array<'on' | 'off'> = batch % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
        for (const mode of order) {
          const micros = await cpuPerRun(once(mode), perBatch);
          if (batch > 0) samples[mode].push(micros);
        }
      }
      data[label] = samples;
      const on = median(samples.on)!;
      const off = median(samples.off)!;
      const cost = on - off;
      figures.push(figure(`${label}: runner CPU per run, facts on`, Math.round(on), 'µs', { name: 'facts off', value: Math.round(off) }));
      figures.push(figure(`${label}: cost of the facts per run`, Math.round(cost), 'µs', { name: 'runner CPU per run (facts off)', value: Math.round(off) }));
      targets.push(target(`${label}: facts cost under 5 % of the CPU per check`, Math.round((cost / off) * 1000) / 10, '%', (v) => v < 5));
    }
    return {
      figures, targets, data,
      notes: [
        `${batches - 1} batches of ${perBatch} runs per mode and protocol (4 at a time), alternating; medians of the batches' CPU per run. A fresh connection per run (TLS handshake included), loopback target in its own process.`,
        'The limit is the HTTP runner\'s own CPU per run, less than the agent\'s CPU per check (which adds the queue and result round trips): the share of a whole check is smaller still.',
      ],
    };
  },
};
