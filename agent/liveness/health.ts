/**
 * The agent's health server:
 * - `/healthz`: the process is up and serving (200);
 * - `/readyz`: 200 only when the agent is connected to Redis and its worker is consuming; otherwise
 *   503 with `{ ready: false, reason }` so an operator sees why; both say each dependency's state
 *   (`dependencies: { redis: { up, detail }, worker: …, spool: … }`);
 * - `/metrics`: Prometheus text from the agent's own registry.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { Registry } from 'prom-client';

/** One dependency's state, as `/readyz` shows it. */
export interface DependencyState { up: boolean; detail: string }

/** `ok: false` carries a short reason such as `redis not connected`. */
export type Readiness = ({ ok: true } | { ok: false; reason: string }) & { dependencies?: Record<string, DependencyState> };

export interface HealthServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  registry: Registry;
  readiness: () => Readiness;
}

export interface HealthServer {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server = createServer((req, res) => {
    handle(req, res, options).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: 'INTERNAL', message: error instanceof Error ? error.message : String(error) });
      else res.destroy();
    });
  });
  server.listen(options.port, options.host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => { throw error; })]);
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('health server has no address');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    async close() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, options: HealthServerOptions): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    sendJson(res, 405, { error: 'METHOD_NOT_ALLOWED', message: `${req.method} is not supported; use GET` });
    return;
  }
  const path = new URL(req.url ?? '/', 'http://agent').pathname;
  switch (path) {
    case '/healthz':
      sendJson(res, 200, { status: 'ok' });
      return;
    case '/readyz': {
      const readiness = options.readiness();
      const dependencies = readiness.dependencies ? { dependencies: readiness.dependencies } : {};
      if (readiness.ok) sendJson(res, 200, { ready: true, ...dependencies });
      else sendJson(res, 503, { ready: false, reason: readiness.reason, ...dependencies });
      return;
    }
    case '/metrics': {
      options.readiness(); // brings lookout_agent_dependency_up up to date
      const body = await options.registry.metrics();
      res.writeHead(200, { 'content-type': options.registry.contentType, 'cache-control': 'no-store' });
      res.end(body);
      return;
    }
    default:
      sendJson(res, 404, { error: 'NOT_FOUND', message: `no such endpoint: ${path} (try /healthz, /readyz, /metrics)` });
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
