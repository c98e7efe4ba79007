/**
 * Region users through Sentinel, for real: Redis keeps ACL users neither on replicas nor across a
 * failover, so coordinators put every region's user on the replicas too. A region's agent credential then
 * works on whichever node Sentinel promotes, at once, and still gets NOPERM outside its region there.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegionStore, replicasOf } from '../../../coordinator/regions/store.ts';
import { connectRedis, connectToNode, type RedisTarget } from '../../../lib/redis.ts';
import { silentLogger } from '../../../lib/log.ts';
import { registryKey } from '../../../checks/keys.ts';
import { startSentinelGroup, type SentinelGroup } from '../../support/sentinel.ts';
import { uniquePrefix } from '../../support/redis.ts';
import { waitUntil } from '../../support/wait.ts';

const PASSWORD = 'admin-password-of-the-data-nodes';
let group: SentinelGroup;
beforeAll(async () => { group = await startSentinelGroup({ password: PASSWORD, replicas: 1, sentinels: 3 }); }, 60_000);
afterAll(async () => { await group?.stop(); });

const target = (url: string): RedisTarget => ({
  url, sentinel: { sentinels: group.sentinels.map((s) => ({ host: group.host, port: s.port })), masterName: group.masterName },
});

describe('region users and Sentinel', () => {
  it('lists the replicas a primary reports', () => {
    expect(replicasOf('role:master\nconnected_slaves:2\nslave0:ip=10.0.0.6,port=6380,state=online,offset=1,lag=0\nslave1:ip=::1,port=6381,state=wait_bgsave,offset=0,lag=0\n'))
      .toEqual([{ host: '10.0.0.6', port: 6380 }, { host: '::1', port: 6381 }]);
    expect(replicasOf('role:slave\n')).toEqual([]);
  });

  it("a region's credential works on the primary Sentinel promotes, without waiting for a coordinator", async () => {
    const prefix = uniquePrefix('acl');
    const admin = connectRedis(target(`redis://:${PASSWORD}@localhost:6379`), { name: 'admin', logger: silentLogger, blocking: true });
    try {
      const regions = new RegionStore({ redis: admin, prefix });
      const { record, password } = await regions.add('eu-west');
      const done = await regions.applyUsersToReplicas((host, port) => connectToNode(target(`redis://:${PASSWORD}@localhost:6379`), { host, port }, 'test-replica'));
      expect(done).toHaveLength(1);

      const before = await group.primaryPort();
      await group.failover();
      await waitUntil('a new primary', async () => (await group.primaryPort()) !== before, 30_000, 200);
      const promoted = await group.primaryPort();
      // Straight to the promoted node, with the region's own credential: no coordinator has touched it since.
      const agent = new Redis({ host: group.host, port: promoted, username: record.user, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      agent.on('error', () => {});
      try {
        await agent.connect();
        expect(await agent.info('replication')).toMatch(/^role:master/m);
        await agent.set(`${prefix}:agents.eu-west:hb:a1`, 'beat');
        await expect(agent.hgetall(registryKey(prefix))).rejects.toThrow(/^NOPERM/);
        await expect(agent.set(`${prefix}:agents.us-east:hb:a1`, 'beat')).rejects.toThrow(/^NOPERM/);
      } finally {
        agent.disconnect();
      }
    } finally {
      admin.disconnect();
    }
  }, 60_000);
});
