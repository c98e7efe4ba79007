/**
 * The pool of sandbox processes. A process runs one run at a time and, once bound, serves only later runs
 * of the same check with the same bundle and secrets (the key): the isolation boundary is the check and
 * its secrets, never shared with another check. Importing playwright-core costs a process ~300 ms of CPU,
 * so the pool keeps one warm, unbound process ready (a check's first run takes it and binds it), and
 * keeps processes idle after their runs for their check's next run, at most `maxIdle` (the least recently
 * used is ended first) and for at most `idleTtlMs`. A process whose run did not end cleanly (timeout,
 * cancellation, a crash) is never reused: the caller kills it.
 */
import { spawnSandbox, type SandboxProcess } from './process.ts';

export interface SandboxPoolOptions {
  /** Idle processes kept for their checks' next runs. */
  maxIdle: number;
  /** How long an idle process is kept. */
  idleTtlMs: number;
  /** Where the processes' folders go. @defaultValue the OS temp folder */
  tempDir?: string;
  /** Starts a process (tests replace it). @defaultValue {@link spawnSandbox} */
  spawn?: () => SandboxProcess;
  /** Called with each new warm process once it is ready (the runner connects it to the browser). */
  onWarm?: (process: SandboxProcess) => void;
}

export interface SandboxPoolStats {
  spawned: number;
  /** Runs that got their check's idle process. */
  reused: number;
  /** Runs that got the warm process. */
  warmTaken: number;
  idle: number;
  busy: number;
}

export class SandboxPool {
  readonly #options: SandboxPoolOptions;
  readonly #spawn: () => SandboxProcess;
  /** Idle, bound processes, least recently used first. */
  readonly #idle: Array<{ process: SandboxProcess; timer: NodeJS.Timeout }> = [];
  readonly #busy = new Set<SandboxProcess>();
  #warm: SandboxProcess | undefined;
  #closed = false;
  readonly #stats = { spawned: 0, reused: 0, warmTaken: 0 };

  constructor(options: SandboxPoolOptions) {
    this.#options = options;
    this.#spawn = options.spawn ?? (() => spawnSandbox({ ...(options.tempDir ? { tempDir: options.tempDir } : {}), onExit: (p) => this.#forget(p) }));
  }

  stats(): SandboxPoolStats {
    return { ...this.#stats, idle: this.#idle.length, busy: this.#busy.size };
  }

  /** Pids of every live process of the pool. */
  pids(): number[] {
    return [...this.#idle.map((i) => i.process), ...this.#busy, ...(this.#warm ? [this.#warm] : [])].filter((p) => p.alive).map((p) => p.pid);
  }

  /** A ready process for a run of `key`: its idle one, else the warm one, else a new one. */
  async acquire(key: string, signal: AbortSignal): Promise<SandboxProcess> {
    if (this.#closed) throw new Error('the sandbox pool is closed');
    const index = this.#idle.findLastIndex((i) => i.process.key === key && i.process.alive);
    let chosen: SandboxProcess;
    if (index >= 0) {
      const [entry] = this.#idle.splice(index, 1);
      clearTimeout(entry!.timer);
      chosen = entry!.process;
      this.#stats.reused++;
    } else {
      const warm = this.#warm?.alive ? this.#warm : undefined;
      this.#warm = undefined;
      chosen = warm ?? this.#start();
      if (warm) this.#stats.warmTaken++;
      chosen.key = key;
    }
    this.#busy.add(chosen);
    // The next check's first run finds a warm process.
    this.warmUp();
    try {
      await abortable(chosen.ready, signal);
    } catch (error) {
      this.#busy.delete(chosen);
      chosen.kill();
      throw error;
    }
    return chosen;
  }

  /** Starts the warm process if there is none (at creation too, so that the first run finds one). */
  warmUp(): void {
    if (this.#warm || this.#closed) return;
    const warm = this.#warm = this.#start();
    warm.ready.then(() => { if (this.#warm === warm) this.#options.onWarm?.(warm); }, () => {});
  }

  /** The warm process, while it is alive and unbound. */
  get warmProcess(): SandboxProcess | undefined {
    return this.#warm?.alive ? this.#warm : undefined;
  }

  /** Resolves once the warm process is ready (starting one if there is none). */
  async warmReady(): Promise<void> {
    this.warmUp();
    await this.#warm?.ready.catch(() => {});
  }

  /** Gives a process back after its run: kept idle for its check when `reusable`, else killed. */
  release(process: SandboxProcess, reusable: boolean): void {
    this.#busy.delete(process);
    if (!reusable || this.#closed || !process.alive) { process.kill(); return; }
    const timer = setTimeout(() => this.#expire(process), this.#options.idleTtlMs);
    timer.unref();
    this.#idle.push({ process, timer });
    while (this.#idle.length > this.#options.maxIdle) {
      const oldest = this.#idle.shift()!;
      clearTimeout(oldest.timer);
      oldest.process.kill();
    }
  }

  /** Kills every process (busy ones too: call after the last run). */
  close(): void {
    this.#closed = true;
    for (const { process, timer } of this.#idle.splice(0)) { clearTimeout(timer); process.kill(); }
    for (const process of this.#busy) process.kill();
    this.#warm?.kill();
    this.#warm = undefined;
  }

  #start(): SandboxProcess {
    this.#stats.spawned++;
    return this.#spawn();
  }

  #expire(process: SandboxProcess): void {
    const index = this.#idle.findIndex((i) => i.process === process);
    if (index >= 0) this.#idle.splice(index, 1);
    process.kill();
  }

  #forget(process: SandboxProcess): void {
    const index = this.#idle.findIndex((i) => i.process === process);
    if (index >= 0) { clearTimeout(this.#idle[index]!.timer); this.#idle.splice(index, 1); }
    if (this.#warm === process) this.#warm = undefined;
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
