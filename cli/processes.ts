/**
 * Child processes of the local fleet: each one's output goes to its own log file, and each is
 * stopped by its pid (SIGTERM, then SIGKILL after a bound) — never by name or process group we did
 * not create.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (or signal) when the process ends, for whatever reason. */
  exited: Promise<number | string>;
}

export function startProcess(name: string, command: string, args: string[], options: { logDir: string; env?: NodeJS.ProcessEnv; cwd?: string }): ManagedProcess {
  mkdirSync(options.logDir, { recursive: true });
  const logFile = join(options.logDir, `${name.replace(/[^a-z0-9-]+/gi, '-')}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (error) => { log.write(`failed to start: ${error.message}\n`); resolve('spawn-error'); });
    child.once('exit', (code, signal) => { log.end(); resolve(code ?? signal ?? 'unknown'); });
  });
  return { name, child, logFile, exited };
}

/** Waits for the first line of a process's stdout that matches, or rejects when it exits first or time runs out. */
export function waitForOutput(proc: ManagedProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => finish(new Error(`${proc.name} did not become ready within ${timeoutMs} ms (see ${proc.logFile})`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      const match = buffered.split('\n').find((line) => pattern.test(line));
      if (match !== undefined) finish(null, match);
    };
    const onExit = (): void => finish(new Error(`${proc.name} exited before it was ready (see ${proc.logFile})`));
    const finish = (error: Error | null, line = ''): void => {
      clearTimeout(timer);
      proc.child.stdout!.off('data', onData);
      proc.child.off('exit', onExit);
      if (error) reject(error); else resolve(line);
    };
    proc.child.stdout!.on('data', onData);
    proc.child.once('exit', onExit);
  });
}

/** Stops processes in reverse start order: SIGTERM, then SIGKILL for any still running after `graceMs`. */
export async function stopAll(processes: ManagedProcess[], graceMs = 15_000): Promise<void> {
  for (const proc of [...processes].reverse()) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null || proc.child.pid === undefined) continue;
    proc.child.kill('SIGTERM');
    const timer = setTimeout(() => { if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL'); }, graceMs);
    await proc.exited;
    clearTimeout(timer);
  }
}

export { once };
