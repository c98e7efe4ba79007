/**
 * Turns what went wrong during an HTTP run into a stable error code and a sentence a person can act on.
 * Pure: the runner tells us the error, the phase the run was in, and where it was going.
 *
 * Errors are classified by their machine-readable `code` (Node's `ECONNREFUSED`, OpenSSL's
 * `CERT_HAS_EXPIRED`, undici's `UND_ERR_*`, llhttp's `HPE_*`), never by message text, which changes
 * between versions. Message text is only ever appended as detail.
 */
import type { ErrorCode } from '../../../checks/contract.ts';
import type { Redactor } from '../../../checks/redact.ts';

/**
 * Where a run was when something happened:
 * `dns` resolving the host, `connect` opening TCP, `tls` in the handshake, `request` connected and
 * waiting for the response headers, `body` reading the response body.
 */
export type RunPhase = 'dns' | 'connect' | 'tls' | 'request' | 'body';

export interface FailureContext {
  phase: RunPhase;
  /** Host name (or IP literal) of the URL being requested. */
  host: string;
  port: number;
  /** The URL of the hop that failed. */
  url: string;
  /** The run's secrets, scrubbed from the message before it is cut (see {@link truncateMessage}). */
  redact?: Redactor;
}

/** A failure ready for a `RunReport`: `fail` blames the target, `error` the agent or the check's own definition. */
export interface ClassifiedFailure {
  outcome: 'fail' | 'error';
  code: ErrorCode;
  message: string;
}

/** Longest message a result may carry (see `RunResult` in the contract). */
export const MAX_MESSAGE_LENGTH = 2000;

const UNTRUSTED_CERT_CODES: ReadonlySet<string> = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_REVOKED', 'INVALID_CA', 'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG', 'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE',
]);
const UNREACHABLE_CODES: ReadonlySet<string> = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL']);
const RESET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const PROTOCOL_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_HEADERS_OVERFLOW', 'UND_ERR_RES_EXCEEDED_MAX_SIZE',
  'UND_ERR_INFO', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_PRX_TLS',
]);
/** The check asked for something undici refuses to send (e.g. a header value with a line break). */
const INVALID_REQUEST_CODES: ReadonlySet<string> = new Set(['UND_ERR_INVALID_ARG', 'ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN']);

const PHASE_WORDS: Record<RunPhase, string> = {
  dns: 'while resolving the host',
  connect: 'while connecting',
  tls: 'during the TLS handshake',
  request: 'while waiting for the response',
  body: 'while reading the response body',
};

/**
 * The machine-readable code of an error: its own `code`, else the first one found in its `cause` chain
 * or (for Happy Eyeballs connection attempts) in an `AggregateError`'s `errors`.
 */
export function errorCodeOf(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current !== null && typeof current === 'object' && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    if (current instanceof AggregateError) {
      for (const inner of current.errors) {
        const innerCode = errorCodeOf(inner);
        if (innerCode !== undefined) return innerCode;
      }
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Classifies an error thrown by the socket, undici or the TLS stack. Never throws. */
export function classifyError(error: unknown, context: FailureContext): ClassifiedFailure {
  const code = errorCodeOf(error);
  const { host, port, phase } = context;
  const where = `${host}:${port}`;
  const detail = describe(error, code);
  const fail = (target: ErrorCode, message: string): ClassifiedFailure => ({ outcome: 'fail', code: target, message: truncateMessage(message, context.redact) });

  if (code === 'TARGET_DENIED') {
    const address = (error as { address?: unknown }).address;
    return fail('TARGET_DENIED', `${context.url}: ${host} (${typeof address === 'string' ? address : 'its address'}) is denied by this agent's egress policy`);
  }
  // A body that ended early, by a close (not a reset) or a broken chunked encoding, whatever the
  // connection header said: the server sent less than it announced.
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || (phase === 'body' && (code === 'UND_ERR_SOCKET' || isParserError(error)))) {
    return fail('HTTP_BODY_INCOMPLETE', `response body from ${where} ended before it was complete: ${detail}`);
  }
  // undici validates the request before connecting, so this can come in any phase.
  if (code !== undefined && INVALID_REQUEST_CODES.has(code)) {
    return { outcome: 'error', code: 'INVALID_JOB', message: truncateMessage(`the check's request cannot be sent: ${detail}`, context.redact) };
  }
  if (phase === 'dns') {
    if (code === 'ENOTFOUND') return fail('DNS_NXDOMAIN', `DNS: ${host} does not exist (NXDOMAIN)`);
    return fail('DNS_FAILURE', `DNS lookup of ${host} failed: ${detail}`);
  }
  if (isParserError(error)) return fail('HTTP_PROTOCOL_ERROR', `invalid HTTP response from ${where}: ${detail}`);
  if (code === undefined) return fail('REQUEST_FAILED', `request to ${context.url} failed ${PHASE_WORDS[phase]}: ${detail}`);
  if (code === 'ECONNREFUSED') return fail('CONNECT_REFUSED', `connection refused by ${peerOf(error) ?? where}`);
  if (UNREACHABLE_CODES.has(code)) return fail('HOST_UNREACHABLE', `${peerOf(error) ?? where} is unreachable (${code})`);
  if (TIMEOUT_CODES.has(code)) {
    if (phase === 'connect') return fail('CONNECT_TIMEOUT', `could not connect to ${where}: timed out (${code})`);
    return fail('TIMEOUT', `${where} timed out ${PHASE_WORDS[phase]} (${code})`);
  }
  if (RESET_CODES.has(code)) {
    const what = code === 'UND_ERR_SOCKET' ? 'closed by the server' : 'reset';
    return fail('CONNECTION_RESET', `connection to ${where} was ${what} ${PHASE_WORDS[phase]} (${code})`);
  }
  if (code === 'CERT_HAS_EXPIRED') return fail('TLS_CERT_EXPIRED', `TLS certificate of ${host} has expired`);
  if (UNTRUSTED_CERT_CODES.has(code)) return fail('TLS_CERT_UNTRUSTED', `TLS certificate of ${host} is not trusted: ${detail}`);
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const reason = (error as { reason?: unknown }).reason;
    return fail('TLS_HOSTNAME_MISMATCH', `TLS certificate is not valid for ${host}${typeof reason === 'string' ? `: ${reason}` : ''}`);
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('CERT_') || code === 'EPROTO' || phase === 'tls') {
    return fail('TLS_FAILURE', `TLS with ${where} failed: ${detail}`);
  }
  if (PROTOCOL_CODES.has(code)) {
    return fail('HTTP_PROTOCOL_ERROR', `invalid HTTP response from ${where}: ${detail}`);
  }
  return fail('REQUEST_FAILED', `request to ${context.url} failed ${PHASE_WORDS[phase]}: ${detail}`);
}

/**
 * The run's deadline passed in `phase`. A deadline while resolving is a DNS failure (the resolver did
 * not answer in time, like `EAI_AGAIN`), while connecting a `CONNECT_TIMEOUT`; later it is `TIMEOUT`.
 */
export function classifyDeadline(
  phase: RunPhase,
  context: Omit<FailureContext, 'phase'> & { timeoutMs: number; bytesRead: number },
): ClassifiedFailure {
  const { host, port, url, timeoutMs } = context;
  const within = `within the ${timeoutMs} ms deadline`;
  const fail = (code: ErrorCode, message: string): ClassifiedFailure => ({ outcome: 'fail', code, message: truncateMessage(message, context.redact) });
  switch (phase) {
    case 'dns': return fail('DNS_FAILURE', `DNS lookup of ${host} did not finish ${within}`);
    case 'connect': return fail('CONNECT_TIMEOUT', `could not connect to ${host}:${port} ${within}`);
    case 'tls': return fail('TIMEOUT', `TLS handshake with ${host}:${port} did not finish ${within}`);
    case 'request': return fail('TIMEOUT', `no response from ${url} ${within}`);
    case 'body': return fail('TIMEOUT', `response body from ${url} was still arriving at the ${timeoutMs} ms deadline (${context.bytesRead} bytes read)`);
  }
}

/** The agent is shutting down: says nothing about the target. */
export function classifyCancellation(reason: unknown): ClassifiedFailure {
  const why = reason instanceof Error && reason.message ? `: ${reason.message}` : '';
  return { outcome: 'error', code: 'RUN_CANCELLED', message: truncateMessage(`run cancelled before it finished${why}`) };
}

/**
 * Cuts a message to what a result may carry, after scrubbing it with `redact`: cut first, a secret
 * crossing the cut would leave its first part where no later scrubbing finds the whole value.
 */
export function truncateMessage(message: string, redact?: Redactor, max = MAX_MESSAGE_LENGTH): string {
  const shown = redact ? redact(message) : message;
  return shown.length <= max ? shown : `${shown.slice(0, max - 1)}…`;
}

/**
 * llhttp's parse errors: `HPE_*` codes, or undici's `HTTPParserError` by class name, because undici 8
 * leaves its `code` undefined (it looks the numeric llhttp error up in a name-to-number table).
 */
function isParserError(error: unknown): boolean {
  const code = errorCodeOf(error);
  return (code !== undefined && code.startsWith('HPE_')) || (error instanceof Error && error.name === 'HTTPParserError');
}

function describe(error: unknown, code: string | undefined): string {
  const message = error instanceof Error ? error.message : String(error);
  if (code === undefined || message.includes(code)) return message || 'unknown error';
  return message ? `${message} (${code})` : code;
}

/** `address:port` a connect error names (Node sets both on socket errors), e.g. the IP `localhost` resolved to. */
function peerOf(error: unknown): string | undefined {
  let current: unknown = error;
  if (current instanceof AggregateError && current.errors.length > 0) current = current.errors[0];
  if (current === null || typeof current !== 'object') return undefined;
  const { address, port } = current as { address?: unknown; port?: unknown };
  if (typeof address !== 'string' || typeof port !== 'number') return undefined;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
