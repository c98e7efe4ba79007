/**
 * Agent HTTP throughput, end to end through the queues, against the machine's limits measured in the
 * same run on the same loopback target and at the same concurrency:
 * - Lookout: check jobs wait in the paused `checks.<region>` queue; the agent (`agent/main.ts`, a process
 *   of its own) is released on them and drains them; done when every job has a result on the results
 *   queue. Rate and CPU per check over the steady part (10 % → 90 % of results), CPU from
 *   /proc/<pid>/stat of the agent alone; run latency p50/p99 from the results' `timings.totalMs`.
 * - raw undici: a process doing only `new Client` + request + read + close, per request.
 * - blackbox_exporter: `/probe?module=http_2xx` from a keep-alive load loop in its own process; the
 *   exporter's CPU from /proc.
 * The three alternate in rounds (the machine is shared and its load drifts); ratios are taken per round
 * and the median round is reported.
 */
import { join } from 'node:path';
import { startAgentRig, type AgentDrain } from '../lib/agent-rig.ts';
import { ensureBlackbox, startBlackbox, type RunningBlackbox } from '../lib/blackbox.ts';
import type { LoadLoopResult } from '../lib/load-loop.ts';
import { firstJsonLine, procSample, spawnNode, type Child } from '../lib/proc.ts';
import { profileNotes } from '../lib/profile-summary.ts';
import { figure, target } from '../lib/report.ts';
import type { Section, SectionContext, SectionOutput } from '../lib/section.ts';
import { median, round } from '../lib/stats.ts';

/** Starts a target process (bench/children/target.ts); returns its URL. */
export async function startTarget(ctx: SectionContext, name: string, args: string[] = []): Promise<{ url: string; child: Child }> {
  const child = spawnNode(name, 'bench/children/target.ts', args, { logDir: ctx.logDir });
  ctx.defer(() => child.stop(2_000));
  const { listening } = await firstJsonLine<{ listening: string }>(child, 'listening', 10_000);
  return { url: listening, child };
}

async function runLoop(ctx: SectionContext, name: string, script: string, args: string[], timeoutMs: number): Promise<LoadLoopResult> {
  const child = spawnNode(name, script, args, { logDir: ctx.logDir });
  ctx.defer(() => child.stop(2_000));
  const { result } = await firstJsonLine<{ result: LoadLoopResult }>(child, 'result', timeoutMs);
  await child.exited;
  return result;
}

interface Round {
  agent: AgentDrain;
  undici: LoadLoopResult;
  blackbox: (LoadLoopResult & { exporterCpuMsPerProbe: number }) | null;
  targetCpuMsPerAgentCheck: number;
}

const med = (values: Array<number | null | undefined>): number | null => median(values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)));

export const httpThroughput: Section = {
  id: 'httpThroughput',
  title: 'Agent HTTP throughput',
  async run(ctx): Promise<SectionOutput> {
    const concurrency = ctx.concurrency;
    const rounds = ctx.smoke ? 1 : 3;
    const jobsPerRound = ctx.smoke ? 300 : 8_000;
    const loopMs = ctx.smoke ? 1_000 : 5_000;
    const { url: targetUrl, child: targetChild } = await startTarget(ctx, 'throughput-target');
    const notes: string[] = [];

    let exporter: RunningBlackbox | null = null;
    const found = ensureBlackbox(!ctx.smoke, ctx.log);
    if ('path' in found) {
      exporter = await startBlackbox(found.path, join(ctx.logDir, 'blackbox'), ctx.logDir);
      const { child } = exporter;
      ctx.defer(() => child.stop(2_000));
    } else {
      ctx.log(`blackbox_exporter not measured: ${found.missing}`);
      notes.push(`blackbox_exporter not measured: ${found.missing}.`);
    }
    const noBlackbox = 'path' in found ? undefined : found.missing;
    const profileSince = Date.now();
    const rig = await startAgentRig(ctx, { targetUrl, concurrency, label: 'tput' });

    const results: Round[] = [];
    for (let r = 0; r < rounds; r++) {
      ctx.log(`round ${r + 1}/${rounds}: agent (${jobsPerRound} jobs), raw undici, blackbox_exporter at concurrency ${concurrency}`);
      const targetCpu0 = procSample(targetChild.pid)?.cpuMs ?? 0;
      const agent = await rig.drain({ jobs: jobsPerRound, timeLimitMs: ctx.smoke ? 15_000 : 40_000 });
      const targetCpuMsPerAgentCheck = ((procSample(targetChild.pid)?.cpuMs ?? 0) - targetCpu0) / Math.max(1, agent.results);
      if (agent.timedOut) notes.push(`Round ${r + 1}: the agent drained ${agent.results} of ${jobsPerRound} jobs before the time limit.`);
      const undici = await runLoop(ctx, `undici-loop-${r + 1}`, 'bench/children/undici-loop.ts',
        ['--url', `${targetUrl}/`, '--concurrency', String(concurrency), '--count', String(jobsPerRound * 4), '--duration-ms', String(loopMs)], loopMs + 15_000);
      if (undici.failed > 0) notes.push(`Round ${r + 1}, raw undici: ${undici.failed} requests failed (${undici.errors.join('; ')}).`);
      let blackbox: Round['blackbox'] = null;
      if (exporter) {
        const cpu0 = procSample(exporter.child.pid)?.cpuMs ?? 0;
        const result = await runLoop(ctx, `probe-loop-${r + 1}`, 'bench/children/probe-loop.ts',
          ['--exporter', exporter.url, '--target', `${targetUrl}/`, '--concurrency', String(concurrency), '--count', String(jobsPerRound * 4), '--duration-ms', String(loopMs)], loopMs + 15_000);
        const cpuMs = (procSample(exporter.child.pid)?.cpuMs ?? 0) - cpu0;
        blackbox = { ...result, exporterCpuMsPerProbe: cpuMs / Math.max(1, result.ok + result.failed) };
        if (result.failed > 0) notes.push(`Round ${r + 1}, blackbox_exporter: ${result.failed} probes failed (${result.errors.join('; ')}).`);
      }
      results.push({ agent, undici, blackbox, targetCpuMsPerAgentCheck });
    }
    await rig.stop();

    const agentRate = med(results.map((r) => r.agent.perSecond));
    const agentCpu = med(results.map((r) => r.agent.cpuMsPerCheck));
    const undiciRate = med(results.map((r) => r.undici.perSecond));
    const undiciCpu = med(results.map((r) => r.undici.cpuMs / Math.max(1, r.undici.ok + r.undici.failed)));
    const blackboxRate = med(results.map((r) => r.blackbox?.perSecond));
    const blackboxCpu = med(results.map((r) => r.blackbox?.exporterCpuMsPerProbe));
    const vsUndici = med(results.map((r) => (r.agent.perSecond === null ? null : r.agent.perSecond / r.undici.perSecond)));
    const vsBlackbox = med(results.map((r) => (r.agent.perSecond === null || !r.blackbox ? null : r.agent.perSecond / r.blackbox.perSecond)));
    const outcomes: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(r.agent.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;

    notes.push(
      `Concurrency ${concurrency} for all three; ${rounds} round(s) alternating agent → raw undici → blackbox_exporter (${jobsPerRound} agent jobs, ${loopMs / 1000} s loops); figures are medians over rounds, ratios the median of the per-round ratios. One loopback HTTP target process (200, 16-byte JSON body); a fresh connection per check everywhere.`,
      'Agent rate and CPU are over the steady part of each drain (10 % → 90 % of its results); end to end = job taken from checks.<region> → validated → run → result validated and written to the results queue (no coordinator running: this measures the agent alone).',
      `Agent CPU is the agent process only (/proc/<pid>/stat); the target spent ${round(med(results.map((r) => r.targetCpuMsPerAgentCheck)), 3)} ms CPU per agent check. The agent is one Node process (one core at most for JavaScript); blackbox_exporter is Go and uses every core; redis-server and the target share the machine's cores with all three.`,
      `Per round, agent checks/s: ${results.map((r) => round(r.agent.perSecond, 0)).join(', ')}; raw undici: ${results.map((r) => round(r.undici.perSecond, 0)).join(', ')}; blackbox_exporter: ${results.map((r) => round(r.blackbox?.perSecond, 0) ?? 'n/a').join(', ')}.`,
    );
    if (Object.keys(outcomes).some((k) => k !== 'pass')) notes.push(`Agent outcomes: ${JSON.stringify(outcomes)}.`);
    if (ctx.profile) notes.push(...profileNotes(join(ctx.resultsDir, 'profiles'), profileSince, 'Agent'));

    return {
      figures: [
        figure('agent checks/s', agentRate, 'checks/s', { name: 'raw undici', value: undiciRate }),
        figure('agent checks/s vs blackbox', agentRate, 'checks/s', { name: 'blackbox_exporter', value: blackboxRate }),
        figure('agent CPU per check', agentCpu, 'ms', { name: 'raw undici CPU per request', value: undiciCpu }),
        figure('blackbox_exporter CPU per probe', blackboxCpu, 'ms', { name: 'agent CPU per check', value: agentCpu }),
        figure('agent run latency p50', med(results.map((r) => r.agent.runLatencyMs.p50)), 'ms', { name: 'raw undici request p50', value: med(results.map((r) => r.undici.latencyMs.p50)) }),
        figure('agent run latency p99', med(results.map((r) => r.agent.runLatencyMs.p99)), 'ms', { name: 'raw undici request p99', value: med(results.map((r) => r.undici.latencyMs.p99)) }),
        figure('blackbox probe latency p50 (as seen by the load loop)', med(results.map((r) => r.blackbox?.latencyMs.p50)), 'ms', { name: 'raw undici request p50', value: med(results.map((r) => r.undici.latencyMs.p50)) }),
      ],
      targets: [
        target('agent ≥ 1.5× blackbox_exporter (checks/s ratio)', vsBlackbox, '×', (v) => v >= 1.5, noBlackbox),
        target('agent ≥ 50 % of raw undici (checks/s ratio)', vsUndici, '×', (v) => v >= 0.5),
        target('≤ 0.25 ms agent CPU per HTTP check', agentCpu, 'ms', (v) => v <= 0.25),
      ],
      notes,
      data: { concurrency, rounds: results },
    };
  },
};
