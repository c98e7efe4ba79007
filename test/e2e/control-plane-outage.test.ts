/**
 * The control plane away, for real: a coordinator and an agent on a redis-server that is killed and
 * restarted from its AOF after longer than a heartbeat lives. Every heartbeat key expired meanwhile, and
 * the last results are older than the staleness window; yet the agent never stopped, so nothing about it
 * may be reported: no `probe.offline` (the coordinator judges liveness from when Redis came back), no
 * region going `no-data` on the coordinator's first look, no incident; the region reports again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { HEARTBEAT_TTL_MS } from '../../checks/contract.ts';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import type { AlertEvent } from '../../coordinator/events/events.ts';
import { agentConfig, restartableRedis, startTarget, testRunners, type RestartableRedis, type Target } from '../agent/support.ts';
import { httpCheck, memoryLogger, testConfig } from '../coordinator/support.ts';
import { freePort, uniquePrefix } from '../support/redis.ts';
import { waitUntil } from '../support/wait.ts';

const quiet = { info() {}, warn() {}, error() {}, debug() {}, child() { return quiet; } };

describe('after the control plane was away', () => {
  let dir: string;
  let redis: RestartableRedis;
  let target: Target;
  let coordinator: RunningCoordinator;
  let agent: RunningAgent;
  const events: AlertEvent[] = [];
  const { logger, lines } = memoryLogger();
  const prefix = uniquePrefix('away');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lookout-away-'));
    redis = restartableRedis(await freePort(), { dir });
    await redis.start();
    target = await startTarget();
    coordinator = await startCoordinator(testConfig(redis.url, prefix, { canaryIntervalMs: 1_000 }), {
      logger, deliver: async (event) => { events.push(event); },
    });
    agent = await startAgent(agentConfig(redis.url, { prefix, region: 'r1', agentId: 'away-agent' }), { runners: testRunners(), logger: quiet as never });
    await agent.ready;
  }, 30_000);

  afterAll(async () => {
    await agent?.stop();
    await coordinator?.stop();
    await target?.close();
    await redis?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  const status = async (): Promise<string | undefined> => {
    const body = await (await fetch(`${coordinator.url}/api/checks/away`)).json() as { regions?: Array<{ region: string; verdict: { status: string } }> };
    return body.regions?.find((r) => r.region === 'r1')?.verdict.status;
  };

  it('reports no agent offline, no silent region and no incident for an outage longer than a heartbeat lives', async () => {
    await coordinator.registry.applyDeployment([httpCheck('away', { url: `${target.url}ok`, regions: ['r1'], frequencyMs: 2_000, timeoutMs: 1_000 })], { prune: false });
    await coordinator.reconcile(true);
    await waitUntil('r1 up', async () => (await status()) === 'up', 20_000, 100);
    const before = lines.length;

    await redis.kill();
    // The outage itself: longer than a heartbeat key lives, and than the staleness window (2 × 2 s + 1 s).
    await delay(HEARTBEAT_TTL_MS + 2_000);
    await redis.start();

    await waitUntil('r1 reporting again', async () => {
      const body = await (await fetch(`${coordinator.url}/api/checks/away`)).json() as { regions?: Array<{ region: string; verdict: { lastResultAt: number | null } }> };
      return (body.regions?.[0]?.verdict.lastResultAt ?? 0) > Date.now() - 3_000;
    }, 20_000, 100);
    // Past the grace a coordinator gives after it is back: a missing heartbeat would count by now.
    await delay(HEARTBEAT_TTL_MS);

    expect(events.filter((event) => event.type === 'probe.offline')).toEqual([]);
    expect(events.filter((event) => event.type.startsWith('incident.'))).toEqual([]);
    const afterOutage = lines.slice(before);
    expect(afterOutage.filter((line) => line.msg === 'verdict.changed' && line.to === 'no-data')).toEqual([]);
    expect(afterOutage.some((line) => line.msg === 'redis.back')).toBe(true);
    expect(await status()).toBe('up');
  }, 60_000);
});
