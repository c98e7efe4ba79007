/**
 * Reads Linux's /proc to find a browser's processes and measure their memory. A Chromium launched by
 * Playwright leads its own process group (Playwright spawns it `detached`), so the group holds the
 * browser, its zygotes, renderers, GPU and utility processes, even after they are re-parented. Its two
 * crashpad handlers double-fork out of the group: they are found by a marker (a path unique to the
 * browser) on their command line. Every function tolerates processes that vanish while being read.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  /** NUL-separated arguments joined with spaces. */
  cmdline: string;
}

/** Parses `/proc/<pid>/stat`; the command name may itself contain spaces and parentheses. */
export function parseStat(text: string): { ppid: number; pgid: number } | undefined {
  const end = text.lastIndexOf(')');
  if (end < 0) return undefined;
  const fields = text.slice(end + 2).split(' ');
  const ppid = Number(fields[1]);
  const pgid = Number(fields[2]);
  return Number.isInteger(ppid) && Number.isInteger(pgid) ? { ppid, pgid } : undefined;
}

function readText(path: string): string | undefined {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
}

/** Every process on the machine (those readable by this user). */
export function listProcesses(): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readText(`/proc/${entry}/stat`);
    const parsed = stat ? parseStat(stat) : undefined;
    if (!parsed) continue;
    const cmdline = (readText(`/proc/${entry}/cmdline`) ?? '').split('\0').join(' ').trim();
    out.push({ pid: Number(entry), ppid: parsed.ppid, pgid: parsed.pgid, cmdline });
  }
  return out;
}

/** The browser's processes: its process group, plus anything carrying its marker (crashpad handlers). */
export function browserTree(browserPid: number, marker: string, processes = listProcesses()): number[] {
  return processes.filter((p) => p.pgid === browserPid || p.pid === browserPid || p.cmdline.includes(marker)).map((p) => p.pid);
}

/** The pid of the browser that this process launched with `marker` on its command line. */
export function findBrowserPid(marker: string, parentPid = process.pid, processes = listProcesses()): number | undefined {
  return processes.find((p) => p.ppid === parentPid && p.cmdline.includes(marker))?.pid;
}

/** Resident memory of one process in bytes (`VmRSS`), 0 if it is gone. */
export function rssBytes(pid: number): number {
  const status = readText(`/proc/${pid}/status`);
  const match = status ? /^VmRSS:\s+(\d+) kB/m.exec(status) : null;
  return match ? Number(match[1]) * 1024 : 0;
}

/**
 * Proportional memory of one process in bytes (`Pss` of smaps_rollup): shared pages divided among
 * their users, so a tree's sum is what it really costs. Slower than RSS; for measurements, not per run.
 */
export function pssBytes(pid: number): number {
  const rollup = readText(`/proc/${pid}/smaps_rollup`);
  const match = rollup ? /^Pss:\s+(\d+) kB/m.exec(rollup) : null;
  return match ? Number(match[1]) * 1024 : 0;
}

/** Sum of RSS over the pids (counts shared pages more than once: an upper bound, cheap to read). */
export function treeRssBytes(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + rssBytes(pid), 0);
}

export function treePssBytes(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + pssBytes(pid), 0);
}

/** `MemAvailable` of /proc/meminfo in bytes: what the kernel could give without swapping. */
export function memAvailableBytes(): number {
  const meminfo = readText('/proc/meminfo');
  const match = meminfo ? /^MemAvailable:\s+(\d+) kB/m.exec(meminfo) : null;
  return match ? Number(match[1]) * 1024 : Number.POSITIVE_INFINITY;
}

/** SIGKILLs the browser's process group and every process carrying its marker. Never throws. */
export function killBrowserTree(browserPid: number, marker: string): void {
  try { process.kill(-browserPid, 'SIGKILL'); } catch { /* group already gone */ }
  for (const pid of browserTree(browserPid, marker)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}
