import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/lib/cli.ts';
import { figure, renderMarkdown, target, type Report } from '../../bench/lib/report.ts';

describe('bench report', () => {
  it('puts a figure beside its limit as a ratio', () => {
    expect(figure('agent', 900, 'checks/s', { name: 'undici', value: 1800 })).toEqual({
      name: 'agent', value: 900, unit: 'checks/s', limit: { name: 'undici', value: 1800 }, ratio: 0.5,
    });
    expect(figure('agent', 900, 'checks/s', { name: 'blackbox', value: null }).ratio).toBeNull();
    expect(figure('agent', null, 'checks/s', { name: 'undici', value: 3 }).ratio).toBeNull();
    expect(figure('plain', 1, 'ms')).toEqual({ name: 'plain', value: 1, unit: 'ms' });
  });

  it.each([
    { measured: 0.2, met: true },
    { measured: 0.3, met: false },
    { measured: null, met: null },
    { measured: Number.NaN, met: null },
  ])('judges a target on $measured → $met', ({ measured, met }) => {
    expect(target('≤ 0.25 ms', measured, 'ms', (v) => v <= 0.25).met).toBe(met);
  });

  it('says why a target was not measured when its peer is absent, and only then', () => {
    const absent = 'prometheus-blackbox-exporter is not installed';
    expect(target('≥ 1.5× blackbox', null, '×', (v) => v >= 1.5, absent)).toEqual({ goal: '≥ 1.5× blackbox', measured: null, unit: '×', met: null, notMeasured: absent });
    expect(target('≥ 1.5× blackbox', 2, '×', (v) => v >= 1.5, absent)).toEqual({ goal: '≥ 1.5× blackbox', measured: 2, unit: '×', met: true });
    expect(target('≥ 1.5× blackbox', null, '×', (v) => v >= 1.5)).not.toHaveProperty('notMeasured');
    const markdown = renderMarkdown({
      generatedAt: '2026-01-01T00:00:00.000Z', mode: 'smoke', machine: { cpus: 2 }, totalMs: 1_000,
      sections: [{ id: 't', title: 'Throughput', status: 'ok', durationMs: 1_000, figures: [], notes: [],
        targets: [target('≥ 1.5× blackbox', null, '×', (v) => v >= 1.5, absent), target('≤ 1 ms', null, 'ms', (v) => v <= 1)] }],
    });
    expect(markdown).toContain(`| Throughput | ≥ 1.5× blackbox | n/a × | not measured: ${absent} |`);
    expect(markdown).toContain('| Throughput | ≤ 1 ms | n/a ms | not measured |');
  });

  it('renders targets, figures with limits and ratios, notes and errors', () => {
    const report: Report = {
      generatedAt: '2026-01-01T00:00:00.000Z', mode: 'smoke', machine: { cpus: 2 }, totalMs: 5_000,
      sections: [
        {
          id: 'a', title: 'Alpha', status: 'ok', durationMs: 1_000,
          figures: [figure('rate', 10, 'x/s', { name: 'raw', value: 40 })],
          targets: [target('rate ≥ 50 % of raw', 0.25, '×', (v) => v >= 0.5)],
          notes: ['bounded by the CPU'],
        },
        { id: 'b', title: 'Beta', status: 'error', durationMs: 10, figures: [], targets: [], notes: [], error: 'BENCH_TIMEOUT: x' },
        { id: 'c', title: 'Gamma', status: 'absent', durationMs: 0, figures: [], targets: [], notes: [], error: 'script missing' },
      ],
    };
    const markdown = renderMarkdown(report);
    expect(markdown).toContain('| Alpha | rate ≥ 50 % of raw | 0.25 × | **missed** |');
    expect(markdown).toContain('| rate | 10 x/s | raw: 40 x/s | 0.25× |');
    expect(markdown).toContain('- bounded by the CPU');
    expect(markdown).toContain('**Error:** BENCH_TIMEOUT: x');
    expect(markdown).toContain('Not run: script missing');
    expect(markdown).toContain('## Gamma');
  });
});

describe('bench flags', () => {
  const ids = ['httpThroughput', 'memory'];
  it('reads every flag', () => {
    expect(parseBenchArgs(['--smoke', '--only', 'memory', '--results-dir=/tmp/x', '--profile', '--concurrency', '20'], ids)).toEqual({
      options: { smoke: true, only: ['memory'], resultsDir: '/tmp/x', profile: true, concurrency: 20 },
    });
    expect(parseBenchArgs([], ids)).toEqual({ options: { smoke: false, only: null, resultsDir: null, profile: false, concurrency: 10 } });
    expect(parseBenchArgs(['-h'], ids)).toEqual({ help: true });
  });

  it('reports every problem at once', () => {
    const parsed = parseBenchArgs(['--only', 'nope', '--concurrency', '0', '--fast'], ids);
    expect(parsed).toEqual({ errors: [
      '--only: unknown section "nope" (known: httpThroughput, memory)',
      '--concurrency: expected an integer from 1 to 500, got "0"',
      '--fast: unknown flag (see --help)',
    ] });
  });
});
