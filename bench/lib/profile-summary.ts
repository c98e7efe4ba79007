/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time grouped by where the code lives
 * (a package under node_modules, a Lookout folder, Node's internals, GC, idle), and the top functions.
 * Pure over the parsed profile ({@link profileNotes} reads one from disk).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  /** Busy time (everything but idle), ms. */
  busyMs: number;
  /** Share of busy time per area, highest first. */
  byArea: Array<{ area: string; ms: number; share: number }>;
  /** Top functions by self time. */
  topFunctions: Array<{ fn: string; ms: number; share: number }>;
}

/** Where a frame's code lives: `bullmq`, `ioredis`, `zod`, `lookout:agent`, `node:internal`, `(garbage collector)`... */
export function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'node:internal';
  const own = /\/(agent|coordinator|checks|bench)\//.exec(url);
  if (own) return `lookout:${own[1]}`;
  return url;
}

export function summarizeProfile(profile: CpuProfile, top = 12): ProfileSummary {
  const selfMs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i]!;
    selfMs.set(id, (selfMs.get(id) ?? 0) + (deltas[i] ?? 0) / 1000);
  }
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busyMs = 0;
  for (const node of profile.nodes) {
    const ms = selfMs.get(node.id) ?? 0;
    if (ms === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    busyMs += ms;
    const area = areaOf(url, functionName);
    byArea.set(area, (byArea.get(area) ?? 0) + ms);
    const fn = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(agent|coordinator|checks|bench)\//, '$1/')}:${lineNumber + 1}` : ''}`.trim();
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
  }
  const share = (ms: number): number => (busyMs === 0 ? 0 : ms / busyMs);
  return {
    busyMs,
    byArea: [...byArea].map(([area, ms]) => ({ area, ms, share: share(ms) })).sort((a, b) => b.ms - a.ms),
    topFunctions: [...byFunction].map(([fn, ms]) => ({ fn, ms, share: share(ms) })).sort((a, b) => b.ms - a.ms).slice(0, top),
  };
}

/** Report lines for the newest `.cpuprofile` in `dir` written after `since` (epoch ms); none if there is none. */
export function profileNotes(dir: string, since: number, label: string): string[] {
  let files: string[];
  try { files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')); } catch { return []; }
  const newest = files.map((f) => ({ f, at: statSync(join(dir, f)).mtimeMs })).filter((x) => x.at >= since).sort((a, b) => b.at - a.at)[0];
  if (!newest) return [];
  const summary = summarizeProfile(JSON.parse(readFileSync(join(dir, newest.f), 'utf8')) as CpuProfile, 8);
  const pct = (share: number): string => `${(share * 100).toFixed(1)} %`;
  return [
    `${label} CPU profile (${newest.f}, whole process life): ${summary.byArea.slice(0, 8).map((a) => `${a.area} ${pct(a.share)}`).join(', ')}.`,
    `${label} top functions by self time: ${summary.topFunctions.map((t) => `${t.fn} ${pct(t.share)}`).join('; ')}.`,
  ];
}
