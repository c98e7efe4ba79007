/** Settings of the browser runner, validated once when the agent starts. */
import { z } from 'zod';
import { describeZodError } from '../../../lib/zod-problems.ts';

const MiB = 1024 * 1024;

/** What an agent operator may set for browser checks. */
export interface BrowserRunnerOptions {
  /** Chromium to launch (no browser is downloaded). @defaultValue `'/usr/bin/chromium'` */
  executablePath?: string;
  /** Browser runs at once, separate from the agent's HTTP concurrency. @defaultValue 2 */
  concurrency?: number;
  /** Replace the browser after this many runs. @defaultValue 100 */
  maxRunsPerBrowser?: number;
  /** Replace the browser when the RSS of its process tree passes this many bytes. @defaultValue 1610612736 (1.5 GiB) */
  maxBrowserRssBytes?: number;
  /** Start no run while the system has less memory available than this (bytes). @defaultValue 268435456 (256 MiB) */
  minAvailableMemoryBytes?: number;
  /** Deadline of every close (context, tracing, browser) before the browser is killed. @defaultValue 5000 */
  closeTimeoutMs?: number;
  /** Deadline of a browser launch. @defaultValue 30000 */
  launchTimeoutMs?: number;
  /**
   * Part of each run's timeout kept for collecting artifacts and closing the context: the script is
   * stopped this long before the run's deadline (at most a quarter of the timeout). @defaultValue 2000
   */
  teardownReserveMs?: number;
  /** Artifacts (screenshot, trace, HAR) are collected on failure and timeout. @defaultValue true */
  artifacts?: boolean;
  /** Secrets offered to scripts as `secrets.NAME`: each run gets only those its definition lists. @defaultValue {} */
  secrets?: Record<string, string>;
  /** Origins some of `secrets` are bound to: a browser request carrying one elsewhere is aborted. @defaultValue {} */
  secretOrigins?: Record<string, readonly string[]>;
  /**
   * Sandbox processes kept idle for their checks' next runs (each holds ~130 MiB: Node and playwright-core).
   * @defaultValue `concurrency`
   */
  idleSandboxes?: number;
  /** How long an idle sandbox process is kept for its check's next run. @defaultValue 120000 */
  sandboxIdleMs?: number;
  /** Extra Chromium flags, after Lookout's own. @defaultValue [] */
  extraArgs?: string[];
  /** Where runs keep their temporary files (trace, HAR). @defaultValue the OS temp folder */
  tempDir?: string;
}

const Schema = z.object({
  executablePath: z.string().min(1).default('/usr/bin/chromium'),
  concurrency: z.number().int().min(1).max(64).default(2),
  maxRunsPerBrowser: z.number().int().min(1).max(100_000).default(100),
  maxBrowserRssBytes: z.number().int().min(64 * MiB).default(1536 * MiB),
  minAvailableMemoryBytes: z.number().int().min(0).default(256 * MiB),
  closeTimeoutMs: z.number().int().min(100).max(120_000).default(5_000),
  launchTimeoutMs: z.number().int().min(1_000).max(300_000).default(30_000),
  teardownReserveMs: z.number().int().min(0).max(60_000).default(2_000),
  artifacts: z.boolean().default(true),
  secrets: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'secret names must be identifiers'), z.string()).default({}),
  secretOrigins: z.record(z.string(), z.array(z.string())).default({}),
  idleSandboxes: z.number().int().min(0).max(256).optional(),
  sandboxIdleMs: z.number().int().min(1_000).max(3_600_000).default(120_000),
  extraArgs: z.array(z.string().startsWith('--')).default([]),
  tempDir: z.string().min(1).optional(),
});

export type ResolvedBrowserOptions = z.infer<typeof Schema>;

/** Applies defaults and validates; throws one error listing every bad option. */
export function resolveBrowserOptions(options: BrowserRunnerOptions = {}): ResolvedBrowserOptions {
  const parsed = Schema.safeParse(options);
  if (!parsed.success) throw new Error(`invalid browser runner options:\n  ${describeZodError(parsed.error, 'browser').join('\n  ')}`);
  return parsed.data;
}

/** Flags that keep a monitoring browser quiet and predictable (no updates, sync, GPU or QUIC). */
export function chromiumArgs(options: { extraArgs: string[]; marker: string; runningAsRoot: boolean }): string[] {
  return [
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-gpu',
    '--disable-quic',
    // The crash dumps folder is unique to this browser: the marker that finds its crashpad handlers.
    `--crash-dumps-dir=${options.marker}`,
    ...(options.runningAsRoot ? ['--no-sandbox'] : []),
    ...options.extraArgs,
  ];
}

/** Milliseconds the script may run: the run's time left, less the teardown reserve. */
export function scriptBudgetMs(timeLeftMs: number, timeoutMs: number, teardownReserveMs: number): number {
  const reserve = Math.min(teardownReserveMs, Math.floor(timeoutMs / 4));
  return Math.max(0, timeLeftMs - reserve);
}
