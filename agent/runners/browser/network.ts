/**
 * The failing request of a browser run, watched inside the sandbox: the first response with status 400 or
 * more, else the first request that failed: its URL, the address the browser connected to (Playwright's
 * `serverAddr`; Chromium resolves names itself) and the response's headers. The sandbox may not load the
 * HTTP runner's code, so it sends these raw, cut to the bounds below (sandbox/protocol.ts holds it to
 * them); the agent makes the contract's network facts of them (network-facts.ts: edge identity, headers
 * that may carry credentials redacted). Only the first failing request is kept; reading its address is bounded.
 */
import type { BrowserContext, Request, Response } from 'playwright-core';
import { settlesWithin } from '../../../lib/bounded.ts';

/** Bounds of what the sandbox sends of the failing request (the contract's evidence limits). */
export const FAILING_REQUEST_LIMITS = { url: 2_000, host: 253, address: 64, headers: 50, headerName: 100, headerValue: 500 } as const;

export interface FailingRequest {
  url: string;
  host: string;
  /** The address the browser connected to; null when it did not connect (or did not say). */
  address: string | null;
  port: number | null;
  /** `[name, value]`, names lower case; empty when no response came. */
  headers: Array<[string, string]>;
}

export class FailingRequestWatch {
  #first: Promise<FailingRequest> | null = null;

  /** Listens on the context for the first failing request; call before the first page opens. */
  attach(context: BrowserContext): void {
    context.on('response', (response) => { if (response.status() >= 400) this.#first ??= fromResponse(response); });
    context.on('requestfailed', (request) => { this.#first ??= Promise.resolve(fromRequest(request, null, [])); });
  }

  /** The first failing request, if any (waits at most `timeoutMs` for its address). */
  async failing(timeoutMs = 500): Promise<FailingRequest | undefined> {
    if (!this.#first) return undefined;
    let failing: FailingRequest | undefined;
    await settlesWithin(this.#first.then((value) => { failing = value; }, () => {}), timeoutMs);
    return failing;
  }
}

async function fromResponse(response: Response): Promise<FailingRequest> {
  const server = await response.serverAddr().catch(() => null);
  const headers = Object.entries(response.headers()).slice(0, FAILING_REQUEST_LIMITS.headers)
    .map(([name, value]): [string, string] => [name.toLowerCase().slice(0, FAILING_REQUEST_LIMITS.headerName), value.slice(0, FAILING_REQUEST_LIMITS.headerValue)]);
  return fromRequest(response.request(), server, headers);
}

function fromRequest(request: Request, server: { ipAddress: string; port: number } | null, headers: Array<[string, string]>): FailingRequest {
  let host = '';
  try { host = new URL(request.url()).hostname.replace(/^\[|\]$/g, ''); } catch { /* not a URL */ }
  const address = server?.ipAddress ? server.ipAddress.replace(/^\[|\]$/g, '').slice(0, FAILING_REQUEST_LIMITS.address) : null;
  return { url: request.url().slice(0, FAILING_REQUEST_LIMITS.url), host: host.slice(0, FAILING_REQUEST_LIMITS.host), address, port: server?.port ?? null, headers };
}
