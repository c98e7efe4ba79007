/**
 * The HTTP runner: one cold request (following redirects), timed phase by phase, under one deadline,
 * with the body capped and decoded, then the check's assertions. It never throws for anything the
 * target does; every way a run can go wrong ends as a `RunReport` with a stable code.
 *
 * - Deadline and cancellation: see `deadline.ts`. A cancelled run reports `error` / `RUN_CANCELLED`.
 * - Timings across redirects are summed per phase; `totalMs` is the whole run (see `timings.ts`).
 * - `statusCode` is that of the last response received; `responseBytes` the decoded bytes read from the
 *   final response's body (intermediate redirect bodies are not read).
 * - A run that fails before its assertions could be evaluated reports no assertion results.
 * - A run handed over when its deadline has already passed is not started: `error` / `RUN_CANCELLED`
 *   (an overloaded agent must not blame the target).
 */
import { LOOKOUT_VERSION } from '../../../lib/version.ts';
import { createSecureContext, getCACertificates, type SecureContext } from 'node:tls';
import type { HttpCheckDefinition } from '../../../checks/contract.ts';
import { assertionsNeedBody, describeFailures, evaluateAssertions, lazyJson, type ResponseFacts } from './assertions.ts';
import type { RunContext, RunReport, Runner } from '../types.ts';
import { readBody, type BodyProgress } from './body.ts';
import type { Lookup } from './connector.ts';
import { guardRun } from './deadline.ts';
import {
  classifyCancellation, classifyDeadline, classifyError, truncateMessage, type ClassifiedFailure, type RunPhase,
} from './errors.ts';
import { sendRequest, type HopResponse } from './hop.ts';
import { defaultLookup } from './lookup.ts';
import { DEFAULT_EGRESS_POLICY, type EgressPolicy } from './egress.ts';
import { decideRedirect, withoutSecretBody, type HopRequest } from './redirects.ts';
import { buildRequestHeaders, redirectHeaders } from './request-headers.ts';
import { combineTimings, emptyMarks, type HopMarks } from './timings.ts';
import { createFactsRecorder, systemResolverName, type FactsRecorder } from './facts.ts';
import { blockSignal } from './blocked.ts';
import { deniedSecretOrigin } from '../../secrets/origins.ts';

/** Options of {@link createHttpRunner}; the agent uses the defaults, tests and special set-ups set them. */
export interface HttpRunnerOptions {
  /**
   * Extra certificate authorities to trust (PEM), in addition to Node's default ones (the bundled
   * Mozilla roots, plus `NODE_EXTRA_CA_CERTS`): a company's private CA, or a test's own CA.
   * @defaultValue none (only Node's default CAs)
   */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /**
   * Resolves host names, with the signature of `dns.lookup`. Use `lookupVia(resolver)` to ask
   * specific DNS servers.
   * @defaultValue `dns.lookup` (the system resolver; Node caches nothing)
   */
  lookup?: Lookup;
  /**
   * Addresses runs may not connect to, on any hop, checked after DNS (egress.ts).
   * @defaultValue link-local and cloud metadata addresses denied; loopback and private ranges allowed
   */
  egress?: EgressPolicy;
  /**
   * Version named in the `user-agent` header (`Lookout/<version> ...`).
   * @defaultValue the `version` of Lookout's package.json
   */
  version?: string;
  /**
   * Record the network facts of every run (resolved addresses, the address connected to, TLS, HTTP version,
   * edge identity; the response headers of failed runs). Off only to measure what they cost.
   * @defaultValue true
   */
  facts?: boolean;
  /**
   * How the facts name the resolver. @defaultValue `system (nameservers …)`, or the servers of a
   * `lookupVia` lookup
   */
  resolverName?: string;
}

/** undici's own timeouts sit this far behind the run's deadline so that the deadline always wins. */
const BACKSTOP_MARGIN_MS = 1_000;

export function createHttpRunner(options: HttpRunnerOptions = {}): Runner<HttpCheckDefinition> {
  const resolverName = options.resolverName ?? (options.lookup ? (options.lookup as { description?: string }).description ?? 'custom lookup' : systemResolverName());
  const environment: RunEnvironment = {
    lookup: options.lookup ?? defaultLookup,
    egress: options.egress ?? DEFAULT_EGRESS_POLICY,
    version: options.version ?? LOOKOUT_VERSION,
    facts: options.facts === false ? null : resolverName,
    secureContext: once(() => createSecureContext(
      options.ca === undefined ? {} : { ca: [...getCACertificates('default'), ...(typeof options.ca === 'string' || Buffer.isBuffer(options.ca) ? [options.ca] : options.ca)] },
    )),
  };
  return (definition, context) => runHttp(definition, context, environment);
}

interface RunEnvironment {
  lookup: Lookup;
  egress: EgressPolicy;
  version: string;
  /** The resolver's name for the facts; null: facts off. */
  facts: string | null;
  secureContext: () => SecureContext;
}

async function runHttp(definition: HttpCheckDefinition, context: RunContext, environment: RunEnvironment): Promise<RunReport> {
  const startedAt = Date.now();
  const t0 = performance.now();
  const budgetMs = Math.min(definition.timeoutMs, context.deadlineAt - startedAt);
  const guard = guardRun(context.signal, budgetMs);
  const hops: HopMarks[] = [];
  let phase: RunPhase = 'dns';
  let statusCode: number | null = null;
  let responseBytes: number | null = null;
  const progress: BodyProgress = { bytes: 0 };
  const recorder: FactsRecorder | null = environment.facts === null ? null : createFactsRecorder(environment.facts);

  const finish = (failure: ClassifiedFailure | null, assertions: RunReport['assertions'] = [], totalMs = performance.now() - t0): RunReport => ({
    startedAt,
    endedAt: Math.max(startedAt, Date.now()),
    outcome: failure === null ? 'pass' : failure.outcome,
    error: failure === null ? null : { code: failure.code, message: failure.message },
    // An agent error says nothing about the target, its timings included.
    timings: failure?.outcome === 'error' ? null : combineTimings(hops, totalMs),
    assertions,
    statusCode,
    responseBytes,
    // Facts of the target's network; an agent error says nothing about the target.
    ...(recorder && failure?.outcome !== 'error' ? withNetwork(recorder.facts(failure !== null)) : {}),
  });
  const failed = (error: unknown, request: HopRequest): RunReport => {
    const where = { host: request.url.hostname, port: portOf(request.url), url: request.url.href, ...(context.redact ? { redact: context.redact } : {}) };
    if (guard.cause === 'cancelled') return finish(classifyCancellation(guard.reason));
    if (guard.cause === 'deadline') return finish(classifyDeadline(phase, { ...where, timeoutMs: budgetMs, bytesRead: progress.bytes }));
    return finish(classifyError(error, { ...where, phase }));
  };
  const targetFailure = (code: ClassifiedFailure['code'], message: string): RunReport =>
    finish({ outcome: 'fail', code, message: truncateMessage(message, context.redact) });

  let request: HopRequest = { url: new URL(definition.url), method: definition.method, body: definition.body };
  let headers = buildRequestHeaders(definition.headers, context.region, environment.version);
  const keepBody = assertionsNeedBody(definition.assertions);
  try {
    // Nothing was sent: whatever stopped the run before it began says nothing about the target.
    if (guard.cause === 'cancelled') return finish(classifyCancellation(guard.reason));
    if (budgetMs <= 0 || guard.cause === 'deadline') {
      return finish({ outcome: 'error', code: 'RUN_CANCELLED', message: 'run not started: its deadline had already passed when the runner got it' });
    }
    for (let redirects = 0; ; redirects++) {
      // Every hop, the first included: a secret bound to origins never leaves for another one.
      const denied = deniedSecretOrigin(request.url, [request.url.href, ...Object.values(headers), request.body], context.boundSecrets ?? []);
      if (denied) return targetFailure('SECRET_ORIGIN_DENIED', denied);
      const marks = emptyMarks();
      hops.push(marks);
      phase = 'dns';
      recorder?.hop(request.url);
      let response: HopResponse;
      try {
        response = await sendRequest({
          request, headers, marks,
          signal: guard.signal,
          lookup: environment.lookup,
          egress: environment.egress,
          secureContext: environment.secureContext,
          backstopMs: budgetMs + BACKSTOP_MARGIN_MS,
          // Once the run is aborted the phase it was in is what the report names.
          onPhase: (next) => { if (!guard.signal.aborted) phase = next; },
          ...(recorder ? { facts: recorder } : {}),
        });
        recorder?.responded(response.headers);
      } catch (error) {
        return failed(error, request);
      }
      try {
        phase = 'body';
        if (!Number.isInteger(response.status) || response.status < 100 || response.status > 599) {
          return targetFailure('HTTP_PROTOCOL_ERROR', `${request.url.href} answered with status ${response.status}, outside 100-599`);
        }
        statusCode = response.status;
        if (definition.followRedirects) {
          const decision = decideRedirect(response.status, firstValue(response.headers.location), request);
          if (decision.kind === 'invalid') return targetFailure('HTTP_PROTOCOL_ERROR', `${request.url.href}: ${decision.message}`);
          if (decision.kind === 'follow') {
            if (redirects >= definition.maxRedirects) {
              return targetFailure('TOO_MANY_REDIRECTS',
                `more than ${definition.maxRedirects} redirect${definition.maxRedirects === 1 ? '' : 's'}: ${request.url.href} redirects (${response.status}) to ${decision.next.url.href}`);
            }
            const holds = context.redact?.holds;
            const next = withoutSecretBody(decision.next, decision.crossOrigin, holds);
            headers = redirectHeaders(headers, { ...decision, bodyDropped: decision.bodyDropped || next.dropped }, holds);
            request = next.next;
            continue;
          }
        }
        let read;
        try {
          read = await readBody(response.body, firstValue(response.headers['content-encoding']), definition.maxBodyBytes, keepBody, progress);
        } catch (error) {
          responseBytes = progress.bytes;
          return failed(error, request);
        }
        marks.bodyEnd = performance.now();
        responseBytes = read.bytes;
        if (read.kind === 'too-large') {
          return targetFailure('BODY_TOO_LARGE', `response body of ${request.url.href} exceeds ${definition.maxBodyBytes} bytes (decoded)`);
        }
        if (read.kind === 'undecodable') return targetFailure('HTTP_PROTOCOL_ERROR', `${request.url.href}: ${read.message}`);

        const totalMs = marks.bodyEnd - t0;
        const chunks = read.chunks;
        let text: string | undefined;
        const bodyText = (): string => (text ??= chunks === null ? '' : Buffer.concat(chunks).toString('utf8'));
        const facts: ResponseFacts = {
          status: response.status,
          headers: response.headers,
          get bodyText() { return bodyText(); },
          json: lazyJson(bodyText),
          totalMs,
          ...(context.redact ? { redact: context.redact } : {}),
        };
        const results = evaluateAssertions(definition.assertions, facts);
        // A failed soft assertion does not fail the run (the coordinator shows the region degraded).
        const passed = results.every((r) => r.passed || r.assertion.soft === true);
        if (passed) return finish(null, results, totalMs);
        // Blocked, not down: a WAF, bot challenge or rate limit refused this probe (blocked.ts).
        const blocked = blockSignal(response.status, response.headers, chunks === null ? undefined : bodyText());
        return finish(blocked
          ? { outcome: 'fail', code: 'BLOCKED_BY_TARGET', message: truncateMessage(`the target blocked this probe: ${blocked.reason}; ${describeFailures(results)}`, context.redact) }
          : { outcome: 'fail', code: 'ASSERTION_FAILED', message: truncateMessage(describeFailures(results), context.redact) }, results, totalMs);
      } finally {
        response.body.on('error', ignore).destroy();
        await response.close();
      }
    }
  } finally {
    guard.dispose();
  }
}

function withNetwork(network: RunReport['network']): Pick<RunReport, 'network'> {
  return network === undefined ? {} : { network };
}

function portOf(url: URL): number {
  return url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

function ignore(): void {}

