/**
 * `npm run chaos`: every scenario of scenarios.ts on a fleet of its own, in network namespaces this run
 * creates (root, iproute2, iptables, redis-server, redis-sentinel: `scripts/bootstrap.sh chaos`), and a
 * report of each against the targets (README: Chaos suite). Exit 1 when a target was missed.
 *
 *   npm run chaos                              every scenario (about 11 minutes on 2 cores)
 *   npm run chaos -- --only primary-kill,control
 *   npm run chaos -- --report <dir>            where report.md and report.json go (default .lookout/chaos)
 *   npm run chaos -- --keep                    keep every scenario's logs (else only those of a missed target)
 *
 * Namespaces, their iptables rules and links, and every process are removed when a scenario ends, fails,
 * or the run is interrupted (SIGINT/SIGTERM).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { netnsSupport } from '../support/chaos-network.ts';
import { startChaosFleet, type ChaosFleet } from '../support/chaos-fleet.ts';
import { measureFault, type FaultReport } from './measure.ts';
import { SCENARIOS, type Scenario } from './scenarios.ts';

/** Every region `up` again within this long after each fault ends. */
export const ALL_UP_WITHIN_MS = 30_000;

export interface Verdict { target: string; met: boolean }

/** Each target of the issue, met or not, for one report. */
export function judge(report: FaultReport, scenario: Pick<Scenario, 'expectedIncidents'>): Verdict[] {
  const verdicts: Verdict[] = [
    { target: 'no result lost', met: report.accounting.lost === 0 },
    { target: scenario.expectedIncidents ? 'exactly the expected incident' : 'no incident', met: scenario.expectedIncidents ? scenario.expectedIncidents(report.incidentEvents) : report.incidentEvents.length === 0 },
    { target: 'no duplicate notification', met: report.duplicateNotifications === 0 },
    { target: `all up within ${ALL_UP_WITHIN_MS / 1_000} s`, met: report.timeToAllUpMs !== null && report.timeToAllUpMs <= ALL_UP_WITHIN_MS },
  ];
  const f = report.figures;
  if (typeof f.openedAfterMs === 'number' && typeof f.openLimitMs === 'number') verdicts.push({ target: 'opened within interval + 2 s', met: f.openedAfterMs <= f.openLimitMs });
  if (typeof f.resolvedAfterMs === 'number' && typeof f.resolveLimitMs === 'number') verdicts.push({ target: 'resolved within 2 intervals', met: f.resolvedAfterMs <= f.resolveLimitMs });
  return verdicts;
}

const seconds = (ms: number | null): string => (ms === null ? 'never' : `${(ms / 1_000).toFixed(1)} s`);

export function reportTable(rows: Array<{ scenario: Scenario; report: FaultReport | null; error?: string; verdicts: Verdict[] }>): string {
  const lines = [
    '| scenario | results lost | slots recorded / scheduled (skipped late, not run) | incident events | duplicate notifications | time to all up | other events | targets |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const { scenario, report, error, verdicts } of rows) {
    if (!report) { lines.push(`| ${scenario.title} | – | – | – | – | – | – | failed to run: ${error ?? '?'} |`); continue; }
    const a = report.accounting;
    const other = [...report.probeEvents, ...report.monitoringEvents];
    const missed = verdicts.filter((v) => !v.met).map((v) => v.target);
    const figures = Object.entries(report.figures).filter(([, v]) => v !== null).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`| ${scenario.title} | ${a.lost} | ${a.recorded} / ${a.slots} (${a.skippedLate}, ${a.notRun}) | ${report.incidentEvents.join(', ') || '0'} | ${report.duplicateNotifications} | `
      + `${seconds(report.timeToAllUpMs)} | ${other.length > 0 ? summarizeEvents(other) : 'none'}${figures ? `; ${figures}` : ''} | ${missed.length === 0 ? 'met' : `missed: ${missed.join(', ')}`} |`);
  }
  return lines.join('\n');
}

function summarizeEvents(events: string[]): string {
  const counts = new Map<string, number>();
  for (const event of events) counts.set(event, (counts.get(event) ?? 0) + 1);
  return [...counts].map(([event, n]) => (n > 1 ? `${n}× ${event}` : event)).join(', ');
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1]!.split(',') : null;
  const reportDir = resolve(args.includes('--report') ? args[args.indexOf('--report') + 1]! : '.lookout/chaos');
  const support = netnsSupport();
  if (!support.ok) { process.stderr.write(`lookout chaos: ${support.reason}\n`); return 2; }
  if (!existsSync('/usr/bin/redis-sentinel')) { process.stderr.write('lookout chaos: redis-sentinel is missing (scripts/bootstrap.sh chaos)\n'); return 2; }
  const unknown = only?.filter((name) => !SCENARIOS.some((s) => s.name === name)) ?? [];
  if (unknown.length > 0) { process.stderr.write(`lookout chaos: no scenario ${unknown.join(', ')} (${SCENARIOS.map((s) => s.name).join(', ')})\n`); return 2; }

  let current: ChaosFleet | null = null;
  const interrupted = (): void => {
    process.stderr.write('lookout chaos: interrupted; cleaning up\n');
    void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const log = (line: string): void => { process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`); };
  const rows: Parameters<typeof reportTable>[0] = [];
  const started = Date.now();
  for (const scenario of SCENARIOS.filter((s) => only === null || only.includes(s.name))) {
    const dir = mkdtempSync(join(tmpdir(), `lookout-chaos-${scenario.name}-`));
    log(`${scenario.name}: ${scenario.title}`);
    try {
      current = await startChaosFleet({ ...scenario.fleet, dir });
      const fleet = current;
      const report = await measureFault(fleet, scenario.name, () => scenario.fault(fleet, log), log);
      const verdicts = judge(report, scenario);
      rows.push({ scenario, report, verdicts });
      log(`${scenario.name}: ${verdicts.every((v) => v.met) ? 'every target met' : `MISSED ${verdicts.filter((v) => !v.met).map((v) => v.target).join(', ')} (logs: ${dir}/logs)`}`);
      if (verdicts.every((v) => v.met) && !args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      rows.push({ scenario, report: null, error: (error as Error).message, verdicts: [{ target: 'ran', met: false }] });
      log(`${scenario.name}: FAILED ${(error as Error).message} (logs: ${dir}/logs)`);
    } finally {
      await current?.stop();
      current = null;
    }
  }
  const table = reportTable(rows);
  mkdirSync(reportDir, { recursive: true });
  writeFileSync(join(reportDir, 'report.md'), `# Chaos report (${new Date().toISOString()}, ${Math.round((Date.now() - started) / 1_000)} s)\n\n${table}\n`);
  writeFileSync(join(reportDir, 'report.json'), JSON.stringify(rows.map(({ scenario, report, error, verdicts }) => ({ name: scenario.name, title: scenario.title, report, error, verdicts })), null, 2));
  process.stdout.write(`\n${table}\n\nreport: ${join(reportDir, 'report.md')}\n`);
  return rows.every((row) => row.verdicts.every((v) => v.met)) ? 0 : 1;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  process.exit(await main());
}
