/**
 * The agent's one browser: launched on first use (Playwright is imported only then, so an agent that
 * runs no browser checks never loads it) as a Playwright browser server, which sandbox processes reach
 * only through the relay (relay.ts); relaunched after a crash or disconnect, recycled after N runs
 * or past an RSS ceiling of its process tree, and never left behind: every close has a deadline, after
 * which the browser's process group and its crashpad handlers are SIGKILLed.
 */
import { settlesWithin } from '../../../lib/bounded.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserServer } from 'playwright-core';
import { decideAdmission } from './admission.ts';
import { chromiumArgs, type ResolvedBrowserOptions } from './options.ts';
import { browserTree, killBrowserTree, memAvailableBytes, treeRssBytes } from './process-tree.ts';
import { Semaphore } from './semaphore.ts';

/** One run's hold on the browser. */
export interface BrowserLease {
  /** The browser server's endpoint: for the relay only, never for a script. */
  wsEndpoint: string;
  /** Resolves when this browser disconnects (crash, kill, close). */
  disconnected: Promise<void>;
  /** SIGKILLs this browser (for a close that hangs); the next run gets a fresh one. */
  kill(reason: string): void;
  release(): void;
}

export interface BrowserHostStats {
  launches: number;
  /** Disconnects that Lookout did not ask for. */
  crashes: number;
  recycles: number;
  kills: number;
  browserPid: number | undefined;
  runsOnBrowser: number;
  activeRuns: number;
}

interface Instance {
  server: BrowserServer;
  pid: number | undefined;
  /** A folder unique to this browser: its XDG config home and crash dumps dir, so on its crashpad handlers' command line. */
  marker: string;
  profileDir: string | undefined;
  runs: number;
  active: number;
  closing: boolean;
  disconnected: Promise<void>;
}

export type HostLog = (event: string, fields: Record<string, unknown>) => void;

/** How long a reading of the browser tree's RSS is used for admission. */
const RSS_READ_INTERVAL_MS = 1_000;

export class BrowserHost {
  readonly #options: ResolvedBrowserOptions;
  readonly #log: HostLog;
  /** Admission, launches and recycles happen one at a time. */
  readonly #gate = new Semaphore(1);
  #current: Instance | undefined;
  #closed = false;
  /** Why the last admission had to wait (memory), for messages. */
  waitReason: string | undefined;
  readonly #idle = new Set<() => void>();
  readonly #stats = { launches: 0, crashes: 0, recycles: 0, kills: 0 };

  constructor(options: ResolvedBrowserOptions, log: HostLog = () => {}) {
    this.#options = options;
    this.#log = log;
  }

  stats(): BrowserHostStats {
    return { ...this.#stats, browserPid: this.#current?.pid, runsOnBrowser: this.#current?.runs ?? 0, activeRuns: this.#current?.active ?? 0 };
  }

  /**
   * The RSS of `instance`'s tree, read at most once per {@link RSS_READ_INTERVAL_MS}: finding the tree reads
   * every process's /proc entries, which costs milliseconds of CPU per run on a busy machine, and a tree's
   * RSS does not move much between two runs a fraction of a second apart.
   */
  #treeRss(instance: Instance): number {
    const now = Date.now();
    if (this.#rssRead?.instance !== instance || now - this.#rssRead.at >= RSS_READ_INTERVAL_MS) {
      this.#rssRead = { instance, at: now, bytes: treeRssBytes(this.treePids()) };
    }
    return this.#rssRead.bytes;
  }

  #rssRead: { instance: Instance; at: number; bytes: number } | undefined;

  /** The current browser server's endpoint (for the relay only), when one is up. */
  get wsEndpoint(): string | undefined {
    return this.#current && !this.#current.closing ? this.#current.server.wsEndpoint() : undefined;
  }

  /** Pids of the current browser's process tree (empty when none is up). */
  treePids(): number[] {
    const current = this.#current;
    return current?.pid ? browserTree(current.pid, current.marker) : [];
  }

  /**
   * A browser for one run, once memory allows. Rejects with `signal.reason` if the signal aborts first,
   * or with the launch error.
   */
  async acquire(signal: AbortSignal): Promise<BrowserLease> {
    const releaseGate = await this.#gate.acquire(signal);
    try {
      for (;;) {
        if (this.#closed) throw new Error('the browser host is closed');
        signal.throwIfAborted();
        const current = this.#current;
        const decision = decideAdmission({
          browserUp: current !== undefined,
          runsOnBrowser: current?.runs ?? 0,
          activeRuns: current?.active ?? 0,
          treeRssBytes: current ? this.#treeRss(current) : 0,
          memAvailableBytes: memAvailableBytes(),
        }, this.#options);
        if (decision.action === 'recycle' && current) {
          this.#log('browser.recycle', { reason: decision.reason, pid: current.pid });
          this.waitReason = `waiting for the browser to be recycled (${decision.reason})`;
          await this.#whenIdle(current, signal);
          this.#stats.recycles++;
          await this.#shutdown(current);
          continue;
        }
        if (decision.action === 'wait') {
          if (this.waitReason !== decision.reason) this.#log('browser.wait', { reason: decision.reason });
          this.waitReason = decision.reason;
          await sleep(250, signal);
          continue;
        }
        this.waitReason = undefined;
        const instance = current ?? await this.#launch();
        instance.runs++;
        instance.active++;
        return this.#lease(instance);
      }
    } finally {
      releaseGate();
    }
  }

  /** Launches the browser now if none is up (no run is counted); rejects with the launch error or `signal.reason`. */
  async warm(signal: AbortSignal): Promise<void> {
    const releaseGate = await this.#gate.acquire(signal);
    try {
      if (!this.#closed && !this.#current) await this.#launch();
    } finally {
      releaseGate();
    }
  }

  /** Closes the browser (bounded) and kills whatever is left of it. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#current) await this.#shutdown(this.#current);
  }

  #lease(instance: Instance): BrowserLease {
    let released = false;
    return {
      wsEndpoint: instance.server.wsEndpoint(),
      disconnected: instance.disconnected,
      kill: (reason) => this.#kill(instance, reason),
      release: () => {
        if (released) return;
        released = true;
        instance.active--;
        if (instance.active === 0) for (const notify of [...this.#idle]) notify();
      },
    };
  }

  async #launch(): Promise<Instance> {
    const { chromium } = await import('playwright-core');
    const marker = mkdtempSync(join(this.#options.tempDir ?? tmpdir(), 'lookout-chromium-'));
    const startedAt = Date.now();
    let server: BrowserServer;
    try {
      server = await chromium.launchServer({
        executablePath: this.#options.executablePath,
        headless: true,
        args: chromiumArgs({ extraArgs: this.#options.extraArgs, marker, runningAsRoot: process.getuid?.() === 0 }),
        env: { ...process.env, XDG_CONFIG_HOME: marker },
        // Inside the marker folder, so that reaping the browser removes them even when Playwright cannot.
        artifactsDir: join(marker, 'artifacts'),
        tracesDir: join(marker, 'traces'),
        timeout: this.#options.launchTimeoutMs,
        // The agent decides when to stop; Playwright still kills the browser's group when the process exits.
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
      });
    } catch (error) {
      rmSync(marker, { recursive: true, force: true });
      throw new Error(`could not launch Chromium at ${this.#options.executablePath}: ${(error as Error).message.split('\n')[0]}`);
    }
    const pid = server.process().pid;
    // Playwright makes the profile folder in the OS temp folder; after a kill it may not get to remove it.
    const profileDir = pid ? /--user-data-dir=(\S+)/.exec(readCmdline(pid))?.[1] : undefined;
    let onDisconnected!: () => void;
    const instance: Instance = {
      server, pid, marker, profileDir, runs: 0, active: 0, closing: false,
      disconnected: new Promise<void>((resolve) => { onDisconnected = resolve; }),
    };
    server.on('close', () => {
      if (!instance.closing) {
        this.#stats.crashes++;
        this.#log('browser.disconnected', { pid });
      }
      if (this.#current === instance) this.#current = undefined;
      this.#reap(instance);
      onDisconnected();
    });
    this.#current = instance;
    this.#stats.launches++;
    if (this.#closed) {
      // Closed while it launched (an agent stopping during its warm-up): nothing may outlive the host.
      await this.#shutdown(instance);
      throw new Error('the browser host is closed');
    }
    this.#log('browser.launched', { pid, ms: Date.now() - startedAt });
    return instance;
  }

  /** Graceful close with a deadline, then SIGKILL of whatever is left. */
  async #shutdown(instance: Instance): Promise<void> {
    instance.closing = true;
    if (this.#current === instance) this.#current = undefined;
    const closed = await settlesWithin(instance.server.close(), this.#options.closeTimeoutMs);
    if (!closed) this.#log('browser.close_timeout', { pid: instance.pid, ms: this.#options.closeTimeoutMs });
    this.#reap(instance);
    await settlesWithin(instance.disconnected, this.#options.closeTimeoutMs);
  }

  #kill(instance: Instance, reason: string): void {
    this.#stats.kills++;
    this.#log('browser.kill', { pid: instance.pid, reason });
    instance.closing = true;
    if (this.#current === instance) this.#current = undefined;
    this.#reap(instance);
  }

  /** Kills the process group and the crashpad handlers (which leave the group), then removes the marker folder. */
  #reap(instance: Instance): void {
    if (instance.pid) killBrowserTree(instance.pid, instance.marker);
    rmSync(instance.marker, { recursive: true, force: true });
    if (instance.profileDir?.includes('playwright_chromiumdev_profile-')) rmSync(instance.profileDir, { recursive: true, force: true, maxRetries: 3 });
  }

  #whenIdle(instance: Instance, signal: AbortSignal): Promise<void> {
    if (instance.active === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        if (instance.active !== 0) return;
        this.#idle.delete(done);
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => { this.#idle.delete(done); reject(signal.reason); };
      this.#idle.add(done);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Whether `promise` settled within `ms` (either way); never rejects. */

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = (): void => { clearTimeout(timer); reject(signal.reason); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function readCmdline(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '); } catch { return ''; }
}
