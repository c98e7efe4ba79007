/**
 * A path trace from this agent to a target address and TCP port, within a time budget: Debian's
 * `mtr-tiny` (`mtr --json --tcp`, one cycle) when installed, else `traceroute -T` (all probes at once).
 * TCP probes to the target's own port cross the firewalls the real traffic crosses, where ICMP or UDP
 * probes may be treated differently. No tool installed: `unavailable` (missing evidence, never a
 * failure). The parsers are pure and tested on the tools' real output.
 *
 * Both tools need raw sockets: `mtr-packet` has the capability from its package; `traceroute -T` needs
 * root or CAP_NET_RAW (without it the trace is `failed`, saying so).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { EVIDENCE_LIMITS, type PathTrace, type TraceHop } from '../../checks/contract.ts';

/** Where the tools are looked for. */
export interface TraceTools {
  /** @defaultValue the first of /usr/bin/mtr, /usr/sbin/mtr that exists */
  mtr: string | null;
  /** @defaultValue the first of /usr/sbin/traceroute, /usr/bin/traceroute that exists */
  traceroute: string | null;
}

const firstExisting = (paths: readonly string[]): string | null => paths.find((path) => existsSync(path)) ?? null;

/** The trace tools installed here (looked up once per agent). */
export function findTraceTools(): TraceTools {
  return {
    mtr: firstExisting(['/usr/bin/mtr', '/usr/sbin/mtr', '/bin/mtr']),
    traceroute: firstExisting(['/usr/sbin/traceroute', '/usr/bin/traceroute', '/sbin/traceroute']),
  };
}

/** The most hops traced (the contract caps a trace at {@link EVIDENCE_LIMITS.hops}). */
export const MAX_TTL = 24;
/** Below this much time, no trace is attempted. */
export const MIN_TRACE_BUDGET_MS = 400;

/** Traces to `address`:`port` within `budgetMs` (the tool is killed at the end of it). Never throws. */
export async function tracePath(address: string, port: number, budgetMs: number, tools: TraceTools): Promise<PathTrace> {
  if (!tools.mtr && !tools.traceroute) return { status: 'unavailable', reason: 'no trace tool on this agent (install mtr-tiny or traceroute)' };
  if (budgetMs < MIN_TRACE_BUDGET_MS) return { status: 'failed', reason: `no time left for a trace (${Math.round(budgetMs)} ms of evidence budget)` };
  const started = performance.now();
  const family6 = address.includes(':');
  const finish = (hops: TraceHop[], tool: 'mtr' | 'traceroute'): PathTrace => ({
    status: 'done', tool, target: address, port, hops: trimSilentTail(hops), reachedTarget: hops.some((hop) => hop.address === address),
    durationMs: Math.round(performance.now() - started),
  });
  try {
    if (tools.mtr) {
      // mtr waits `gracetime` for late answers after its one cycle, and needs ~0.2 s besides (more on a busy machine).
      const grace = Math.min(3, Math.max(0.2, (budgetMs - 600) / 1000)).toFixed(1);
      const out = await runTool(tools.mtr, [
        '--json', '--tcp', '--port', String(port), '-c', '1', '-n', '-i', '0.1', '--gracetime', grace, '-m', String(MAX_TTL),
        ...(family6 ? ['-6'] : ['-4']), address,
      ], budgetMs);
      return finish(parseMtrJson(out), 'mtr');
    }
    const wait = Math.min(3, Math.max(0.2, (budgetMs - 400) / 1000)).toFixed(1);
    const out = await runTool(tools.traceroute!, [
      '-n', '-T', '-p', String(port), '-q', '1', '-w', wait, '-N', String(MAX_TTL), '-m', String(MAX_TTL), ...(family6 ? ['-6'] : ['-4']), address,
    ], budgetMs);
    return finish(parseTraceroute(out), 'traceroute');
  } catch (error) {
    return { status: 'failed', reason: (error as Error).message.slice(0, 500) };
  }
}

function runTool(path: string, args: string[], budgetMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(path, args, { timeout: Math.max(1, Math.round(budgetMs)), killSignal: 'SIGKILL', maxBuffer: 256 * 1024, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } },
      (error, stdout, stderr) => {
        if (error) {
          const killed = (error as { killed?: boolean }).killed === true;
          reject(new Error(killed ? `${path} did not finish within ${Math.round(budgetMs)} ms` : `${path} failed: ${(stderr || error.message).trim().slice(0, 300)}`));
        } else {
          resolve(stdout);
        }
      });
  });
}

/** mtr's `--json` report → hops (`???`: nobody answered). Throws when it is not mtr's JSON. */
export function parseMtrJson(text: string): TraceHop[] {
  const parsed = JSON.parse(text) as { report?: { hubs?: Array<Record<string, unknown>> } };
  const hubs = parsed.report?.hubs;
  if (!Array.isArray(hubs)) throw new Error('mtr printed no hubs');
  return hubs.slice(0, EVIDENCE_LIMITS.hops).map((hub, i) => {
    const host = typeof hub.host === 'string' && hub.host !== '???' ? hub.host.slice(0, 64) : null;
    const loss = typeof hub['Loss%'] === 'number' ? Math.min(100, Math.max(0, hub['Loss%'])) : null;
    const last = typeof hub.Last === 'number' && host !== null ? hub.Last : null;
    return { ttl: typeof hub.count === 'number' && hub.count >= 1 && hub.count <= 64 ? hub.count : i + 1, address: host, rttMs: last, lossPct: loss };
  });
}

/** `traceroute -n -q 1` output → hops (`*`: nobody answered). */
export function parseTraceroute(text: string): TraceHop[] {
  const hops: TraceHop[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*(\d+)\s+(\*|\S+)(?:\s+([\d.]+) ms)?/.exec(line);
    if (!match) continue;
    const address = match[2] === '*' ? null : match[2]!.slice(0, 64);
    hops.push({ ttl: Number(match[1]), address, rttMs: address !== null && match[3] ? Number(match[3]) : null, lossPct: address === null ? 100 : 0 });
    if (hops.length >= EVIDENCE_LIMITS.hops) break;
  }
  if (hops.length === 0) throw new Error('traceroute printed no hops');
  return hops;
}

/** Keeps at most one silent hop after the last one that answered: the rest says nothing more. */
export function trimSilentTail(hops: readonly TraceHop[]): TraceHop[] {
  let last = -1;
  hops.forEach((hop, i) => { if (hop.address !== null) last = i; });
  return hops.slice(0, Math.min(hops.length, last + 2));
}
