/**
 * The demo service the example checks probe when the local fleet runs: a small "shop" on loopback.
 * `POST /_demo/fail?regions=eu-west` makes it fail for requests from those regions (by the
 * `x-lookout-region` header every probe sends), `regions=*` for all, `POST /_demo/recover` heals it:
 * a way to watch a regional, then a global incident without breaking anything real.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';

export interface DemoTarget { url: string; server: Server; close(): Promise<void> }

export async function startDemoTarget(port: number, host = '127.0.0.1'): Promise<DemoTarget> {
  let failing = new Set<string>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo');
    const region = String(req.headers['x-lookout-region'] ?? '');
    if (url.pathname === '/_demo/fail' && req.method === 'POST') {
      failing = new Set((url.searchParams.get('regions') ?? '*').split(',').map((r) => r.trim()).filter(Boolean));
      return json(res, 200, { failing: [...failing] });
    }
    if (url.pathname === '/_demo/recover' && req.method === 'POST') {
      failing = new Set();
      return json(res, 200, { failing: [] });
    }
    if (failing.has('*') || failing.has(region)) return json(res, 503, { status: 'unavailable', region });
    req.resume();
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end('<!doctype html><title>Acme Shop</title><h1>Acme Shop</h1><a href="/cart">Cart</a>');
    }
    if (url.pathname === '/cart') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end('<!doctype html><title>Cart · Acme Shop</title><h1>Your cart</h1><p>Empty.</p>');
    }
    if (url.pathname === '/api/health') return json(res, 200, { status: 'ok' });
    if (url.pathname === '/api/checkout' && req.method === 'POST') return json(res, 202, { accepted: true });
    return json(res, 404, { error: 'not found' });
  });
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://${host}:${boundPort}`,
    server,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function json(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

// `node cli/demo-target.ts [port] [host]`: the demo service alone (the compose stack's `demo` container).
if (import.meta.main) {
  const [port = '8181', host = '127.0.0.1'] = process.argv.slice(2);
  const demo = await startDemoTarget(Number(port), host);
  process.stdout.write(`demo target on ${demo.url}\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { void demo.close().then(() => process.exit(0)); });
}
