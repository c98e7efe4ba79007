/**
 * An agent restarted while Redis is away keeps its results: the result of a run that ended during the
 * outage is written to the disk spool, the agent is stopped (as a deploy or a reboot would) and started
 * again on the same folder while Redis is still away, and when Redis returns the new process sends it.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { checkQueueName, resultsQueueName } from '../../../checks/keys.ts';
import { startAgent } from '../../../agent/agent.ts';
import { freePort } from '../../support/redis.ts';
import { waitUntil } from '../../support/wait.ts';
import {
  agentConfig, httpJob, memoryLog, resultFor, restartableRedis, startTarget, testRunners, type RestartableRedis, type Target,
} from '../support.ts';

let redis: RestartableRedis;
let target: Target;
let dir: string;

beforeAll(async () => {
  redis = restartableRedis(await freePort());
  await redis.start();
  target = await startTarget();
  dir = mkdtempSync(join(tmpdir(), 'lookout-restart-spool-'));
});
afterAll(async () => {
  await target?.close();
  await redis?.kill();
  rmSync(dir, { recursive: true, force: true });
});

const spooled = async (agent: { metrics: { resultsSpooled: { get(): Promise<{ values: Array<{ value: number }> }> } } }): Promise<number> =>
  (await agent.metrics.resultsSpooled.get()).values[0]?.value ?? 0;

describe('an agent restarted while Redis is away', () => {
  it('sends, from its new process, the results its old one spooled to disk', async () => {
    const spoolDir = join(dir, 'r1');
    const config = agentConfig(redis.url, { spoolDir, shutdownTimeoutMs: 2_000 });
    const first = memoryLog();
    const before = await startAgent(config, { runners: testRunners(), logger: first.logger });
    const connection = { url: redis.url };
    const checks = new Queue(checkQueueName('r1'), { connection, prefix: config.prefix });
    await before.ready;
    await checks.add('run', httpJob('r1', `${target.url}slow/500`, { id: 'ran-during-outage' }));
    await waitUntil('the run to start', () => before.inFlight() > 0, 3_000);
    await checks.close();
    await redis.kill();
    await waitUntil('the result on disk', async () => (await spooled(before)) === 1, 5_000);
    await before.stop();
    expect(first.lines.find((line) => line.msg === 'spool.kept')).toMatchObject({ unsent: 1 });
    expect(readdirSync(spoolDir).filter((name) => name.endsWith('.jsonl'))).toHaveLength(1);

    // The new process, on the same folder, while Redis is still away.
    const second = memoryLog();
    const after = await startAgent(config, { runners: testRunners(), logger: second.logger });
    try {
      expect(await spooled(after)).toBe(1);
      expect(second.lines.find((line) => line.msg === 'spool.found')).toMatchObject({ results: 1 });
      await redis.start();
      await after.ready;
      const results = new Queue(resultsQueueName('r1'), { connection, prefix: config.prefix });
      try {
        const { result } = await resultFor(results, 'ran-during-outage', 10_000);
        expect(result).toMatchObject({ outcome: 'pass', agentId: config.agentId });
        await waitUntil('the spool emptied', async () => (await spooled(after)) === 0, 5_000);
        expect(readdirSync(spoolDir).filter((name) => name.endsWith('.jsonl'))).toEqual([]);
      } finally {
        await results.close();
      }
    } finally {
      await after.stop();
    }
    // Nothing was dropped on the way.
    expect(first.lines.concat(second.lines).filter((line) => line.msg === 'spool.dropped')).toEqual([]);
  }, 40_000);
});
