/**
 * The raw BullMQ scheduling limit on a given Redis: `count` job schedulers (`every` ms) on a queue of
 * their own and a Worker doing nothing, for `window` ms; prints the run-start lateness (start − slot,
 * the slot read from the scheduler job's id) as one JSON line `{"lateness":[...]}`.
 *
 *   node bench/children/scheduler-baseline.ts --redis <url> --prefix <p> --count <n> --every <ms> --window <ms>
 */
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';

const { values } = parseArgs({ options: {
  redis: { type: 'string' }, prefix: { type: 'string' }, count: { type: 'string' }, every: { type: 'string' }, window: { type: 'string' },
} });
if (!values.redis || !values.prefix) throw new Error('--redis and --prefix are required');
const connection = { url: values.redis, maxRetriesPerRequest: null };
const every = Number(values.every ?? 2_000);
const queue = new Queue('baseline', { connection, prefix: values.prefix });
const lateness: number[] = [];
const worker = new Worker('baseline', async (job) => {
  const slot = Number(job.id?.slice(job.id.lastIndexOf(':') + 1));
  if (Number.isFinite(slot)) lateness.push(Date.now() - slot);
}, { connection, prefix: values.prefix, concurrency: 10, removeOnComplete: { count: 100 } });
await worker.waitUntilReady();
// Spread over the interval, as a fleet's schedulers would be, so the baseline is not a burst.
const count = Number(values.count ?? 100);
for (let i = 0; i < count; i++) {
  await queue.upsertJobScheduler(`baseline-${i}`, { every, offset: Math.floor((i * every) / count) + 1 }, { name: 'baseline', data: {} });
}
await new Promise((resolve) => setTimeout(resolve, Number(values.window ?? 5_000)));
await worker.close();
await queue.obliterate({ force: true }).catch(() => {});
await queue.close();
process.stdout.write(`${JSON.stringify({ lateness })}\n`);
