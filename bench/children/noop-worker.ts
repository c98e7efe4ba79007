/**
 * The raw BullMQ limit: a Worker that does nothing with its jobs, with the options the coordinator's
 * ingest worker uses (concurrency, removeOnComplete). Prints `{"ready":true}` once connected; SIGTERM
 * closes it.
 *
 *   node bench/children/noop-worker.ts --redis <url> --prefix <p> --queue <name> --concurrency <n>
 */
import { parseArgs } from 'node:util';
import { Worker } from 'bullmq';

const { values } = parseArgs({ options: { redis: { type: 'string' }, prefix: { type: 'string' }, queue: { type: 'string' }, concurrency: { type: 'string' } } });
if (!values.redis || !values.prefix || !values.queue) throw new Error('--redis, --prefix and --queue are required');

const worker = new Worker(values.queue, async () => undefined, {
  connection: { url: values.redis, maxRetriesPerRequest: null },
  prefix: values.prefix,
  concurrency: Number(values.concurrency ?? 8),
  removeOnComplete: { count: 1_000 },
  removeOnFail: { count: 5_000 },
});
worker.on('error', (error) => process.stderr.write(`worker error: ${error.message}\n`));
await worker.waitUntilReady();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
process.on('SIGTERM', () => { void worker.close().finally(() => process.exit(0)); });
