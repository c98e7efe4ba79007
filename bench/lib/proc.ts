/**
 * Child processes of the benchmark: each one's output goes to its own log file; each is stopped by its
 * own pid (SIGTERM, then SIGKILL after a bound), never by name. CPU time and memory are read from
 * /proc/<pid>, so that every process (the agent, blackbox_exporter, load loops, the target) is measured
 * the same way and alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/lib/../..). */
export const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');

/**
 * Kills `child` if it is still running when this process exits, however it exits (a crash included):
 * nothing the benchmark started may outlive it. Returns the function that forgets it again.
 */
export function killOnExit(child: ChildProcess): () => void {
  const kill = (): void => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.on('exit', kill);
  return () => process.off('exit', kill);
}

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`; 100 on every Linux we run on). */
const CLK_TCK = 100;

export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (or signal name) whenever the process ends. */
  exited: Promise<number | string>;
  /** Stops the process by pid: SIGTERM, then SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  logDir: string;
  env?: NodeJS.ProcessEnv;
  /** Keep stdout as a pipe the caller reads (it is still copied to the log). @defaultValue false */
  pipeStdout?: boolean;
}

export function spawnChild(name: string, command: string, args: string[], options: SpawnOptions): Child {
  mkdirSync(options.logDir, { recursive: true });
  const logFile = join(options.logDir, `${name.replace(/[^a-z0-9.-]+/gi, '-')}.log`);
  const log = createWriteStream(logFile, { flags: 'w' });
  // A state folder per child: an agent's default spool folder is per region under XDG_STATE_HOME, and is
  // locked to one agent, so agents of concurrent runs (or sections) would refuse to start on each other's.
  const state = { XDG_STATE_HOME: join(options.logDir, 'state', name.replace(/[^a-z0-9.-]+/gi, '-')) };
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...state, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | string>((resolveExit) => {
    child.once('error', (error) => { log.write(`failed to start: ${error.message}\n`); resolveExit('spawn-error'); });
    child.once('exit', (code, signal) => { resolveExit(code ?? signal ?? 'unknown'); });
  });
  const forget = killOnExit(child);
  exited.then(() => { log.end(); forget(); }, () => log.end());
  if (child.pid === undefined) throw new Error(`BENCH_SPAWN: could not start ${name} (${command})`);
  let stopping: Promise<void> | undefined;
  return {
    name, pid: child.pid, process: child, logFile, exited,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); }, graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/** Runs a Node script of this repository with the project's Node (the one running the benchmark). */
export function spawnNode(name: string, script: string, args: string[], options: SpawnOptions & { nodeArgs?: string[] }): Child {
  return spawnChild(name, process.execPath, ['--disable-warning=ExperimentalWarning', ...(options.nodeArgs ?? []), join(ROOT, script), ...args], options);
}

/** Resolves with the first stdout line of `child` that parses as JSON with `key`, or rejects on exit/timeout. */
export function firstJsonLine<T>(child: Child, key: string, timeoutMs: number): Promise<T> {
  return new Promise((resolveLine, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (parsed && typeof parsed === 'object' && key in parsed) { finish(null, parsed as T); return; }
        } catch { /* not a JSON line */ }
      }
    };
    const onExit = (): void => finish(new Error(`${child.name} exited before printing ${key} (see ${child.logFile})`));
    const timer = setTimeout(() => finish(new Error(`${child.name} did not print ${key} within ${timeoutMs} ms (see ${child.logFile})`)), timeoutMs);
    const finish = (error: Error | null, value?: T): void => {
      clearTimeout(timer);
      child.process.stdout!.off('data', onData);
      child.process.off('exit', onExit);
      if (error) reject(error); else resolveLine(value as T);
    };
    child.process.stdout!.on('data', onData);
    child.process.once('exit', onExit);
  });
}

export interface ProcSample {
  /** User + system CPU time of the process so far, in ms (10 ms resolution). */
  cpuMs: number;
  /** Resident set size in bytes. */
  rssBytes: number;
  /** The private (anonymous) part of the RSS; the rest is mostly the node binary's file pages, shared between processes. */
  rssAnonBytes: number;
}

/** CPU time and RSS of one process, from /proc/<pid>/stat and /proc/<pid>/status; null once it is gone. */
export function procSample(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { cpuMs: ((utime + stime) * 1000) / CLK_TCK, rssBytes: kb('VmRSS'), rssAnonBytes: kb('RssAnon') };
  } catch {
    return null;
  }
}

/** `pid` and every process descending from it (read from /proc/<n>/stat parent ids). */
export function processTree(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch { /* gone meanwhile */ }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parentOf) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/** Sum of the RSS of a process and its descendants (shared pages are counted once per process). */
export function treeRssBytes(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + (procSample(p)?.rssBytes ?? 0), 0);
}
