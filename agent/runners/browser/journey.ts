/**
 * One browser run, inside the sandbox process (sandbox/host.ts), on the browser it reached through the
 * agent's relay: a fresh context (tracing on: a failed run's HAR is made from its trace), the script raced against its deadline, the
 * browser's disconnect, a page crash and cancellation; then artifacts when it failed or timed out, and
 * the context closed with a deadline. What it cannot do from here (kill a browser whose close hangs,
 * store artifacts) it reports to the agent: `closeHung`, `artifacts`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { BrowserScript } from '../../../checks/browser.ts';
import type { BrowserRunDetails, ErrorCode } from '../../../checks/contract.ts';
import type { Artifact } from '../../artifacts/sink.ts';
import { settlesWithin } from '../../../lib/bounded.ts';
import { deniedSecretOrigin, type BoundSecret } from '../../secrets/origins.ts';
import { classifyScriptError, withStep } from './errors.ts';
import { createExpect, RunStoppedError } from './expect.ts';
import { RunObserver } from './observe.ts';
import { FailingRequestWatch, type FailingRequest } from './network.ts';
import { StepRecorder } from './steps.ts';

/** What a journey needs besides its input (the sandbox's part of the runner options). */
export interface JourneyOptions {
  /** Collect a screenshot and trace (the agent makes the HAR from it) when the run fails; tracing runs on every run. */
  collect: boolean;
  closeTimeoutMs: number;
  /** A folder of this run's own, for the trace. */
  tempDir: string;
}

export interface JourneyInput {
  runId: string;
  script: BrowserScript;
  /** The secrets the script may read: the listed ones the agent has. */
  secrets: Record<string, string>;
  /** The names the check's definition lists (a name outside them reads as not listed, not as absent). */
  listedSecrets: readonly string[];
  /** Listed secrets bound to origins: a request carrying one elsewhere is aborted (`SECRET_ORIGIN_DENIED`). */
  boundSecrets: readonly BoundSecret[];
  /** Epoch ms at which the script is stopped. */
  scriptDeadlineAt: number;
  /** Epoch ms at which the whole run must be over; teardown steps are bounded by it (with a floor). */
  runDeadlineAt: number;
  /** Aborted on the run's deadline or agent shutdown (a shutdown cancels; a deadline is handled by `scriptDeadlineAt`). */
  signal: AbortSignal;
  /**
   * Called once the script ended or was stopped, before the teardown, with the run's outcome as it then
   * stands (what the agent reports if the teardown does not finish in time). @defaultValue nothing
   */
  onScriptEnded?: (sofar: Pick<JourneyOutcome, 'outcome' | 'error' | 'details' | 'scriptMs'>) => void;
}

export interface JourneyOutcome {
  outcome: 'pass' | 'fail' | 'error';
  error: { code: ErrorCode; message: string } | null;
  details: Omit<BrowserRunDetails, 'runId' | 'artifacts' | 'artifactNotes'>;
  scriptMs: number;
  /** Made for a failed run; the agent stores them (secret-safe) and lists them in the result. */
  artifacts: Artifact[];
  /** The context's close did not finish in time: the agent replaces the browser. */
  closeHung: boolean;
  /** The first failing request (network.ts), on a failed run that had one: the agent makes its network facts. */
  network?: FailingRequest;
}

type Ending =
  | { kind: 'done' }
  | { kind: 'threw'; error: unknown }
  | { kind: 'timeout' }
  | { kind: 'crashed'; reason: string }
  | { kind: 'cancelled' };

/** A screenshot travels from the browser server to the sandbox: on a loaded machine that has taken over 2 s. Bounded by the run's time left. */
const SCREENSHOT_TIMEOUT_MS = 5_000;

export async function runJourney(browser: Browser, input: JourneyInput, options: JourneyOptions): Promise<JourneyOutcome> {
  const runDir = mkdtempSync(join(options.tempDir, 'run-'));
  const tracePath = join(runDir, 'trace.zip');
  const steps = new StepRecorder();
  const observer = new RunObserver();
  const failing = new FailingRequestWatch();
  const lease = leaseOf(browser);
  // Tracing costs time on every run; only pay for it when failures' artifacts can be kept.
  const collect = options.collect;
  let deniedOrigin: string | undefined;
  let closeHung = false;
  let stopped = false;
  let context: BrowserContext | undefined;
  let ending: Ending;
  const startedAt = performance.now();
  const budgetMs = Math.max(1, input.scriptDeadlineAt - Date.now());
  try {
    try {
      // No recordHar: the agent makes the HAR from the trace of a failed run (har.ts), so passing runs pay nothing for it.
      context = await browser.newContext();
      await observer.attach(context);
      failing.attach(context);
      if (input.boundSecrets.length > 0) {
        const denial = (request: import('playwright-core').Request): string | undefined =>
          deniedSecretOrigin(new URL(request.url()), [request.url(), ...Object.values(request.headers()), request.postData() ?? undefined], input.boundSecrets);
        // Only runs that hold a secret bound to origins pay for intercepting every request.
        await context.route('**/*', (route, request) => {
          const denied = denial(request);
          if (!denied) return route.fallback();
          deniedOrigin ??= denied;
          return route.abort('blockedbyclient');
        });
        // Chromium follows a redirect without routing the next hop, so such a hop can only be reported.
        context.on('request', (request) => {
          if (!request.redirectedFrom()) return;
          const denied = denial(request);
          if (denied) deniedOrigin ??= `${denied} (the browser sent it following a redirect from ${new URL(request.redirectedFrom()!.url()).origin}: Chromium follows redirects without letting them be stopped)`;
        });
      }
      if (collect) await context.tracing.start({ screenshots: true, snapshots: true });
      const left = Math.max(1, input.scriptDeadlineAt - Date.now());
      context.setDefaultTimeout(left);
      context.setDefaultNavigationTimeout(left);
      const page = await context.newPage();
      const expect = createExpect({ deadlineAt: input.scriptDeadlineAt, stopped: () => stopped });
      const scriptRun = Promise.resolve().then(() => input.script({ page, context: context!, step: steps.step, expect, secrets: secretsFor(input.secrets, input.listedSecrets) }));
      // The script may go on after we stop waiting for it (it cannot be killed): never let it reject unhandled.
      scriptRun.catch(() => {});
      ending = await race(scriptRun, input, lease, observer);
      ending = await blameBrowser(ending, lease, observer);
    } catch (error) {
      // Setting the context up failed: the browser's fault unless it is our cancellation.
      ending = input.signal.aborted ? { kind: 'cancelled' } : { kind: 'crashed', reason: `could not set up the browser context: ${(error as Error).message.split('\n')[0]}` };
    }
    stopped = true;
    const scriptMs = performance.now() - startedAt;
    // Steps still running were cut by the timeout, crash or cancellation; after a normal end they are
    // steps the script did not await, and are dropped.
    const stopReason = ending.kind === 'timeout' ? 'stopped at the run\'s timeout' : ending.kind === 'crashed' ? ending.reason : 'stopped: the run was cancelled';
    steps.stop(ending.kind === 'done' || ending.kind === 'threw' ? null : stopReason);

    const verdict = deniedOrigin !== undefined && ending.kind !== 'crashed' && ending.kind !== 'cancelled'
      ? { outcome: 'fail' as const, error: { code: 'SECRET_ORIGIN_DENIED' as const, message: deniedOrigin } }
      : judge(ending, steps.failedStep, budgetMs);
    input.onScriptEnded?.({ ...verdict, scriptMs, details: detailsOf(steps, observer) });
    const wantArtifacts = collect && verdict.outcome === 'fail';
    const artifacts: Artifact[] = [];
    // Each teardown step gets what is left of the run (at least a floor), never more than closeTimeoutMs.
    const left = (floorMs: number): number => Math.min(options.closeTimeoutMs, Math.max(floorMs, input.runDeadlineAt - Date.now()));
    if (context && browser.isConnected()) {
      if (wantArtifacts) {
        const shot = await screenshot(context, left(250));
        if (shot) artifacts.push({ name: 'screenshot.png', contentType: 'image/png', data: shot });
      }
      if (collect) {
        const stoppedTracing = await settlesWithin(context.tracing.stop(wantArtifacts ? { path: tracePath } : undefined), left(500));
        if (wantArtifacts && stoppedTracing) pushFile(artifacts, tracePath, 'trace.zip', 'application/zip');
      }
    }
    if (context) {
      const closed = await settlesWithin(context.close(), left(1_000));
      if (!closed) closeHung = true;
    }
    const network = verdict.outcome === 'fail' ? await failing.failing() : undefined;
    return {
      outcome: verdict.outcome,
      error: verdict.error,
      scriptMs,
      ...(network ? { network } : {}),
      artifacts,
      closeHung,
      details: detailsOf(steps, observer),
    };
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
}

function detailsOf(steps: StepRecorder, observer: RunObserver): JourneyOutcome['details'] {
  return { steps: steps.steps, failedStep: steps.failedStep, pageLoads: observer.pageLoads, consoleErrors: observer.consoleErrors, failedRequests: observer.failedRequests };
}

/** The connected browser as the race sees it: whether and when it went away. */
interface Lease { browser: Browser; disconnected: Promise<void> }

function leaseOf(browser: Browser): Lease {
  return { browser, disconnected: new Promise((resolve) => { if (!browser.isConnected()) resolve(); else browser.once('disconnected', () => resolve()); }) };
}

async function race(scriptRun: Promise<void>, input: JourneyInput, lease: Lease, observer: RunObserver): Promise<Ending> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race<Ending>([
      scriptRun.then(() => ({ kind: 'done' }), (error: unknown) => ({ kind: 'threw', error })),
      new Promise((resolve) => { timer = setTimeout(() => resolve({ kind: 'timeout' }), Math.max(0, input.scriptDeadlineAt - Date.now())); }),
      lease.disconnected.then(() => ({ kind: 'crashed', reason: 'the browser disconnected during the run' })),
      observer.crashed.then((reason) => ({ kind: 'crashed', reason })),
      new Promise((resolve) => {
        onAbort = () => {
          // The run's deadline is the script timer's business (it fires first); this is a shutdown.
          const code = (input.signal.reason as { code?: unknown } | undefined)?.code;
          resolve(code === 'TIMEOUT' ? { kind: 'timeout' } : { kind: 'cancelled' });
        };
        if (input.signal.aborted) onAbort();
        else input.signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) input.signal.removeEventListener('abort', onAbort);
  }
}

/**
 * A script that threw because its browser went away (the rejection can arrive before the `disconnected`
 * event) or that hung on a crashed page failed through no fault of the target.
 */
async function blameBrowser(ending: Ending, lease: Lease, observer: RunObserver): Promise<Ending> {
  if (ending.kind !== 'threw' && ending.kind !== 'timeout') return ending;
  if (ending.kind === 'threw' && GONE.test(String((ending.error as Error | undefined)?.message))) await settlesWithin(lease.disconnected, 500);
  if (!lease.browser.isConnected()) return { kind: 'crashed', reason: 'the browser disconnected during the run' };
  if (observer.crashReason) return { kind: 'crashed', reason: observer.crashReason };
  return ending;
}

const GONE = /has been closed|Target crashed|Browser closed|browser has disconnected/i;

/** Outcome and error from how the script ended. Pure. */
export function judge(ending: Ending, failedStep: string | null, budgetMs: number): Pick<JourneyOutcome, 'outcome' | 'error'> {
  switch (ending.kind) {
    case 'done':
      return { outcome: 'pass', error: null };
    case 'timeout':
      return { outcome: 'fail', error: { code: 'TIMEOUT', message: withStep(`script did not finish within ${Math.round(budgetMs)}ms`, failedStep) } };
    case 'crashed':
      return { outcome: 'error', error: { code: 'BROWSER_CRASHED', message: withStep(ending.reason, failedStep) } };
    case 'cancelled':
      return { outcome: 'error', error: { code: 'RUN_CANCELLED', message: 'run cancelled: the agent is shutting down' } };
    case 'threw':
      if (ending.error instanceof RunStoppedError) return { outcome: 'fail', error: { code: 'TIMEOUT', message: withStep(ending.error.message, failedStep) } };
      return { outcome: 'fail', error: classifyScriptError(ending.error, failedStep) };
  }
}

/** A screenshot of the page the script was last on, or undefined if it cannot be taken in time. */
async function screenshot(context: BrowserContext, timeoutMs: number): Promise<Buffer | undefined> {
  const page: Page | undefined = context.pages().filter((p) => !p.isClosed()).at(-1);
  if (!page) return undefined;
  try {
    return await page.screenshot({ type: 'png', timeout: Math.min(SCREENSHOT_TIMEOUT_MS, timeoutMs), animations: 'disabled' });
  } catch {
    return undefined;
  }
}

function pushFile(artifacts: Artifact[], path: string, name: string, contentType: string): void {
  try { artifacts.push({ name, contentType, data: readFileSync(path) }); } catch { /* not written */ }
}

/**
 * Secrets as a read-only object whose other names throw, naming that secret only: one the definition
 * lists but the agent lacks, or one the definition does not list (never resolved, whatever the agent has).
 */
function secretsFor(secrets: Record<string, string>, listed: readonly string[]): Readonly<Record<string, string>> {
  return new Proxy(Object.freeze({ ...secrets }), {
    get(target, name) {
      if (typeof name !== 'string' || name in target || name === 'then' || name === 'toJSON') return Reflect.get(target, name);
      const message = listed.includes(name)
        ? `secret "${name}" is not set on this agent (set LOOKOUT_SECRET_${name} or add it to the agent's --secrets-file)`
        : `secret "${name}" is not among the secrets this check's definition lists (deploy the check again; a script that reads it by a computed name declares it in its "secrets" option)`;
      // Named so that classifyScriptError reports SECRET_MISSING (see checks/secrets.ts).
      throw Object.assign(new Error(message), { name: 'SecretMissingError' });
    },
  });
}
