/**
 * The chaos suite's latency proxy as a process of its own, to run in the target's namespace:
 * `node test/support/chaos-proxy.ts <config.json>`, config
 * `{ "listen": { "address", "port" }, "upstream": { "address", "port" }, "delayFile": "…" }`. The delay file
 * holds the round trip to add, in milliseconds (absent or unreadable: 0); the suite rewrites it to hold runs
 * in flight when a fault strikes, and it is read again within 200 ms. The proxy itself is latency-proxy.ts
 * (half the round trip each way). Prints `{"listening":…}` once it listens.
 */
import { readFileSync, watchFile } from 'node:fs';
import { startLatencyProxy } from './latency-proxy.ts';

export interface ProxyConfig {
  listen: { address: string; port: number };
  upstream: { address: string; port: number };
  delayFile: string;
}

function roundTripMs(file: string): number {
  try {
    const value = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(value) && value >= 0 && value <= 60_000 ? value : 0;
  } catch {
    return 0;
  }
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ProxyConfig;
const proxy = await startLatencyProxy({
  listen: { host: config.listen.address, port: config.listen.port },
  target: { host: config.upstream.address, port: config.upstream.port },
  oneWayDelayMs: roundTripMs(config.delayFile) / 2,
  maxConnections: 1_024,
});
watchFile(config.delayFile, { interval: 200 }, () => proxy.setOneWayDelay(roundTripMs(config.delayFile) / 2));
process.stdout.write(`${JSON.stringify({ listening: config.listen })}\n`);
