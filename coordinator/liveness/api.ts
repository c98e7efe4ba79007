/**
 * HTTP route for liveness (in the route table, http/routes.ts):
 *
 * GET /api/agents   agents grouped by region (online/offline, last seen, version, runs in flight), with
 *                   each region's canary status (last answer, stalled or not)
 */
import type { Redis } from 'ioredis';
import { sendJson } from '../http/json.ts';
import { read, type Route } from '../http/route.ts';
import { knownRegions, readAgents } from './agent-store.ts';
import { readCanaryStatus } from './canary-store.ts';

export function livenessRoutes(deps: { redis: Redis; prefix: string }): Route[] {
  return [{ pattern: /^\/api\/agents$/, methods: { GET: read(async (_req, res) => sendJson(res, 200, await listAgents(deps))) } }];
}

async function listAgents(deps: { redis: Redis; prefix: string }) {
  const byRegion = new Map<string, unknown[]>();
  for (const { region, agentId, heartbeat, stored } of await readAgents(deps.redis, deps.prefix, await knownRegions(deps.redis, deps.prefix))) {
    const known = heartbeat ?? stored?.heartbeat ?? null;
    const list = byRegion.get(region) ?? [];
    list.push({
      agentId, region, status: heartbeat ? 'online' : 'offline',
      lastSeenAt: heartbeat?.sentAt ?? stored?.lastSeenAt ?? null,
      version: known?.version ?? null, hostname: known?.hostname ?? null, pid: known?.pid ?? null,
      inFlight: heartbeat ? heartbeat.inFlight : 0, concurrency: known?.concurrency ?? null,
      capabilities: known?.capabilities ?? [], startedAt: known?.startedAt ?? null,
    });
    byRegion.set(region, list);
  }
  const canaries = await readCanaryStatus(deps.redis, deps.prefix, [...byRegion.keys()]);
  return {
    regions: [...byRegion.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([region, agents]) => ({
      region,
      online: agents.filter((a) => (a as { status: string }).status === 'online').length,
      offline: agents.filter((a) => (a as { status: string }).status === 'offline').length,
      // Last canary answer and whether the region is stalled (agents heartbeat but consume nothing).
      canary: canaries.get(region)!,
      agents,
    })),
  };
}
