/**
 * Small helpers for the JSON HTTP API on `node:http`: bounded body reading and JSON error responses with
 * stable codes (`{ error: { code, message, ... } }`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CheckId } from '../../checks/contract.ts';
import { MAX_DEPLOYMENT_BYTES, MAX_JSON_DEPTH, jsonDepth } from '../../checks/limits.ts';

/** Largest request body accepted (deployments: the largest body of the API). */
export const MAX_BODY_BYTES = MAX_DEPLOYMENT_BYTES;

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) { res.end(); return; }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, error: HttpError, headers: Record<string, string> = {}): void {
  sendJson(res, error.status, { error: { code: error.code, message: error.message, ...error.details } }, headers);
}

/**
 * Reads and parses a JSON body of at most `limit` bytes. Throws `BODY_TOO_LARGE` (413) as soon as the
 * declared or received size passes the limit (the rest is discarded, not buffered) and `INVALID_JSON` (400).
 * An empty body is `INVALID_JSON` too, unless `emptyAs` gives the value it stands for.
 */
export async function readJsonBody(req: IncomingMessage, options: { limit?: number; emptyAs?: unknown } = {}): Promise<unknown> {
  const limit = options.limit ?? MAX_BODY_BYTES;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    discard(req);
    throw new HttpError(413, 'BODY_TOO_LARGE', `request body is ${declared} bytes; the limit is ${limit}`);
  }
  // Listeners rather than an async iterator: leaving an iterator early destroys the socket, and the
  // client would never see the 413. Past the limit the rest is read and dropped.
  const chunks = await new Promise<Buffer[]>((resolve, reject) => {
    const received: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (failed) { if (size > limit + MAX_DISCARDED_BYTES) req.socket.destroy(); return; }
      if (size > limit) {
        failed = true;
        received.length = 0;
        reject(new HttpError(413, 'BODY_TOO_LARGE', `request body exceeds the limit of ${limit} bytes`));
      } else received.push(chunk);
    });
    req.on('end', () => { if (!failed) resolve(received); });
    req.on('error', (error) => { if (!failed) { failed = true; reject(new HttpError(400, 'BODY_READ_FAILED', `could not read the request body: ${error.message}`)); } });
  });
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    if ('emptyAs' in options) return options.emptyAs;
    throw new HttpError(400, 'INVALID_JSON', 'request body is empty; expected JSON');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, 'INVALID_JSON', `request body is not valid JSON: ${(error as Error).message.slice(0, 200)}`);
  }
  // Deep nesting costs every later walk (validation, canonical JSON) its stack: refuse it here, once.
  if (jsonDepth(value) > MAX_JSON_DEPTH) {
    throw new HttpError(400, 'JSON_TOO_DEEP', `request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep (MAX_JSON_DEPTH)`);
  }
  return value;
}

/**
 * Reads and drops the rest of a refused request body, so that the client (still sending) reads the
 * answer instead of a broken pipe; past {@link MAX_DISCARDED_BYTES} the connection is cut instead.
 */
export const MAX_DISCARDED_BYTES = 64 * 1024 * 1024;
function discard(req: IncomingMessage): void {
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > MAX_DISCARDED_BYTES) req.socket.destroy();
  });
  req.resume();
}

/** A value the client sent, for an error message: JSON-quoted and cut short, so an error never echoes a huge input. */
export function quoted(value: string, max = 80): string {
  return value.length > max ? `${JSON.stringify(value.slice(0, max))}… (${value.length} characters)` : JSON.stringify(value);
}

/** Decodes and validates a check id taken from the URL path: `INVALID_CHECK_ID` (400) when it is not one. */
export function checkIdParam(raw: string): string {
  let id: string;
  try { id = decodeURIComponent(raw); } catch { throw new HttpError(400, 'INVALID_CHECK_ID', 'check id is not valid URL encoding'); }
  const parsed = CheckId.safeParse(id);
  if (!parsed.success) throw new HttpError(400, 'INVALID_CHECK_ID', `invalid check id ${quoted(id)}: ${parsed.error.issues[0]?.message}`);
  return id;
}
