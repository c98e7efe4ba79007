/**
 * Deeper evidence from a failing region, around every runner of the table: on the first failure of a
 * streak (as this agent saw it: its previous run of the check did not fail) the agent captures, within a
 * time budget, a path trace to the address the run used (trace.ts) and, when configured, a second
 * resolver's answer for the host (resolver.ts), and adds them to the report's `evidence`. Runs that fail
 * again soon after (its confirmation runs, and the next scheduled ones) reuse what was captured for the
 * same destination within `reuseMs` (`reused: true`), so they carry it without waiting again.
 *
 * Within one interval, even when the target drops packets: a run of an HTTP check still unanswered after
 * `speculateAfterMs` (or three times its usual duration on this agent, if longer) starts capturing at
 * once, while it waits for its timeout; if it passes after all, the capture is not used. A run that fails
 * fast waits at most `extraMs` for its evidence. A capture that cannot finish in its budget reports what
 * it has (`failed`, saying why); a missing tool is `unavailable`. Nothing here ever fails a run.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { CheckDefinition, DeepEvidence, PathTrace, ResolverAnswer } from '../../checks/contract.ts';
import type { RunContext, RunReport, Runner, RunnerTable } from '../runners/types.ts';
import { askResolver } from './resolver.ts';
import { findTraceTools, tracePath, type TraceTools } from './trace.ts';

/** Options of {@link withEvidence}; the agent sets them from its flags. */
export interface EvidenceOptions {
  /** Capture path traces on failure. @defaultValue true */
  trace?: boolean;
  /** A second resolver asked on failure (`9.9.9.9`, `10.0.0.2:5353`). @defaultValue none */
  diagnosticResolver?: string | null;
  /** The longest a failed run's result waits for its evidence after the run ended. @defaultValue 1000 */
  extraMs?: number;
  /**
   * How long an HTTP run may go unanswered before capturing starts, before it fails (at most a quarter of
   * the check's timeout, so that the capture has the rest of it). @defaultValue 500
   */
  speculateAfterMs?: number;
  /** How long captured evidence is reused for later failures to the same destination. @defaultValue 30000 */
  reuseMs?: number;
  /** The trace tools. @defaultValue those installed (findTraceTools) */
  tools?: TraceTools;
}

interface Destination { host: string; address: string | null; port: number }
interface Capture {
  startedAt: number;
  destination: string;
  evidence: Promise<Omit<DeepEvidence, 'reused'>>;
  /** Set once settled: false when its trace failed (ran out of time, say), so that it is tried again, not reused. */
  usable?: boolean;
}

/** A failed capture is tried again after this long at the soonest (a broken tool must not run on every failure). */
const RETRY_FAILED_AFTER_MS = 10_000;

/** Checks remembered (last outcome, usual duration); the oldest are forgotten beyond this. */
const REMEMBERED_CHECKS = 10_000;

/** Wraps every runner of the table so that failed runs carry deeper evidence. */
export function withEvidence(runners: RunnerTable, options: EvidenceOptions = {}): RunnerTable {
  const collector = new EvidenceCollector(options);
  const wrapped: Partial<Record<string, Runner<CheckDefinition>>> = {};
  for (const [type, runner] of Object.entries(runners) as Array<[string, Runner<CheckDefinition>]>) {
    wrapped[type] = (definition, context) => collector.run(runner, definition, context);
  }
  return wrapped as RunnerTable;
}

export class EvidenceCollector {
  readonly #trace: boolean;
  readonly #resolver: string | null;
  readonly #extraMs: number;
  readonly #speculateAfterMs: number;
  readonly #reuseMs: number;
  readonly #tools: TraceTools;
  /** Per check: whether its last target result on this agent failed, and its usual passing duration. */
  readonly #checks = new Map<string, { failed: boolean; usualMs: number | null }>();
  /** Per destination (`address:port` or host): the newest capture. */
  readonly #captures = new Map<string, Capture>();

  constructor(options: EvidenceOptions = {}) {
    this.#trace = options.trace ?? true;
    this.#resolver = options.diagnosticResolver ?? null;
    this.#extraMs = options.extraMs ?? 1_000;
    this.#speculateAfterMs = options.speculateAfterMs ?? 500;
    this.#reuseMs = options.reuseMs ?? 30_000;
    this.#tools = options.tools ?? findTraceTools();
  }

  async run(runner: Runner<CheckDefinition>, definition: CheckDefinition, context: RunContext): Promise<RunReport> {
    const memory = this.#checks.get(definition.id);
    const firstFailure = memory?.failed !== true;
    const planned = destinationOf(definition);
    let speculative: Capture | null = null;
    let timer: NodeJS.Timeout | undefined;
    if (firstFailure && planned && (this.#trace || this.#resolver)) {
      const after = Math.max(Math.min(this.#speculateAfterMs, definition.timeoutMs / 4), 3 * (memory?.usualMs ?? 0));
      timer = setTimeout(() => {
        // Budget: until the run's deadline, so that the evidence is ready when a silent run fails.
        speculative = this.#capture(planned, Math.max(this.#extraMs, context.deadlineAt - Date.now() - 100));
      }, after);
    }
    const started = Date.now();
    let report: RunReport;
    try {
      report = await runner(definition, context);
    } finally {
      clearTimeout(timer);
    }
    if (report.outcome !== 'error') this.#remember(definition.id, report.outcome === 'fail', report.outcome === 'pass' ? Date.now() - started : null, memory);
    if (report.outcome !== 'fail' || (!this.#trace && !this.#resolver)) return report;

    const destination = destinationOfReport(report) ?? planned;
    if (!destination) return report;
    const key = destinationKey(destination);
    const own = speculative as Capture | null;
    let capture: Capture | null = own !== null && own.destination === key ? own : null;
    let created = capture !== null;
    if (!capture) {
      const cached = this.#captures.get(key);
      const age = cached ? Date.now() - cached.startedAt : Number.POSITIVE_INFINITY;
      const retry = cached?.usable === false && age > RETRY_FAILED_AFTER_MS;
      if (cached && age <= this.#reuseMs && !retry && !(firstFailure && cached.usable === false)) {
        capture = cached;
      } else if (firstFailure || retry) {
        capture = this.#capture(destination, this.#extraMs);
        created = true;
      } else {
        return report;
      }
    }
    const evidence = await capture.evidence;
    // Reused: captured by another run (a failure moments ago, or a run still in flight).
    return { ...report, evidence: { ...evidence, reused: !created } };
  }

  #remember(checkId: string, failed: boolean, passMs: number | null, previous: { failed: boolean; usualMs: number | null } | undefined): void {
    const usualMs = passMs === null ? previous?.usualMs ?? null : previous?.usualMs == null ? passMs : Math.round(previous.usualMs + 0.2 * (passMs - previous.usualMs));
    this.#checks.delete(checkId);
    this.#checks.set(checkId, { failed, usualMs });
    if (this.#checks.size > REMEMBERED_CHECKS) this.#checks.delete(this.#checks.keys().next().value!);
  }

  /** Starts capturing for a destination within `budgetMs`; the newest capture per destination is kept for reuse. */
  #capture(destination: Destination, budgetMs: number): Capture {
    const startedAt = Date.now();
    const evidence = (async (): Promise<Omit<DeepEvidence, 'reused'>> => {
      const deadline = startedAt + Math.max(0, budgetMs);
      const address = destination.address ?? await resolveFirst(destination.host, deadline);
      const [trace, diagnosticDns] = await Promise.all([
        this.#trace ? traceTo(address, destination.port, deadline, this.#tools) : Promise.resolve(null),
        this.#resolver && isIP(destination.host) === 0
          ? askResolver(this.#resolver, destination.host, Math.min(1_000, Math.max(50, deadline - Date.now())))
          : Promise.resolve<ResolverAnswer | null>(null),
      ]);
      return { capturedAt: startedAt, trace, diagnosticDns };
    })();
    const capture: Capture = { startedAt, destination: destinationKey(destination), evidence };
    evidence.then((done) => { capture.usable = done.trace === null || done.trace.status !== 'failed'; }, () => { capture.usable = false; });
    this.#captures.set(capture.destination, capture);
    for (const [key, old] of this.#captures) if (startedAt - old.startedAt > this.#reuseMs) this.#captures.delete(key);
    return capture;
  }
}

async function traceTo(address: string | null, port: number, deadline: number, tools: TraceTools): Promise<PathTrace> {
  if (address === null) return { status: 'failed', reason: 'the host did not resolve: no address to trace to' };
  return tracePath(address, port, deadline - Date.now(), tools);
}

async function resolveFirst(host: string, deadline: number): Promise<string | null> {
  const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), Math.max(0, Math.min(1_000, deadline - Date.now()))).unref());
  return Promise.race([lookup(host).then((answer) => answer.address, () => null), timeout]);
}

function destinationKey(destination: Destination): string {
  return `${destination.address ?? destination.host}:${destination.port}`;
}

/** Where an HTTP check's first request goes (known before the run). */
function destinationOf(definition: CheckDefinition): Destination | null {
  if (definition.type !== 'http') return null;
  try {
    const url = new URL(definition.url);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    return { host, address: isIP(host) !== 0 ? host : null, port: portOf(url) };
  } catch {
    return null;
  }
}

/** Where the failing request went, from the run's own network facts: the address it used, or the first one resolved. */
function destinationOfReport(report: RunReport): Destination | null {
  const facts = report.network;
  if (!facts) return null;
  const address = facts.connectedAddress ?? facts.addresses[0] ?? null;
  let port = facts.port;
  if (port === null) {
    try { port = portOf(new URL(facts.url)); } catch { return null; }
  }
  return { host: facts.host, address, port };
}

function portOf(url: URL): number {
  return url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
}
