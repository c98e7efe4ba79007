/**
 * Network facts of an HTTP run (the contract's `NetworkFacts`), recorded as the connection goes: every
 * address the lookup answered and the resolver, the address connected to, the TLS session and leaf
 * certificate, the HTTP version, the edge the response came through (edge.ts) and, on failed runs, the
 * response's headers. Always on, so it must stay cheap: no system call of its own (the address connected
 * to comes from the socket's `connectionAttempt` event, not getpeername), the certificate is kept as Node's
 * X509Certificate and its fields read once, when the report is made. Facts describe the last hop (after
 * redirects, the final URL).
 */
import type { LookupAddress } from 'node:dns';
import type { IncomingHttpHeaders } from 'node:http';
import { getServers } from 'node:dns';
import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { EVIDENCE_LIMITS, type NetworkFacts, type TlsFacts } from '../../../checks/contract.ts';
import { edgeIdentities } from './edge.ts';

/** Header values never reported: they may carry a session or a credential. */
const REDACTED_HEADERS: ReadonlySet<string> = new Set(['set-cookie', 'cookie', 'authorization', 'proxy-authorization', 'x-api-key', 'x-amz-security-token']);

export interface FactsRecorder {
  /** A hop begins: what was recorded for the previous one is dropped. */
  hop(url: URL): void;
  /** The connector's lookup answered. */
  looked(answer: string | readonly LookupAddress[]): void;
  /** A connection attempt to `address`:`port` started (the socket's `connectionAttempt` event). */
  attempting(address: string, port: number): void;
  /** TCP connected: to the address of the last attempt (no getpeername system call). */
  connected(): void;
  /** TLS established: the session and certificate are kept (their fields are read when the facts are made). */
  secured(socket: TLSSocket): void;
  /** The response's headers arrived. */
  responded(headers: IncomingHttpHeaders): void;
  /** The facts of the run so far; with `failed`, the response headers too. Undefined before any hop. */
  facts(failed: boolean): NetworkFacts | undefined;
}

/** `system (nameservers 10.0.0.2, 10.0.0.3)`: the resolver `dns.lookup` uses, as this process sees it. */
export function systemResolverName(): string {
  const servers = getServers();
  return `system${servers.length > 0 ? ` (nameservers ${servers.slice(0, 3).join(', ')})` : ''}`.slice(0, 200);
}

export function createFactsRecorder(resolver: string): FactsRecorder {
  let url: URL | null = null;
  let answer: string | readonly LookupAddress[] | null = null;
  let attempt: { address: string; port: number } | null = null;
  let connectedAddress: string | null = null;
  let port: number | null = null;
  let tls: TlsSession | null = null;
  let headers: IncomingHttpHeaders | null = null;
  return {
    hop(next) {
      url = next;
      answer = null; attempt = null; connectedAddress = null; port = null; tls = null; headers = null;
    },
    looked(value) { answer = value; },
    attempting(address, attemptPort) { attempt = { address, port: attemptPort }; },
    connected() {
      connectedAddress = attempt?.address ?? null;
      port = attempt?.port ?? null;
    },
    secured(socket) {
      // Kept now (the socket is destroyed when the run ends); the certificate's fields are read only when the facts are made.
      tls = { certificate: socket.getPeerX509Certificate() ?? null, protocol: socket.getProtocol() ?? null, cipher: socket.getCipher()?.name ?? null };
    },
    responded(value) { headers = value; },
    facts(failed) {
      if (!url) return undefined;
      const host = url.hostname.replace(/^\[|\]$/g, '');
      // An IP literal is its own (only) address, whether or not the connection was made.
      const literal = isIP(host) !== 0;
      const addresses = literal ? [host] : answer === null ? [] : typeof answer === 'string' ? [answer] : answer.map((a) => a.address);
      return {
        url: url.href.slice(0, 2000),
        host: host.slice(0, 253),
        resolver: literal ? 'none (IP address)' : resolver,
        addresses: [...new Set(addresses)].slice(0, EVIDENCE_LIMITS.addresses),
        connectedAddress,
        port,
        tls: tls ? tlsFactsOf(tls) : null,
        httpVersion: headers ? '1.1' : null,
        edge: headers ? edgeIdentities(headers) : [],
        ...(failed && headers ? { responseHeaders: reportedHeaders(headers) } : {}),
      };
    },
  };
}

interface TlsSession { certificate: X509Certificate | null; protocol: string | null; cipher: string | null }

function tlsFactsOf(session: TlsSession): TlsFacts {
  const cert = session.certificate;
  return {
    protocol: session.protocol,
    cipher: session.cipher?.slice(0, 100) ?? null,
    subject: cert ? nameOf(cert.subject) : null,
    sans: cert ? sansOf(cert.subjectAltName) : [],
    issuer: cert ? nameOf(cert.issuer) : null,
    notAfter: cert ? isoDate(cert.validTo) : null,
    fingerprint256: cert?.fingerprint256?.slice(0, 100) ?? null,
  };
}

/** `CN=shop.example.com\nO=…` → the common name (or the organisation). */
function nameOf(name: string | undefined): string | null {
  if (!name) return null;
  const field = (key: string): string | undefined => name.split('\n').find((line) => line.startsWith(`${key}=`))?.slice(key.length + 1);
  const value = field('CN') ?? field('O');
  return value ? value.slice(0, 300) : null;
}

/** `DNS:a.example, DNS:*.example, IP Address:1.2.3.4` → the DNS names (and IPs), capped. */
function sansOf(altNames: string | undefined): string[] {
  if (!altNames) return [];
  return altNames.split(', ').map((entry) => entry.replace(/^(DNS|IP Address):/, '').slice(0, 256)).filter(Boolean).slice(0, EVIDENCE_LIMITS.sans);
}

function isoDate(text: string | undefined): string | null {
  if (!text) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** A failed run's response headers as reported: bounded, values that may carry a credential redacted. */
export function reportedHeaders(headers: IncomingHttpHeaders): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = REDACTED_HEADERS.has(name) ? '[redacted]' : Array.isArray(value) ? value.join(', ') : value;
    out.push([name.slice(0, EVIDENCE_LIMITS.headerName), text.slice(0, EVIDENCE_LIMITS.headerValue)]);
    if (out.length >= EVIDENCE_LIMITS.headers) break;
  }
  return out;
}
