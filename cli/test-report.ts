/**
 * Reports of `lookout test`: a table for people, JSON for tools, JUnit XML for CI systems. Pure: each
 * takes the finished runs and returns text.
 */
import type { RunResult } from '../checks/contract.ts';

export interface TestRun {
  id: string;
  name: string;
  type: string;
  /** The check file, relative to the working directory. */
  file: string;
  result: RunResult;
}

export interface TestTotals {
  total: number;
  passed: number;
  failed: number;
  errors: number;
  durationMs: number;
}

export const REPORTERS = ['table', 'json', 'junit'] as const;
export type Reporter = typeof REPORTERS[number];

export function totals(runs: readonly TestRun[], durationMs: number): TestTotals {
  return {
    total: runs.length,
    passed: runs.filter((r) => r.result.outcome === 'pass').length,
    failed: runs.filter((r) => r.result.outcome === 'fail').length,
    errors: runs.filter((r) => r.result.outcome === 'error').length,
    durationMs,
  };
}

/** What went wrong, line by line: the error, each failed assertion, a browser run's failed step. */
export function failureDetails(result: RunResult): string[] {
  if (result.outcome === 'pass') return [];
  const lines = result.error ? [`${result.error.code}: ${result.error.message}`] : [];
  for (const a of result.assertions) if (!a.passed) lines.push(`✗ expected ${a.expected}, got ${a.actual}`);
  if (result.browser?.failedStep) lines.push(`failed step: ${result.browser.failedStep}`);
  for (const artifact of result.browser?.artifacts ?? []) lines.push(`artifact: ${artifact.key}`);
  return lines;
}

const ms = (value: number | null | undefined): string => (value === null || value === undefined ? '-' : `${Math.round(value)}ms`);

/** One row per check (outcome, timings, status), the failure details under failing rows, and a summary line. */
export function tableReport(runs: readonly TestRun[], sum: TestTotals, options: { color?: boolean } = {}): string {
  const paint = (outcome: string, text: string): string => {
    if (!options.color) return text;
    const code = outcome === 'pass' ? '32' : outcome === 'fail' ? '31' : '33';
    return `\x1b[${code}m${text}\x1b[0m`;
  };
  const header = ['RESULT', 'CHECK', 'TYPE', 'STATUS', 'TOTAL', 'DNS', 'CONNECT', 'TLS', 'TTFB'];
  const rows = runs.map((run) => {
    const t = run.result.timings;
    return [
      run.result.outcome.toUpperCase(), run.id, run.type, run.result.statusCode === null ? '-' : String(run.result.statusCode),
      ms(t?.totalMs ?? run.result.endedAt - run.result.startedAt), ms(t?.dnsMs), ms(t?.connectMs), ms(t?.tlsMs), ms(t?.firstByteMs),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [line(header)];
  runs.forEach((run, i) => {
    out.push(paint(run.result.outcome, line(rows[i]!)));
    for (const detail of failureDetails(run.result)) out.push(`    ${detail}`);
    if (run.result.outcome !== 'pass') out.push(`    in ${run.file}`);
  });
  out.push('');
  const took = sum.durationMs < 1_000 ? `${sum.durationMs}ms` : `${(sum.durationMs / 1000).toFixed(1)}s`;
  out.push(`${sum.total} check(s): ${sum.passed} passed, ${sum.failed} failed, ${sum.errors} error(s) in ${took}`);
  return `${out.join('\n')}\n`;
}

/** The whole outcome as JSON: a summary and one entry per check. */
export function jsonReport(runs: readonly TestRun[], sum: TestTotals): string {
  return `${JSON.stringify({
    summary: sum,
    checks: runs.map((run) => ({
      id: run.id, name: run.name, type: run.type, file: run.file,
      outcome: run.result.outcome, error: run.result.error, statusCode: run.result.statusCode,
      timings: run.result.timings, durationMs: run.result.endedAt - run.result.startedAt,
      failedAssertions: run.result.assertions.filter((a) => !a.passed).map((a) => ({ expected: a.expected, actual: a.actual })),
      ...(run.result.browser ? { failedStep: run.result.browser.failedStep, steps: run.result.browser.steps, artifacts: run.result.browser.artifacts } : {}),
    })),
  }, null, 2)}\n`;
}

/** JUnit XML: one test case per check; a target failure is a `<failure>`, an agent error an `<error>`. */
export function junitReport(runs: readonly TestRun[], sum: TestTotals, options: { region: string; timestamp: Date }): string {
  const seconds = (n: number): string => (n / 1000).toFixed(3);
  const cases = runs.map((run) => {
    const { result } = run;
    const open = `    <testcase classname="${xml(run.file)}" name="${xml(run.id)}" time="${seconds(result.endedAt - result.startedAt)}">`;
    if (result.outcome === 'pass') return `${open}</testcase>`;
    const tag = result.outcome === 'fail' ? 'failure' : 'error';
    const code = result.error?.code ?? 'UNKNOWN';
    return [
      open,
      `      <${tag} type="${xml(code)}" message="${xml(result.error?.message ?? code)}">${xml(failureDetails(result).join('\n'))}</${tag}>`,
      '    </testcase>',
    ].join('\n');
  });
  const counts = `tests="${sum.total}" failures="${sum.failed}" errors="${sum.errors}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="lookout" ${counts} time="${seconds(sum.durationMs)}">`,
    `  <testsuite name="lookout test (region ${xml(options.region)})" ${counts} skipped="0" time="${seconds(sum.durationMs)}" timestamp="${options.timestamp.toISOString()}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** Text as XML character data or attribute value: escaped, and without the characters XML 1.0 forbids. */
export function xml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
