/**
 * Load for blackbox_exporter: `GET <exporter>/probe?target=<url>&module=http_2xx` at a given
 * concurrency over kept-alive connections (so the loop itself costs little), counting a probe as
 * successful when the exporter answers `probe_success 1`. Prints one JSON line with the loop's result.
 *
 *   node bench/children/probe-loop.ts --exporter <url> --target <url> --concurrency <n> --count <n> --duration-ms <ms>
 */
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { runLoadLoop } from '../lib/load-loop.ts';

const { values } = parseArgs({ options: {
  exporter: { type: 'string' }, target: { type: 'string' }, concurrency: { type: 'string' }, count: { type: 'string' }, 'duration-ms': { type: 'string' },
} });
if (!values.exporter || !URL.canParse(values.exporter)) throw new Error('--exporter: expected a URL');
if (!values.target || !URL.canParse(values.target)) throw new Error('--target: expected a URL');
const concurrency = Number(values.concurrency ?? 10);
const pool = new Pool(values.exporter, { connections: concurrency, pipelining: 1 });
const path = `/probe?module=http_2xx&target=${encodeURIComponent(values.target)}`;

const result = await runLoadLoop({
  concurrency,
  count: Number(values.count ?? 1000),
  durationMs: Number(values['duration-ms'] ?? 10_000),
  task: async () => {
    const response = await pool.request({ path, method: 'GET' });
    const text = await response.body.text();
    return response.statusCode === 200 && /^probe_success 1$/m.test(text);
  },
});
await pool.close();
process.stdout.write(`${JSON.stringify({ result })}\n`);
