/**
 * A target for tests and benchmarks in network namespaces (see netns.ts): run it inside the target
 * namespace with `node test/support/netns-target.ts <config.json>`. It serves every listener of the
 * config and prints one JSON line `{"listening":[...]}` once all are up.
 *
 * Config: `{ "listeners": [Listener...], "behaviourFile": "/tmp/.../behaviour.json" }`, where a listener is
 * `{ "name", "address", "port", "headers"?: {...}, "edgePop"?: "FRA", "proxyTo"?: { "address", "port" } }`:
 * it answers 200 `ok` with its headers; with `edgePop` it acts as a CDN edge (`server: cloudflare`,
 * `cf-ray: <16 hex>-<POP>`); with `proxyTo` it forwards each request to that origin and adds its headers to
 * the origin's answer (502 when the origin cannot be reached).
 *
 * The behaviour file (read again whenever it changes; absent = every request served normally) holds
 * `{ "rules": [{ "listener"?: name, "from"?: source address, "action": Action }] }`; the first rule matching a
 * request decides: `{ "status": 503, "headers"?: {...}, "body"?: "..." }` answers that, `"reset"` resets the
 * connection once the request arrived, `"hang"` never answers. Tests stage failures by writing the file.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

export interface TargetListener {
  name: string;
  address: string;
  port: number;
  headers?: Record<string, string>;
  /** Answer as a Cloudflare edge in this point of presence. */
  edgePop?: string;
  /** Per source address, another point of presence (an anycast edge: one address, the POP nearest each region). */
  edgePops?: Record<string, string>;
  /** Forward to this origin and add this listener's headers to its answer. */
  proxyTo?: { address: string; port: number };
}

export type TargetAction = { status: number; headers?: Record<string, string>; body?: string } | 'reset' | 'hang';
export interface TargetRule { listener?: string; from?: string; action: TargetAction }
export interface TargetBehaviour { rules: TargetRule[] }
export interface TargetConfig { listeners: TargetListener[]; behaviourFile: string }

let cached: { mtimeMs: number; behaviour: TargetBehaviour } | null = null;
function behaviour(file: string): TargetBehaviour {
  let mtimeMs: number;
  try { mtimeMs = statSync(file).mtimeMs; } catch { return { rules: [] }; }
  if (cached && cached.mtimeMs === mtimeMs) return cached.behaviour;
  try {
    cached = { mtimeMs, behaviour: JSON.parse(readFileSync(file, 'utf8')) as TargetBehaviour };
  } catch {
    // A file caught half-written: keep serving with what was read before.
    return cached?.behaviour ?? { rules: [] };
  }
  return cached.behaviour;
}

function headersOf(listener: TargetListener, from: string): Record<string, string> {
  const pop = listener.edgePops?.[from] ?? listener.edgePop;
  const edge: Record<string, string> = pop ? { server: 'cloudflare', 'cf-ray': `${randomBytes(8).toString('hex')}-${pop}` } : {};
  return { 'content-type': 'text/plain', ...edge, ...listener.headers };
}

function serve(listener: TargetListener, config: TargetConfig) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const from = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const rule = behaviour(config.behaviourFile).rules.find((r) => (r.listener === undefined || r.listener === listener.name) && (r.from === undefined || r.from === from));
    const own = headersOf(listener, from);
    req.resume();
    if (rule?.action === 'hang') return;
    if (rule?.action === 'reset') { req.socket.resetAndDestroy(); return; }
    if (rule) {
      res.writeHead(rule.action.status, { ...own, ...rule.action.headers }).end(rule.action.body ?? `status ${rule.action.status}`);
      return;
    }
    if (!listener.proxyTo) { res.writeHead(200, own).end('ok'); return; }
    const upstream = httpRequest({ host: listener.proxyTo.address, port: listener.proxyTo.port, path: req.url, method: req.method, headers: req.headers, timeout: 5_000 }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...own });
      answer.pipe(res);
    });
    upstream.on('timeout', () => upstream.destroy(new Error('origin timed out')));
    upstream.on('error', () => { if (!res.headersSent) res.writeHead(502, own).end('bad gateway'); else res.destroy(); });
    upstream.end();
  };
}

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: netns-target.ts <config.json>');
  const config = JSON.parse(readFileSync(file, 'utf8')) as TargetConfig;
  await Promise.all(config.listeners.map((listener) => new Promise<void>((resolve, reject) => {
    const server = createServer(serve(listener, config));
    server.once('error', reject);
    server.listen(listener.port, listener.address, () => resolve());
  })));
  process.stdout.write(`${JSON.stringify({ listening: config.listeners.map((l) => `${l.name} ${l.address}:${l.port}`) })}\n`);
  process.on('SIGTERM', () => process.exit(0));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().catch((error: unknown) => {
    process.stderr.write(`netns-target: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
