/**
 * A user-space latency proxy (this kernel has no `netem`): a TCP proxy that holds every chunk coming back
 * from its upstream for a delay read from a file, so runs through it take that long and are in flight
 * when a fault strikes. Run it in a namespace: `node test/support/chaos-proxy.ts <config.json>`, config
 * `{ "listen": { "address", "port" }, "upstream": { "address", "port" }, "delayFile": "…" }`; the delay
 * file holds a number of milliseconds (absent or unreadable: 0) and is read again for each connection.
 * Prints `{"listening":…}` once it listens.
 */
import { createServer, connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';

export interface ProxyConfig {
  listen: { address: string; port: number };
  upstream: { address: string; port: number };
  delayFile: string;
}

function delayMs(file: string): number {
  try {
    const value = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(value) && value >= 0 && value <= 60_000 ? value : 0;
  } catch {
    return 0;
  }
}

export function startProxy(config: ProxyConfig): Promise<void> {
  const server = createServer((client: Socket) => {
    const delay = delayMs(config.delayFile);
    const upstream = connect(config.upstream.port, config.upstream.address);
    // Chunks back to the client keep their order: each waits for the one before it, then the delay.
    let last: Promise<void> = Promise.resolve();
    upstream.on('data', (chunk: Buffer) => {
      last = last.then(() => new Promise<void>((resolve) => setTimeout(() => { if (!client.destroyed) client.write(chunk); resolve(); }, delay)));
    });
    upstream.on('end', () => { void last.then(() => client.end()); });
    client.pipe(upstream);
    const close = (): void => { client.destroy(); upstream.destroy(); };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', () => upstream.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.address, () => resolve());
  });
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ProxyConfig;
  await startProxy(config);
  process.stdout.write(`${JSON.stringify({ listening: config.listen })}\n`);
}
