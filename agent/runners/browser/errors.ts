/**
 * Turns what a browser script threw into a target error code. Pure. (Browser crashes and the run's own
 * deadline are decided by the runner from what it observed, not from error text.)
 */
import type { TargetErrorCode } from '../../../checks/contract.ts';

/** Chromium network errors (`net::ERR_…`, as Playwright reports a failed navigation) → our codes. */
const NET_ERRORS: Record<string, TargetErrorCode> = {
  ERR_NAME_NOT_RESOLVED: 'DNS_NXDOMAIN',
  ERR_NAME_RESOLUTION_FAILED: 'DNS_FAILURE',
  ERR_CONNECTION_REFUSED: 'CONNECT_REFUSED',
  ERR_CONNECTION_TIMED_OUT: 'CONNECT_TIMEOUT',
  ERR_TIMED_OUT: 'TIMEOUT',
  ERR_CONNECTION_RESET: 'CONNECTION_RESET',
  ERR_CONNECTION_CLOSED: 'CONNECTION_RESET',
  ERR_EMPTY_RESPONSE: 'CONNECTION_RESET',
  ERR_ADDRESS_UNREACHABLE: 'HOST_UNREACHABLE',
  ERR_INTERNET_DISCONNECTED: 'HOST_UNREACHABLE',
  ERR_CERT_DATE_INVALID: 'TLS_CERT_EXPIRED',
  ERR_CERT_AUTHORITY_INVALID: 'TLS_CERT_UNTRUSTED',
  ERR_CERT_COMMON_NAME_INVALID: 'TLS_HOSTNAME_MISMATCH',
  ERR_TOO_MANY_REDIRECTS: 'TOO_MANY_REDIRECTS',
  ERR_INVALID_HTTP_RESPONSE: 'HTTP_PROTOCOL_ERROR',
  ERR_HTTP2_PROTOCOL_ERROR: 'HTTP_PROTOCOL_ERROR',
};

export interface ClassifiedError {
  code: TargetErrorCode;
  message: string;
}

const MAX_MESSAGE = 2000;

/** The code and message for an error thrown by a script, optionally inside step `stepName`. */
export function classifyScriptError(error: unknown, stepName: string | null): ClassifiedError {
  const name = error instanceof Error ? error.name : '';
  const text = error instanceof Error ? error.message : `non-error thrown: ${safeString(error)}`;
  let code: TargetErrorCode;
  if (name === 'ExpectationError') code = 'ASSERTION_FAILED';
  else if (name === 'SecretMissingError') code = 'SECRET_MISSING';
  else if (name === 'TimeoutError') code = 'TIMEOUT';
  else {
    const net = /net::(ERR_[A-Z0-9_]+)/.exec(text)?.[1];
    if (net) code = NET_ERRORS[net] ?? (net.startsWith('ERR_SSL') || net.startsWith('ERR_CERT') ? 'TLS_FAILURE' : 'REQUEST_FAILED');
    else code = 'SCRIPT_ERROR';
  }
  return { code, message: withStep(text, stepName) };
}

/** Prefixes the step and caps the length (Playwright messages carry long call logs). */
export function withStep(text: string, stepName: string | null): string {
  const message = stepName ? `step "${stepName}": ${text}` : text;
  return message.length <= MAX_MESSAGE ? message : `${message.slice(0, MAX_MESSAGE - 1)}…`;
}

function safeString(value: unknown): string {
  try { return typeof value === 'string' ? value : JSON.stringify(value) ?? String(value); } catch { return String(value); }
}
