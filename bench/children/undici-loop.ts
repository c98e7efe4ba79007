/**
 * The raw undici limit: what one Node process does when all it does is a fresh connection per request
 * (`new Client` + request + read the body + close), at a given concurrency. Prints one JSON line with
 * the loop's {@link LoadLoopResult}.
 *
 *   node bench/children/undici-loop.ts --url <url> --concurrency <n> --count <n> --duration-ms <ms>
 */
import { parseArgs } from 'node:util';
import { Client } from 'undici';
import { runLoadLoop } from '../lib/load-loop.ts';

const { values } = parseArgs({ options: { url: { type: 'string' }, concurrency: { type: 'string' }, count: { type: 'string' }, 'duration-ms': { type: 'string' } } });
if (!values.url || !URL.canParse(values.url)) throw new Error('--url: expected a URL');
const url = new URL(values.url);
const path = `${url.pathname}${url.search}`;

const result = await runLoadLoop({
  concurrency: Number(values.concurrency ?? 10),
  count: Number(values.count ?? 1000),
  durationMs: Number(values['duration-ms'] ?? 10_000),
  task: async () => {
    const client = new Client(url.origin, { pipelining: 1 });
    try {
      const response = await client.request({ path, method: 'GET' });
      await response.body.text();
      return response.statusCode >= 200 && response.statusCode < 400;
    } finally {
      await client.close();
    }
  },
});
process.stdout.write(`${JSON.stringify({ result })}\n`);
