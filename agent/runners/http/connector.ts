/**
 * undici connector (the `connect` option of a `Client`) that opens one fresh TCP/TLS connection and
 * records when each phase ended: the host lookup, TCP `connect`, TLS `secureConnect`.
 *
 * Cold on purpose: a synthetic check measures what a new visitor gets, so nothing is reused between
 * runs. No TLS session is ever offered (what undici's `maxCachedSessions: 0` would do for its own
 * connector), the lookup goes to the resolver every time (Node caches no DNS answers), and the socket
 * belongs to one `Client` that the runner destroys after the run.
 */
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls, type SecureContext } from 'node:tls';
import type { LookupAddress, LookupOptions } from 'node:dns';
import type { buildConnector } from 'undici';
import { DEFAULT_EGRESS_POLICY, deniedLiteral, guardLookup, type EgressPolicy } from './egress.ts';
import type { RunPhase } from './errors.ts';
import type { FactsRecorder } from './facts.ts';
import type { HopMarks } from './timings.ts';

/** Same shape as `dns.lookup` (and Node's `LookupFunction`): answers one address or, with `all`, a list. */
export type Lookup = (
  hostname: string,
  options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

export interface TimedConnectorOptions {
  lookup: Lookup;
  /** Trust store and TLS settings, built once per runner (building one per connection costs CPU). */
  secureContext: () => SecureContext;
  /** The run's signal: an aborted run tears down a connection still being opened. */
  signal: AbortSignal;
  /** Filled in as the connection progresses. */
  marks: HopMarks;
  /** Told when the run enters the next phase, so that a deadline or error can say where it happened. */
  onPhase: (phase: RunPhase) => void;
  /** Addresses this connection may not reach (checked after DNS, egress.ts). @defaultValue {@link DEFAULT_EGRESS_POLICY} */
  egress?: EgressPolicy;
  /** Records the network facts (addresses, the one connected to, TLS). @defaultValue none */
  facts?: FactsRecorder;
}

export function createTimedConnector(options: TimedConnectorOptions): buildConnector.connector {
  const { marks, onPhase, signal } = options;
  return ({ hostname, protocol, port }, callback) => {
    const secure = protocol === 'https:';
    const literal = isIP(hostname) !== 0;
    marks.connectStart = performance.now();
    onPhase(literal ? 'connect' : 'dns');

    const egress = options.egress ?? DEFAULT_EGRESS_POLICY;
    const refused = literal ? deniedLiteral(hostname, egress) : null;
    if (refused) { callback(refused, null); return; }
    const guarded = guardLookup(options.lookup, egress);
    const lookup: Lookup = (host, lookupOptions, done) => {
      marks.dnsStart = performance.now();
      guarded(host, lookupOptions, (error, address, family) => {
        marks.dnsEnd = performance.now();
        if (!error) {
          onPhase('connect');
          options.facts?.looked(address);
        }
        done(error, address, family);
      });
    };
    const portNumber = Number(port) || (secure ? 443 : 80);
    // TCP first, TLS over it once connected: a TLS socket's own `connect` event comes after its
    // ClientHello was built (key shares included), which would move that work into connectMs.
    const tcp: Socket = connectTcp({ host: hostname, port: portNumber, lookup });
    tcp.setNoDelay(true);
    if (options.facts) tcp.on('connectionAttempt', (address: string, attemptPort: number) => options.facts!.attempting(address, attemptPort));
    let socket: Socket = tcp;

    let settled = false;
    const settle = (error: Error | null): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      tcp.off('error', onError);
      socket.off('error', onError);
      if (error) {
        // A torn-down socket may still report late errors; nobody else listens to it now.
        socket.on('error', ignore).destroy();
        tcp.on('error', ignore).destroy();
        callback(error, null);
      } else {
        callback(null, socket);
      }
    };
    const onError = (error: Error): void => settle(error);
    const onAbort = (): void => settle(signal.reason instanceof Error ? signal.reason : new Error('run aborted'));

    tcp.once('connect', () => {
      marks.connected = performance.now();
      options.facts?.connected();
      if (!secure) {
        onPhase('request');
        settle(null);
        return;
      }
      onPhase('tls');
      const tls = connectTls({
        socket: tcp,
        // `host` names the certificate's expected identity; SNI must not carry an IP literal.
        host: hostname,
        servername: literal ? undefined : hostname,
        secureContext: options.secureContext(),
        ALPNProtocols: ['http/1.1'],
      });
      socket = tls;
      tls.on('error', onError);
      tls.once('secureConnect', () => {
        marks.secured = performance.now();
        options.facts?.secured(tls);
        onPhase('request');
        settle(null);
      });
    });
    tcp.on('error', onError);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  };
}

function ignore(): void {}
