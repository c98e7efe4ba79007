import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../../checks/contract.ts';
import {
  classifyCancellation, classifyDeadline, classifyError, errorCodeOf, truncateMessage, type RunPhase,
} from '../../../../agent/runners/http/errors.ts';

/** An error as Node or undici makes it: a `code`, and whatever else they attach. */
function nodeError(code: string | undefined, extra: Record<string, unknown> = {}, message = `something ${code ?? ''}`): Error {
  return Object.assign(new Error(message), code === undefined ? {} : { code }, extra);
}

const where = { host: 'api.example.com', port: 443, url: 'https://api.example.com/health' };

describe('classifyError', () => {
  it.each<[string, Error, RunPhase, string, RegExp | string]>([
    ['getaddrinfo NXDOMAIN', nodeError('ENOTFOUND', { syscall: 'getaddrinfo' }), 'dns', 'DNS_NXDOMAIN', 'DNS: api.example.com does not exist (NXDOMAIN)'],
    ['resolver unavailable', nodeError('EAI_AGAIN'), 'dns', 'DNS_FAILURE', /^DNS lookup of api\.example\.com failed: .*EAI_AGAIN/],
    ['c-ares SERVFAIL', nodeError('ESERVFAIL'), 'dns', 'DNS_FAILURE', /ESERVFAIL/],
    ['c-ares refused is a DNS problem, not a refused connection', nodeError('ECONNREFUSED'), 'dns', 'DNS_FAILURE', /ECONNREFUSED/],
    ['no records of the type', nodeError('ENODATA'), 'dns', 'DNS_FAILURE', /ENODATA/],
    ['refused, with the address Node reports', nodeError('ECONNREFUSED', { address: '127.0.0.1', port: 4567 }), 'connect', 'CONNECT_REFUSED', 'connection refused by 127.0.0.1:4567'],
    ['refused over IPv6', nodeError('ECONNREFUSED', { address: '::1', port: 80 }), 'connect', 'CONNECT_REFUSED', 'connection refused by [::1]:80'],
    ['refused, no address on the error', nodeError('ECONNREFUSED'), 'connect', 'CONNECT_REFUSED', 'connection refused by api.example.com:443'],
    ['refused on every Happy Eyeballs attempt', new AggregateError([nodeError('ECONNREFUSED', { address: '::1', port: 8080 }), nodeError('ECONNREFUSED')]), 'connect', 'CONNECT_REFUSED', 'connection refused by [::1]:8080'],
    ['kernel connect timeout', nodeError('ETIMEDOUT'), 'connect', 'CONNECT_TIMEOUT', /^could not connect to api\.example\.com:443: timed out/],
    ['undici connect timeout', nodeError('UND_ERR_CONNECT_TIMEOUT'), 'connect', 'CONNECT_TIMEOUT', /UND_ERR_CONNECT_TIMEOUT/],
    ['reset while waiting', nodeError('ECONNRESET'), 'request', 'CONNECTION_RESET', /^connection to api\.example\.com:443 was reset while waiting for the response/],
    ['reset in the handshake', nodeError('ECONNRESET'), 'tls', 'CONNECTION_RESET', /during the TLS handshake/],
    ['server closed mid-body', nodeError('UND_ERR_SOCKET'), 'body', 'HTTP_BODY_INCOMPLETE', /ended before it was complete/],
    ['broken pipe', nodeError('EPIPE'), 'request', 'CONNECTION_RESET', /EPIPE/],
    ['no route', nodeError('EHOSTUNREACH', { address: '10.0.0.9', port: 443 }), 'connect', 'HOST_UNREACHABLE', '10.0.0.9:443 is unreachable (EHOSTUNREACH)'],
    ['network down', nodeError('ENETUNREACH'), 'connect', 'HOST_UNREACHABLE', /ENETUNREACH/],
    ['expired certificate', nodeError('CERT_HAS_EXPIRED'), 'tls', 'TLS_CERT_EXPIRED', 'TLS certificate of api.example.com has expired'],
    ['self-signed leaf', nodeError('DEPTH_ZERO_SELF_SIGNED_CERT', {}, 'self-signed certificate'), 'tls', 'TLS_CERT_UNTRUSTED', /^TLS certificate of api\.example\.com is not trusted: self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\)$/],
    ['self-signed root in chain', nodeError('SELF_SIGNED_CERT_IN_CHAIN'), 'tls', 'TLS_CERT_UNTRUSTED', /SELF_SIGNED_CERT_IN_CHAIN/],
    ['unknown issuer', nodeError('UNABLE_TO_GET_ISSUER_CERT_LOCALLY'), 'tls', 'TLS_CERT_UNTRUSTED', /UNABLE_TO_GET_ISSUER_CERT_LOCALLY/],
    ['incomplete chain', nodeError('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'tls', 'TLS_CERT_UNTRUSTED', /UNABLE_TO_VERIFY_LEAF_SIGNATURE/],
    ['wrong host name', nodeError('ERR_TLS_CERT_ALTNAME_INVALID', { reason: "Host: api.example.com. is not in the cert's altnames: DNS:other.example" }), 'tls', 'TLS_HOSTNAME_MISMATCH', "TLS certificate is not valid for api.example.com: Host: api.example.com. is not in the cert's altnames: DNS:other.example"],
    ['not yet valid', nodeError('CERT_NOT_YET_VALID'), 'tls', 'TLS_FAILURE', /CERT_NOT_YET_VALID/],
    ['handshake alert', nodeError('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION'), 'tls', 'TLS_FAILURE', /^TLS with api\.example\.com:443 failed/],
    ['plain HTTP spoken on a TLS port', nodeError('ERR_SSL_WRONG_VERSION_NUMBER'), 'tls', 'TLS_FAILURE', /ERR_SSL_WRONG_VERSION_NUMBER/],
    ['unknown code in the handshake', nodeError('ESOMETHING'), 'tls', 'TLS_FAILURE', /ESOMETHING/],
    ['undici headers timeout', nodeError('UND_ERR_HEADERS_TIMEOUT'), 'request', 'TIMEOUT', /timed out while waiting for the response/],
    ['undici body timeout', nodeError('UND_ERR_BODY_TIMEOUT'), 'body', 'TIMEOUT', /UND_ERR_BODY_TIMEOUT/],
    ['llhttp parse error', nodeError('HPE_INVALID_CONSTANT', {}, 'Expected HTTP/'), 'request', 'HTTP_PROTOCOL_ERROR', 'invalid HTTP response from api.example.com:443: Expected HTTP/ (HPE_INVALID_CONSTANT)'],
    ['undici parser error without a code', Object.assign(new Error('Response does not match the HTTP/1.1 protocol (Expected HTTP/)'), { name: 'HTTPParserError', code: undefined }), 'request', 'HTTP_PROTOCOL_ERROR', 'invalid HTTP response from api.example.com:443: Response does not match the HTTP/1.1 protocol (Expected HTTP/)'],
    ['short body', nodeError('UND_ERR_RES_CONTENT_LENGTH_MISMATCH'), 'body', 'HTTP_BODY_INCOMPLETE', /UND_ERR_RES_CONTENT_LENGTH_MISMATCH/],
    ['broken chunked encoding', nodeError('HPE_INVALID_CHUNK_SIZE', {}, 'Invalid character in chunk size'), 'body', 'HTTP_BODY_INCOMPLETE', /ended before it was complete/],
    ['egress policy', nodeError('TARGET_DENIED'), 'dns', 'TARGET_DENIED', /denied by this agent's egress policy/],
    ['huge headers', nodeError('UND_ERR_HEADERS_OVERFLOW'), 'request', 'HTTP_PROTOCOL_ERROR', /UND_ERR_HEADERS_OVERFLOW/],
    ['code only in the cause', Object.assign(new Error('fetch failed'), { cause: nodeError('ECONNRESET') }), 'request', 'CONNECTION_RESET', /ECONNRESET/],
    ['unknown code', nodeError('EWHATEVER', {}, 'odd'), 'request', 'REQUEST_FAILED', 'request to https://api.example.com/health failed while waiting for the response: odd (EWHATEVER)'],
    ['no code at all', new Error('weird'), 'body', 'REQUEST_FAILED', /while reading the response body: weird$/],
  ])('%s → %s', (_name, error, phase, code, message) => {
    const classified = classifyError(error, { ...where, phase });
    expect(classified.outcome).toBe('fail');
    expect(classified.code).toBe(code);
    if (typeof message === 'string') expect(classified.message).toBe(message);
    else expect(classified.message).toMatch(message);
  });

  it('blames the check, not the target, when undici refuses to send the request', () => {
    const classified = classifyError(nodeError('UND_ERR_INVALID_ARG', {}, 'invalid x-a header'), { ...where, phase: 'dns' });
    expect(classified).toEqual({ outcome: 'error', code: 'INVALID_JOB', message: "the check's request cannot be sent: invalid x-a header (UND_ERR_INVALID_ARG)" });
  });

  it('never classifies by message text', () => {
    const lookalike = new Error('connect ECONNREFUSED 127.0.0.1:80');
    expect(classifyError(lookalike, { ...where, phase: 'connect' }).code).toBe('REQUEST_FAILED');
  });

  it('returns only codes of the contract, and keeps messages within its limit', () => {
    const long = nodeError('EWHATEVER', {}, 'x'.repeat(5000));
    const classified = classifyError(long, { ...where, phase: 'body' });
    expect(ErrorCode.safeParse(classified.code).success).toBe(true);
    expect(classified.message.length).toBe(2000);
    expect(classified.message.endsWith('…')).toBe(true);
  });
});

describe('classifyDeadline', () => {
  it.each<[RunPhase, string, string]>([
    ['dns', 'DNS_FAILURE', 'DNS lookup of api.example.com did not finish within the 5000 ms deadline'],
    ['connect', 'CONNECT_TIMEOUT', 'could not connect to api.example.com:443 within the 5000 ms deadline'],
    ['tls', 'TIMEOUT', 'TLS handshake with api.example.com:443 did not finish within the 5000 ms deadline'],
    ['request', 'TIMEOUT', 'no response from https://api.example.com/health within the 5000 ms deadline'],
    ['body', 'TIMEOUT', 'response body from https://api.example.com/health was still arriving at the 5000 ms deadline (12 bytes read)'],
  ])('in phase %s → %s', (phase, code, message) => {
    expect(classifyDeadline(phase, { ...where, timeoutMs: 5000, bytesRead: 12 })).toEqual({ outcome: 'fail', code, message });
  });
});

describe('classifyCancellation', () => {
  it('is an agent error that says why', () => {
    const reason = Object.assign(new Error('the agent is shutting down'), { code: 'RUN_CANCELLED' });
    expect(classifyCancellation(reason)).toEqual({ outcome: 'error', code: 'RUN_CANCELLED', message: 'run cancelled before it finished: the agent is shutting down' });
    expect(classifyCancellation(undefined).message).toBe('run cancelled before it finished');
  });
});

describe('errorCodeOf', () => {
  it.each<[string, unknown, string | undefined]>([
    ['own code', nodeError('ECONNRESET'), 'ECONNRESET'],
    ['cause chain', { cause: { cause: { code: 'EPIPE' } } }, 'EPIPE'],
    ['aggregate', new AggregateError([new Error('no code'), nodeError('ETIMEDOUT')]), 'ETIMEDOUT'],
    ['none', new Error('plain'), undefined],
    ['not an object', 'ECONNRESET', undefined],
    ['a cycle ends', (() => { const e: { cause?: unknown } = {}; e.cause = e; return e; })(), undefined],
  ])('%s', (_name, error, code) => {
    expect(errorCodeOf(error)).toBe(code);
  });

  it('truncateMessage leaves short messages alone', () => {
    expect(truncateMessage('short')).toBe('short');
  });
});
