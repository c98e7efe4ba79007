/**
 * The network facts of a browser run's failing request (the contract's `NetworkFacts`): the first
 * response with status 400 or more, else the first request that failed: its URL, the address the browser
 * connected to (Playwright's `serverAddr`) and the edge it came through (the HTTP runner's header table).
 * Chromium resolves names itself, so the facts name the resolver `browser` and the addresses are the one
 * connected to. Only the first failing request is kept; reading its address is bounded.
 */
import type { BrowserContext, Request, Response } from 'playwright-core';
import type { NetworkFacts } from '../../../checks/contract.ts';
import { settlesWithin } from '../../../lib/bounded.ts';
import { edgeIdentities } from '../http/edge.ts';

export class FailingRequestWatch {
  #facts: Promise<NetworkFacts> | null = null;

  /** Listens on the context for the first failing request; call before the first page opens. */
  attach(context: BrowserContext): void {
    context.on('response', (response) => { if (response.status() >= 400) this.#facts ??= fromResponse(response); });
    context.on('requestfailed', (request) => { this.#facts ??= Promise.resolve(fromRequest(request, null)); });
  }

  /** The facts of the first failing request, if any (waits at most `timeoutMs` for its address). */
  async facts(timeoutMs = 500): Promise<NetworkFacts | undefined> {
    if (!this.#facts) return undefined;
    let facts: NetworkFacts | undefined;
    await settlesWithin(this.#facts.then((value) => { facts = value; }, () => {}), timeoutMs);
    return facts;
  }
}

async function fromResponse(response: Response): Promise<NetworkFacts> {
  const server = await response.serverAddr().catch(() => null);
  const facts = fromRequest(response.request(), server);
  return { ...facts, httpVersion: '1.1', edge: edgeIdentities(response.headers()) };
}

function fromRequest(request: Request, server: { ipAddress: string; port: number } | null): NetworkFacts {
  let host = '';
  try { host = new URL(request.url()).hostname.replace(/^\[|\]$/g, ''); } catch { /* not a URL */ }
  const address = server?.ipAddress ? server.ipAddress.replace(/^\[|\]$/g, '').slice(0, 64) : null;
  return {
    url: request.url().slice(0, 2000), host: host.slice(0, 253), resolver: 'browser', addresses: address ? [address] : [],
    connectedAddress: address, port: server?.port ?? null, tls: null, httpVersion: null, edge: [],
  };
}
