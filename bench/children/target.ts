/**
 * The probed target of the throughput and timing benchmarks, in a process of its own so that its CPU
 * is not the benchmark's or the agent's. Answers every request with 200 and a short body
 * (`/status/<code>` answers with that code). With `--tls <dir>` it serves HTTPS with `<dir>/key.pem`
 * and `<dir>/cert.pem`. Prints `{"listening":"<url>"}` once it accepts connections; SIGTERM stops it.
 *
 *   node bench/children/target.ts [--tls <dir>] [--host 127.0.0.1]
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { tls: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' } } });
const BODY = Buffer.from('{"status":"ok"}\n');

const handler = (req: IncomingMessage, res: ServerResponse): void => {
  req.resume();
  const match = /^\/status\/(\d{3})$/.exec(req.url ?? '');
  const status = match ? Number(match[1]) : 200;
  res.writeHead(status >= 100 && status <= 599 ? status : 200, { 'content-type': 'application/json', 'content-length': BODY.length });
  res.end(BODY);
};

const server = values.tls
  ? createHttpsServer({ key: readFileSync(join(values.tls, 'key.pem')), cert: readFileSync(join(values.tls, 'cert.pem')) }, handler)
  : createHttpServer(handler);
server.keepAliveTimeout = 5_000;
server.listen(0, values.host, () => {
  const address = server.address() as { port: number };
  const host = values.host!.includes(':') ? `[${values.host}]` : values.host;
  process.stdout.write(`${JSON.stringify({ listening: `${values.tls ? 'https' : 'http'}://${host}:${address.port}` })}\n`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
