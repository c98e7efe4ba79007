/**
 * One browser run, on a browser lease: a fresh context (HAR recorded, tracing on), the script raced
 * against its deadline, the browser's disconnect, a page crash and cancellation; then artifacts when it
 * failed or timed out, and the context closed with a deadline (the browser is killed if the close hangs).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import type { BrowserScript } from '../../../checks/browser.ts';
import type { BrowserRunDetails, ErrorCode, NetworkFacts } from '../../../checks/contract.ts';
import type { Artifact, ArtifactSink } from '../../artifacts/sink.ts';
import { settlesWithin } from '../../../lib/bounded.ts';
import type { BrowserLease } from './browser-host.ts';
import { classifyScriptError, withStep } from './errors.ts';
import { createExpect, RunStoppedError } from './expect.ts';
import { RunObserver } from './observe.ts';
import { FailingRequestWatch } from './network.ts';
import type { ResolvedBrowserOptions } from './options.ts';
import { StepRecorder } from './steps.ts';

export interface JourneyInput {
  runId: string;
  checkId: string;
  region: string;
  script: BrowserScript;
  /** Epoch ms at which the script is stopped. */
  scriptDeadlineAt: number;
  /** Epoch ms at which the whole run must be over; teardown steps are bounded by it (with a floor). */
  runDeadlineAt: number;
  /** Aborted on the run's deadline or agent shutdown (a shutdown cancels; a deadline is handled by `scriptDeadlineAt`). */
  signal: AbortSignal;
}

export interface JourneyOutcome {
  outcome: 'pass' | 'fail' | 'error';
  error: { code: ErrorCode; message: string } | null;
  details: BrowserRunDetails;
  scriptMs: number;
  /** The failing request's URL, address and edge (network.ts), when a request failed. */
  network?: NetworkFacts;
}

type Ending =
  | { kind: 'done' }
  | { kind: 'threw'; error: unknown }
  | { kind: 'timeout' }
  | { kind: 'crashed'; reason: string }
  | { kind: 'cancelled' };

const SCREENSHOT_TIMEOUT_MS = 2_000;

export async function runJourney(lease: BrowserLease, input: JourneyInput, options: ResolvedBrowserOptions, sink: ArtifactSink | undefined): Promise<JourneyOutcome> {
  const runDir = mkdtempSync(join(options.tempDir ?? tmpdir(), 'lookout-run-'));
  const harPath = join(runDir, 'network.har');
  const tracePath = join(runDir, 'trace.zip');
  const steps = new StepRecorder();
  const observer = new RunObserver();
  const failing = new FailingRequestWatch();
  // Tracing and HAR cost time on every run; only pay for them when failures' artifacts can be kept.
  const collect = options.artifacts && sink !== undefined;
  let stopped = false;
  let context: BrowserContext | undefined;
  let ending: Ending;
  const startedAt = performance.now();
  const budgetMs = Math.max(1, input.scriptDeadlineAt - Date.now());
  try {
    try {
      context = await lease.browser.newContext({ recordHar: collect ? { path: harPath, content: 'omit' } : undefined });
      await observer.attach(context);
      failing.attach(context);
      if (collect) await context.tracing.start({ screenshots: true, snapshots: true });
      const left = Math.max(1, input.scriptDeadlineAt - Date.now());
      context.setDefaultTimeout(left);
      context.setDefaultNavigationTimeout(left);
      const page = await context.newPage();
      const expect = createExpect({ deadlineAt: input.scriptDeadlineAt, stopped: () => stopped });
      const scriptRun = Promise.resolve().then(() => input.script({ page, context: context!, step: steps.step, expect, secrets: secretsFor(options.secrets) }));
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

    const verdict = judge(ending, steps.failedStep, budgetMs);
    const wantArtifacts = collect && verdict.outcome === 'fail';
    const artifacts: Artifact[] = [];
    // Each teardown step gets what is left of the run (at least a floor), never more than closeTimeoutMs.
    const left = (floorMs: number): number => Math.min(options.closeTimeoutMs, Math.max(floorMs, input.runDeadlineAt - Date.now()));
    if (context && lease.browser.isConnected()) {
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
      if (!closed) lease.kill(`context close took over ${options.closeTimeoutMs}ms`);
      else if (wantArtifacts) pushFile(artifacts, harPath, 'network.har', 'application/json');
    }
    const storedArtifacts = wantArtifacts && artifacts.length > 0
      ? await sink!.store({ runId: input.runId, checkId: input.checkId, region: input.region }, artifacts)
      : { stored: [], notes: [] };
    const network = verdict.outcome === 'fail' ? await failing.facts() : undefined;
    return {
      outcome: verdict.outcome,
      error: verdict.error,
      scriptMs,
      ...(network ? { network } : {}),
      details: {
        runId: input.runId,
        steps: steps.steps,
        failedStep: steps.failedStep,
        pageLoads: observer.pageLoads,
        consoleErrors: observer.consoleErrors,
        failedRequests: observer.failedRequests,
        artifacts: storedArtifacts.stored,
        artifactNotes: storedArtifacts.notes,
      },
    };
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
}

async function race(scriptRun: Promise<void>, input: JourneyInput, lease: BrowserLease, observer: RunObserver): Promise<Ending> {
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
async function blameBrowser(ending: Ending, lease: BrowserLease, observer: RunObserver): Promise<Ending> {
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

/** Secrets as a read-only object whose missing names throw, naming the secret. */
function secretsFor(secrets: Record<string, string>): Readonly<Record<string, string>> {
  return new Proxy(Object.freeze({ ...secrets }), {
    get(target, name) {
      if (typeof name !== 'string' || name in target || name === 'then' || name === 'toJSON') return Reflect.get(target, name);
      // Named so that classifyScriptError reports SECRET_MISSING (see checks/secrets.ts).
      throw Object.assign(new Error(`secret "${name}" is not set on this agent (set LOOKOUT_SECRET_${name} or add it to the agent's --secrets-file)`), { name: 'SecretMissingError' });
    },
  });
}
