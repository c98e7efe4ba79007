/**
 * One HTTP POST attempt for HTTP-based channels (webhook, and later Slack, PagerDuty, Alertmanager),
 * turned into a {@link SendOutcome}. The classification of statuses and the `Retry-After` parser are
 * pure and exported for table tests.
 */
import { STATUS_CODES } from 'node:http';
import { request } from 'undici';
import type { ChannelRequest, SendContext, SendFailureCode, SendOutcome } from './types.ts';

/** How much of an error response body is kept in the failure message. */
const ERROR_BODY_SNIPPET_BYTES = 512;
/** Success bodies are read (so the connection can be reused) up to this size, then dropped. */
const SUCCESS_BODY_DRAIN_BYTES = 64 * 1024;

export type StatusClass = { ok: true } | { ok: false; code: SendFailureCode; retryable: boolean };

/** 2xx succeeds; 408, 429 and 5xx are worth retrying; 3xx and other 4xx are permanent. */
export function classifyStatus(status: number): StatusClass {
  if (status >= 200 && status < 300) return { ok: true };
  if (status === 408 || status === 429 || status >= 500) return { ok: false, code: 'RECEIVER_UNAVAILABLE', retryable: true };
  if (status >= 300 && status < 400) return { ok: false, code: 'UNEXPECTED_REDIRECT', retryable: false };
  return { ok: false, code: 'RECEIVER_REJECTED', retryable: false };
}

/**
 * Parses `Retry-After` (delay-seconds or an HTTP-date) into ms from `now`. Returns `undefined` when
 * absent or unreadable; a date in the past gives 0. Capping is the caller's business.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  // HTTP-dates always name the weekday and GMT; this keeps stray numbers like "1.5" out.
  if (!/^[A-Za-z]{3}, .+ GMT$/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export interface PostOptions {
  timeoutMs: number;
  /** @defaultValue Date.now */
  now?: () => number;
}

/** POSTs `request` to `url` once, within `timeoutMs`, and reports what happened. Never throws. */
export async function postOnce(url: string, req: ChannelRequest, context: SendContext, options: PostOptions): Promise<SendOutcome> {
  const now = options.now ?? Date.now;
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = AbortSignal.any([context.signal, deadline]);
  try {
    const response = await request(url, {
      method: 'POST', headers: req.headers, body: req.body, signal, dispatcher: context.dispatcher,
    });
    const verdict = classifyStatus(response.statusCode);
    if (verdict.ok) {
      await response.body.dump({ limit: SUCCESS_BODY_DRAIN_BYTES, signal });
      return { ok: true, status: response.statusCode };
    }
    const snippet = await readSnippet(response.body, ERROR_BODY_SNIPPET_BYTES);
    const status = response.statusCode;
    const retryAfterMs = verdict.retryable ? parseRetryAfter(response.headers['retry-after'], now()) : undefined;
    return {
      ok: false, code: verdict.code, retryable: verdict.retryable, status,
      message: `receiver answered ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd() + (snippet ? `: ${snippet}` : ''),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  } catch (error) {
    if (context.signal.aborted) return { ok: false, code: 'ABORTED', retryable: true, message: 'delivery stopped while sending' };
    if (deadline.aborted) return { ok: false, code: 'TIMEOUT', retryable: true, message: `no complete response within ${options.timeoutMs}ms` };
    return { ok: false, code: 'NETWORK_ERROR', retryable: true, message: describeNetworkError(error) };
  }
}

async function readSnippet(body: AsyncIterable<Buffer> & { destroy(): unknown }, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= maxBytes) break;
    }
  } catch {
    // A body that breaks off still leaves the status, which is what matters.
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8').replace(/\s+/g, ' ').trim();
}

/** `ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9` — the machine code first, for grepping. */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = (error as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code;
  const message = cause && error.message === 'fetch failed' ? cause.message : error.message;
  return typeof code === 'string' ? `${code}: ${message}` : message;
}
