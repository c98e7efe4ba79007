/**
 * The browser runner: runs browser checks' Playwright scripts on the agent's one Chromium, each in a
 * sandbox process (sandbox/), with its own concurrency limit (separate from HTTP runs) and memory
 * admission. Importing this module does not load Playwright; the first run does.
 *
 * ```ts
 * const browser = createBrowserRunner({ concurrency: 2, artifactSink: createRedisArtifactSink(redis, { prefix }) });
 * const report = await browser.run(definition, context);
 * …
 * await browser.close();   // on shutdown, after the worker stopped
 * ```
 *
 * A run: the bundle is checked against the browser-script policy (once per bundle); a slot, the browser
 * and a sandbox process for the check are taken; the sandbox gets its relay URL (one per process and
 * browser: later runs of the same check reuse its connection), the secrets the definition lists and the
 * deadlines, runs the journey and sends back its outcome and artifacts, which are stored here. The agent ends the run itself when the sandbox does not: at the
 * run's deadline (or half a second after the script's, if later) if the script has not ended (a synchronous
 * loop, or a process starved of CPU), shortly after the run's deadline if its teardown has not finished,
 * on cancellation; each time by SIGKILL of the sandbox process and closing its relay connection.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { BrowserCheckDefinition, BrowserRunDetails, ErrorCode, Outcome } from '../../../checks/contract.ts';
import { formatDiagnostic } from '../../../checks/diagnostics.ts';
import { settlesWithin } from '../../../lib/bounded.ts';
import { checkScriptPolicy } from '../../../checks/script-policy.ts';
import type { ArtifactSink } from '../../artifacts/sink.ts';
import { boundSecrets } from '../../secrets/origins.ts';
import type { RunContext, RunReport, Runner } from '../types.ts';
import { BrowserHost, type BrowserHostStats, type HostLog } from './browser-host.ts';
import { networkFactsOf } from './network-facts.ts';
import { blameLostBudget, endOfRun } from './ending.ts';
import { resolveBrowserOptions, scriptBudgetMs, type BrowserRunnerOptions } from './options.ts';
import { BrowserRelay, type RelaySession } from './relay.ts';
import { SandboxPool, type SandboxPoolStats } from './sandbox/pool.ts';
import type { RunEnd, SandboxProcess } from './sandbox/process.ts';
import type { SandboxMessage } from './sandbox/protocol.ts';
import { Semaphore } from './semaphore.ts';

/** Bundles whose policy answer an agent keeps; past it the oldest is checked again when it runs. */
const POLICIES_KEPT = 256;

export type { BrowserRunnerOptions } from './options.ts';

export interface CreateBrowserRunnerOptions extends BrowserRunnerOptions {
  /** Where failed runs' artifacts go; without one, none are collected. */
  artifactSink?: ArtifactSink;
  /** Structured log lines (launch, crash, recycle, kill). @defaultValue no logging */
  log?: HostLog;
}

export interface BrowserRunnerStats extends BrowserHostStats {
  /** Runs waiting for a browser slot. */
  waiting: number;
  sandboxes: SandboxPoolStats;
  /** Protocol messages the relay refused (CDP sessions and the like). */
  relayRefused: number;
}

export interface BrowserRunner {
  run: Runner<BrowserCheckDefinition>;
  stats(): BrowserRunnerStats;
  /** Pids of the browser's processes right now (for metrics and tests). */
  browserPids(): number[];
  /** Pids of the sandbox processes right now (for metrics and tests). */
  sandboxPids(): number[];
  /**
   * Launches the browser if none is up and waits for a warm sandbox process, connected to it, so that the
   * next run of a new check starts at once. Agents call it when they start; runs do not need it.
   */
  warmUp(signal?: AbortSignal): Promise<void>;
  /** Closes the browser and the sandboxes, bounded; call after the worker stopped taking runs. */
  close(): Promise<void>;
}

/** How long after the script's deadline (at the earliest: the run's deadline) a sandbox that has not stopped its script is killed. */
const BLOCKED_GRACE_MS = 500;
/** How long past the run's deadline a sandbox whose script ended may finish its teardown (the worker allows 1 s). */
const TEARDOWN_GRACE_MS = 750;

/** Creates the runner; throws at once, listing every bad option. */
export function createBrowserRunner(options: CreateBrowserRunnerOptions = {}): BrowserRunner {
  const { artifactSink, log, ...rest } = options;
  const resolved = resolveBrowserOptions(rest);
  const host = new BrowserHost(resolved, log);
  const slots = new Semaphore(resolved.concurrency);
  let relay: Promise<BrowserRelay> | undefined;
  let relayStarted: BrowserRelay | undefined;
  /** Each sandbox process's relay session, for the browser it was opened for; closed when the process ends. */
  const sessions = new Map<SandboxProcess, RelaySession>();
  const sessionFor = (sandbox: SandboxProcess, started: BrowserRelay, endpoint: string): RelaySession => {
    const existing = sessions.get(sandbox);
    if (existing?.open && existing.upstream === endpoint) return existing;
    existing?.close();
    const session = started.open(endpoint);
    if (!sessions.has(sandbox)) void sandbox.exited.then(() => { sessions.get(sandbox)?.close(); sessions.delete(sandbox); });
    sessions.set(sandbox, session);
    return session;
  };
  const pool = new SandboxPool({
    maxIdle: resolved.idleSandboxes ?? resolved.concurrency, idleTtlMs: resolved.sandboxIdleMs, ...(resolved.tempDir ? { tempDir: resolved.tempDir } : {}),
    // A warm process connects to the browser while it waits, so the check that takes it does not wait.
    onWarm: (warm) => {
      const endpoint = host.wsEndpoint;
      if (endpoint && relayStarted) warm.connect({ type: 'connect', relayUrl: sessionFor(warm, relayStarted, endpoint).url });
    },
  });
  /** The policy check's answer per bundle digest, the most recent {@link POLICIES_KEPT} (deploys add bundles for ever). */
  const policies = new Map<string, Promise<string[]>>();
  // The first run finds a warm sandbox (and, once a browser is up, a connected one).
  pool.warmUp();

  async function run(definition: BrowserCheckDefinition, context: RunContext): Promise<RunReport> {
    const startedAt = Date.now();
    // `<region>.<uuid>`: the coordinator finds the run's artifacts by its region (checks/keys.ts `regionOfRunId`).
    const runId = `${context.region}.${randomUUID()}`;
    const report = (outcome: Outcome, error: { code: ErrorCode; message: string } | null, details?: Partial<BrowserRunDetails>, totalMs?: number): RunReport => {
      const endedAt = Date.now();
      const browser = { ...emptyDetails(runId), ...details, runId };
      return {
        startedAt, endedAt, outcome, error,
        timings: { dnsMs: null, connectMs: null, tlsMs: null, firstByteMs: browser.pageLoads[0]?.ttfbMs ?? null, downloadMs: null, totalMs: totalMs ?? endedAt - startedAt },
        assertions: [], statusCode: null, responseBytes: null, browser,
      };
    };
    const aborted = (what: string): RunReport => {
      const code = (context.signal.reason as { code?: unknown } | undefined)?.code;
      if (code === 'TIMEOUT' || context.signal.aborted === false) {
        return report('error', { code: 'BROWSER_CAPACITY', message: `${what} before the run's deadline` });
      }
      return report('error', { code: 'RUN_CANCELLED', message: 'run cancelled: the agent is shutting down' });
    };

    // The agent checks what it runs, whatever the coordinator let through.
    const digest = createHash('sha256').update(definition.script.bundle).digest('hex');
    let policy = policies.get(digest);
    if (!policy) {
      policies.set(digest, policy = checkScriptPolicy(definition.script.bundle, definition.script.file).then((found) => found.map(formatDiagnostic)));
      if (policies.size > POLICIES_KEPT) policies.delete(policies.keys().next().value!);
    }
    const refused = await policy;
    // The budget the browser side may lose starts here: the check above is about the job, not capacity.
    const preparedAt = Date.now();
    if (refused.length > 0) return report('error', { code: 'INVALID_JOB', message: `the script breaks the browser-script policy: ${refused.join('; ')}`.slice(0, 2000) });

    const listed = definition.secrets;
    const secrets = Object.fromEntries(listed.filter((name) => Object.hasOwn(resolved.secrets, name)).map((name) => [name, resolved.secrets[name]!]));
    const bound = boundSecrets(listed, resolved.secrets, resolved.secretOrigins);
    const key = createHash('sha256').update(JSON.stringify([definition.id, digest, secrets, bound])).digest('hex');

    let releaseSlot: () => void;
    try {
      releaseSlot = await slots.acquire(context.signal);
    } catch {
      return aborted(`no browser slot was free (concurrency ${resolved.concurrency})`);
    }
    try {
      const [leased, sandboxed] = await Promise.allSettled([host.acquire(context.signal), pool.acquire(key, context.signal), relay ??= BrowserRelay.start().then((started) => (relayStarted = started))]);
      if (leased.status === 'fulfilled' && sandboxed.status === 'rejected') leased.value.release();
      if (sandboxed.status === 'fulfilled' && leased.status === 'rejected') pool.release(sandboxed.value, true);
      if (leased.status === 'rejected' || sandboxed.status === 'rejected') {
        if (context.signal.aborted) return aborted(`the browser could not take the run (${host.waitReason ?? 'busy'})`);
        const error = leased.status === 'rejected' ? leased.reason : (sandboxed as PromiseRejectedResult).reason;
        return report('error', { code: leased.status === 'rejected' ? 'BROWSER_CRASHED' : 'AGENT_INTERNAL', message: String((error as Error)?.message ?? error).slice(0, 2000) });
      }
      const lease = leased.value;
      const sandbox = sandboxed.value;
      let session: RelaySession | undefined;
      let end: RunEnd | { kind: 'killed'; why: 'blocked' | 'deadline' | 'cancelled' } | undefined;
      let crashed = false;
      let released = false;
      try {
        session = sessionFor(sandbox, await relay, lease.wsEndpoint);
        const now = Date.now();
        const lostMs = now - preparedAt;
        const scriptDeadlineAt = now + scriptBudgetMs(context.deadlineAt - now, definition.timeoutMs, resolved.teardownReserveMs);
        if (scriptDeadlineAt - now < 1) return aborted(`the browser took the run's whole budget (${lostMs}ms) to start`);
        let ended: Extract<SandboxMessage, { type: 'ended' }> | undefined;
        const timers: NodeJS.Timeout[] = [];
        const stop = (why: 'blocked' | 'deadline' | 'cancelled'): void => {
          if (end) return;
          end = { kind: 'killed', why, ...(ended ? { sofar: ended } : {}) };
          sandbox.kill();
        };
        // A script that has not ended by then keeps its process from stopping it (or the process is starved
        // of CPU): not before the run's deadline, so that a loaded machine does not cut a teardown short.
        const blockedAt = Math.max(scriptDeadlineAt + BLOCKED_GRACE_MS, context.deadlineAt);
        timers.push(setTimeout(() => { if (!ended) stop('blocked'); }, blockedAt - Date.now()));
        // A teardown under way (screenshot, trace, closes, each bounded by the sandbox) may use the worker's grace.
        const hardStop = (): void => { if (ended) timers.push(setTimeout(() => stop('deadline'), TEARDOWN_GRACE_MS)); };
        timers.push(setTimeout(hardStop, Math.max(0, context.deadlineAt - Date.now())));
        const onAbort = (): void => {
          const code = (context.signal.reason as { code?: unknown } | undefined)?.code;
          if (code !== 'TIMEOUT') stop('cancelled');
        };
        context.signal.addEventListener('abort', onAbort, { once: true });
        lease.disconnected.then(() => { crashed = true; }, () => {});
        try {
          const result = await sandbox.run({
            type: 'run', runId, checkId: definition.id, file: definition.script.file, bundle: definition.script.bundle,
            secrets, listedSecrets: listed, boundSecrets: bound, relayUrl: session.url, scriptDeadlineAt, runDeadlineAt: context.deadlineAt,
            collect: resolved.artifacts && artifactSink !== undefined, closeTimeoutMs: resolved.closeTimeoutMs,
          }, { onEnded: (sofar) => { ended = sofar; } });
          end ??= result;
        } finally {
          for (const timer of timers) clearTimeout(timer);
          context.signal.removeEventListener('abort', onAbort);
        }
        // The sandbox can see its connection drop before the agent sees the browser go: wait for the browser's side.
        if (end?.kind === 'result' && end.message.error?.code === 'BROWSER_CRASHED' && /disconnected/.test(end.message.error.message)) await settlesWithin(lease.disconnected, 1_000);
        const ending = endOfRun(end!, { crashed, budgetMs: scriptDeadlineAt - now });
        if (ending.closeHung) lease.kill(`a context close took over ${resolved.closeTimeoutMs}ms`);
        const stored = ending.artifacts.length > 0 && artifactSink
          ? await artifactSink.store({ runId, checkId: definition.id, region: context.region }, ending.artifacts)
          : { stored: [], notes: [] };
        const verdict = blameLostBudget(ending, Math.round(lostMs + ending.setupMs), definition.timeoutMs);
        released = true;
        pool.release(sandbox, ending.reusable);
        const done = report(verdict.outcome, verdict.error, { ...ending.details, artifacts: stored.stored, artifactNotes: [...ending.notes, ...stored.notes] }, ending.scriptMs);
        // The failing request's facts (network-facts.ts), when the run failed as the target's fault.
        return ending.network && done.outcome === 'fail' ? { ...done, network: networkFactsOf(ending.network) } : done;
      } finally {
        // A run that did not end cleanly loses its connection now (Playwright then closes its contexts).
        if (end?.kind !== 'result') session?.close();
        // A run that ended before its script was sent leaves its process as good as it was.
        if (!released) pool.release(sandbox, end === undefined);
        lease.release();
      }
    } finally {
      releaseSlot();
    }
  }

  return {
    run,
    stats: () => ({ ...host.stats(), waiting: slots.waiting, sandboxes: pool.stats(), relayRefused: relayStarted?.refused ?? 0 }),
    browserPids: () => host.treePids(),
    sandboxPids: () => pool.pids(),
    async warmUp(signal = new AbortController().signal) {
      const started = relayStarted ?? await (relay ??= BrowserRelay.start().then((r) => (relayStarted = r)));
      await Promise.all([host.warm(signal), pool.warmReady()]);
      // Connected ahead of its first run (pool.onWarm could not, while no browser was up).
      const warm = pool.warmProcess;
      const endpoint = host.wsEndpoint;
      if (warm && endpoint && sessions.get(warm)?.upstream !== endpoint) warm.connect({ type: 'connect', relayUrl: sessionFor(warm, started, endpoint).url });
    },
    async close() {
      pool.close();
      await host.close();
      if (relay) await (await relay).close();
    },
  };
}

function emptyDetails(runId: string): BrowserRunDetails {
  return { runId, steps: [], failedStep: null, pageLoads: [], consoleErrors: [], failedRequests: [], artifacts: [], artifactNotes: [] };
}
