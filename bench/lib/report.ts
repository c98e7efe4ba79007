/**
 * The benchmark report: one section per benchmark, each figure beside the limit measured in the same run
 * (as a ratio, because shared machines drift), each target with what was measured and whether it was met.
 * Pure: builds and renders data; writing files is run.ts's job.
 */
import { round } from './stats.ts';

export interface Figure {
  name: string;
  value: number | null;
  unit: string;
  /** The reference measured in the same run (raw undici, blackbox_exporter, curl, raw BullMQ...). */
  limit?: { name: string; value: number | null };
  /** `value / limit.value`. */
  ratio?: number | null;
}

export interface Target {
  /** What the issue asks, e.g. `agent ≥ 1.5× blackbox_exporter`. */
  goal: string;
  /** The measured quantity the goal is judged on, in the goal's terms. */
  measured: number | null;
  unit: string;
  /** null when the figure could not be measured. */
  met: boolean | null;
  /** Why it was not measured (e.g. the peer it is compared with is not installed); set when `measured` is null. */
  notMeasured?: string;
}

export type SectionStatus = 'ok' | 'error' | 'absent';

export interface SectionResult {
  id: string;
  title: string;
  status: SectionStatus;
  durationMs: number;
  /** 1-minute load average when the section started and ended: other work on a shared machine shows here. */
  loadAverage?: { start: number; end: number };
  figures: Figure[];
  targets: Target[];
  /** Setup, what bounds a missed target, what was measured how. */
  notes: string[];
  error?: string;
  /** Raw numbers for anyone who wants to dig. */
  data?: unknown;
}

export interface Report {
  generatedAt: string;
  mode: 'full' | 'smoke';
  machine: Record<string, string | number>;
  totalMs: number;
  sections: SectionResult[];
}

/** A figure with its limit and the ratio between them. */
export function figure(name: string, value: number | null, unit: string, limit?: { name: string; value: number | null }): Figure {
  if (!limit) return { name, value, unit };
  const ratio = value === null || limit.value === null || limit.value === 0 ? null : value / limit.value;
  return { name, value, unit, limit, ratio };
}

/**
 * A target judged by `met(measured)`; unmeasured (null) stays unjudged. `whyNot` says why a target could
 * not be measured at all (a peer binary that is absent), so that the report says so instead of a bare n/a.
 */
export function target(goal: string, measured: number | null, unit: string, met: (value: number) => boolean, whyNot?: string): Target {
  const measurable = measured !== null && Number.isFinite(measured);
  const judged: Target = { goal, measured, unit, met: measurable ? met(measured) : null };
  if (!measurable && whyNot) judged.notMeasured = whyNot;
  return judged;
}

const show = (value: number | null | undefined, digits = 2): string => {
  const rounded = round(value, digits);
  return rounded === null ? 'n/a' : String(rounded);
};

const verdict = (t: Target): string => (t.met === null ? (t.notMeasured ? `not measured: ${t.notMeasured}` : 'not measured') : t.met ? 'met' : '**missed**');

export function renderMarkdown(report: Report): string {
  const lines: string[] = [
    '# Lookout benchmarks',
    '',
    `Generated ${report.generatedAt} (${report.mode} run, ${show(report.totalMs / 1000, 0)} s). Machine: ${Object.entries(report.machine).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    '',
    'Every figure sits beside the limit measured in the same run, as a ratio: these machines are shared and absolute times drift.',
    '',
    '## Targets',
    '',
    '| section | target | measured | verdict |',
    '| --- | --- | --- | --- |',
  ];
  for (const section of report.sections) {
    for (const t of section.targets) lines.push(`| ${section.title} | ${t.goal} | ${show(t.measured, 3)} ${t.unit} | ${verdict(t)} |`);
    if (section.status !== 'ok' && section.targets.length === 0) lines.push(`| ${section.title} | — | ${section.status} | ${section.error ?? ''} |`);
  }
  for (const section of report.sections) {
    lines.push('', `## ${section.title}`, '');
    if (section.status === 'error') lines.push(`**Error:** ${section.error ?? 'unknown'}`, '');
    if (section.status === 'absent') lines.push(`Not run: ${section.error ?? 'absent'}`, '');
    if (section.figures.length > 0) {
      lines.push('| figure | value | limit (same run) | ratio |', '| --- | --- | --- | --- |');
      for (const f of section.figures) {
        const limit = f.limit ? `${f.limit.name}: ${show(f.limit.value, 3)} ${f.unit}` : '—';
        const ratio = f.limit ? (f.ratio === null || f.ratio === undefined ? 'n/a' : `${show(f.ratio, 3)}×`) : '—';
        lines.push(`| ${f.name} | ${show(f.value, 3)} ${f.unit} | ${limit} | ${ratio} |`);
      }
      lines.push('');
    }
    for (const note of section.notes) lines.push(`- ${note}`);
    const load = section.loadAverage ? `, load average ${show(section.loadAverage.start)} → ${show(section.loadAverage.end)} on ${report.machine.cpus ?? '?'} CPUs` : '';
    lines.push('', `_(${show(section.durationMs / 1000, 1)} s${load})_`);
  }
  return `${lines.join('\n')}\n`;
}
