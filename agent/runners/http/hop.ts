/**
 * One request over one fresh connection: a new undici `Client` (HTTP/1.1, one socket) whose connector
 * times the connection phases. The caller reads or drops the body, then must call `close()`, which
 * destroys the client and its socket (nothing is kept alive for the next run).
 */
import type { Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import type { SecureContext } from 'node:tls';
import { Client } from 'undici';
import { createTimedConnector, type Lookup } from './connector.ts';
import type { EgressPolicy } from './egress.ts';
import type { RunPhase } from './errors.ts';
import type { FactsRecorder } from './facts.ts';
import type { HopRequest } from './redirects.ts';
import type { RequestHeaders } from './request-headers.ts';
import type { HopMarks } from './timings.ts';

export interface HopInput {
  request: HopRequest;
  headers: RequestHeaders;
  signal: AbortSignal;
  lookup: Lookup;
  secureContext: () => SecureContext;
  /**
   * undici's own header and body timeouts, a backstop behind the run's deadline (which the signal
   * enforces; `bodyTimeout` alone would restart on every chunk of a slow-drip body).
   */
  backstopMs: number;
  marks: HopMarks;
  onPhase: (phase: RunPhase) => void;
  /** @defaultValue the default egress policy (egress.ts) */
  egress?: EgressPolicy;
  /** Records the network facts of the hop (facts.ts). @defaultValue none */
  facts?: FactsRecorder;
}

export interface HopResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Readable;
  /** Destroys the connection; safe to call more than once. */
  close(): Promise<void>;
}

/** Sends the request and resolves with the response headers; rejects with the transport's error. */
export async function sendRequest(input: HopInput): Promise<HopResponse> {
  const { request, marks } = input;
  const client = new Client(request.url.origin, {
    connect: createTimedConnector({ lookup: input.lookup, secureContext: input.secureContext, signal: input.signal, marks, onPhase: input.onPhase, facts: input.facts, ...(input.egress ? { egress: input.egress } : {}) }),
    allowH2: false,
    pipelining: 1,
    headersTimeout: input.backstopMs,
    bodyTimeout: input.backstopMs,
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= client.destroy(RUN_OVER).catch(ignore));
  try {
    const response = await client.request({
      path: `${request.url.pathname}${request.url.search}`,
      method: request.method,
      headers: input.headers,
      body: request.body,
      signal: input.signal,
    });
    marks.headers = performance.now();
    return { status: response.statusCode, headers: response.headers, body: response.body, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function ignore(): void {}

/**
 * Passed to `client.destroy()`: without an error undici builds a `ClientDestroyedError` (stack trace
 * included) for every run; the request is over by then, so nobody sees this one.
 */
const RUN_OVER = Object.assign(new Error('run over: connection closed by the runner'), { code: 'LOOKOUT_RUN_OVER' });
