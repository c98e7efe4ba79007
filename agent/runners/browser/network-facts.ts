/**
 * The network facts of a browser run (the contract's `NetworkFacts`), made by the agent from the failing
 * request its sandbox reported (network.ts): the edge the response came through, from the HTTP runner's
 * table of header parsers, and the response's headers with those that may carry a credential redacted.
 * Chromium resolves names itself, so the resolver is `browser` and the address is the one connected to.
 */
import type { NetworkFacts } from '../../../checks/contract.ts';
import { edgeIdentities } from '../http/edge.ts';
import { reportedHeaders } from '../http/facts.ts';
import type { FailingRequest } from './network.ts';

export function networkFactsOf(failing: FailingRequest): NetworkFacts {
  const headers = Object.fromEntries(failing.headers);
  const responded = failing.headers.length > 0;
  return {
    url: failing.url, host: failing.host, resolver: 'browser', addresses: failing.address ? [failing.address] : [],
    connectedAddress: failing.address, port: failing.port, tls: null,
    // Playwright does not say which HTTP version Chromium spoke.
    httpVersion: null,
    edge: responded ? edgeIdentities(headers) : [],
    ...(responded ? { responseHeaders: reportedHeaders(headers) } : {}),
  };
}
