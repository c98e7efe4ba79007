/**
 * Connections through Redis Sentinel, for real: a primary, two replicas and three sentinels (Debian's
 * redis-server and redis-sentinel) with a password on the data nodes and the sentinels' own credentials,
 * reached with `connectRedis` and a target naming the sentinels. A failover (asked for, or the primary
 * killed) moves the connection to the new primary without the caller seeing an error; TLS works with
 * Sentinel; the sentinels' client user may discover the primary but not change a sentinel.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, connectionSettings, describeTarget, isRedisUnavailable, type RedisTarget } from '../../lib/redis.ts';
import { silentLogger } from '../../lib/log.ts';
import { startSentinelGroup, type SentinelGroup } from '../support/sentinel.ts';
import { makeTestCertificates } from '../support/tls-certs.ts';
import { waitUntil } from '../support/wait.ts';

const DATA_PASSWORD = 'data-nodes-password';
const sentinelAuth = { adminPassword: 'sentinel-admin-password', clientUser: 'lookout-client', clientPassword: 'sentinel-client-password' };

function targetOf(group: SentinelGroup, scheme: 'redis' | 'rediss' = 'redis', ca?: string): RedisTarget {
  return {
    url: `${scheme}://:${DATA_PASSWORD}@localhost:6379`,
    ...(ca ? { tls: { ca } } : {}),
    sentinel: {
      sentinels: group.sentinels.map((s) => ({ host: group.host, port: s.port })), masterName: group.masterName,
      username: sentinelAuth.clientUser, password: sentinelAuth.clientPassword,
    },
  };
}

/** The port of the node a connection is on, by its own account. */
async function connectedPort(redis: Redis, tls: boolean): Promise<number> {
  return Number(((await redis.config('GET', tls ? 'tls-port' : 'port')) as string[])[1]);
}

/**
 * Writes every 50 ms until stopped, or at most 2,000 times / for 120 s (more than the test's 60 s: stop()
 * ends it in practice); counts what failed (a caller would have seen it).
 */
function writeLoop(redis: Redis): { stop(): Promise<{ writes: number; failures: string[] }> } {
  let running = true;
  let attempts = 0;
  let writes = 0;
  const failures: string[] = [];
  const until = Date.now() + 120_000;
  const loop = (async () => {
    while (running && attempts++ < 2_000 && Date.now() < until) {
      try { await redis.incr('sentinel-test:counter'); writes++; } catch (error) { failures.push((error as Error).message); }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return { async stop() { running = false; await loop; return { writes, failures }; } };
}

describe('Redis through Sentinel', () => {
  let group: SentinelGroup;
  beforeAll(async () => { group = await startSentinelGroup({ password: DATA_PASSWORD, sentinelAuth }); }, 60_000);
  afterAll(async () => { await group?.stop(); });

  it('connects to the primary the sentinels name, and says where it is without the passwords', async () => {
    const target = targetOf(group);
    const redis = connectRedis(target, { name: 'sentinel-test', logger: silentLogger });
    try {
      await redis.set('sentinel-test:hello', 'world');
      expect(await redis.get('sentinel-test:hello')).toBe('world');
      expect(await connectedPort(redis, false)).toBe(await group.primaryPort());
      expect(((await redis.call('ROLE')) as string[])[0]).toBe('master');
      expect(describeTarget(target)).toBe(`primary "lookout" via sentinels ${group.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}`);
      expect(describeTarget(target)).not.toContain(sentinelAuth.clientPassword);
    } finally {
      redis.disconnect();
    }
  });

  it("the sentinels' client user discovers the primary but may not fail it over or reconfigure a sentinel", async () => {
    const client = new Redis({ host: group.host, port: group.sentinels[0]!.port, username: sentinelAuth.clientUser, password: sentinelAuth.clientPassword, enableReadyCheck: false, lazyConnect: true });
    client.on('error', () => {});
    try {
      await client.connect();
      expect(((await client.call('SENTINEL', 'get-master-addr-by-name', group.masterName)) as string[])[1]).toBe(String(await group.primaryPort()));
      const forbidden = [
        ['failover', group.masterName], ['set', group.masterName, 'down-after-milliseconds', '60000'], ['remove', group.masterName],
        ['reset', '*'], ['monitor', 'other', '127.0.0.1', '1', '1'], ['config', 'set', 'resolve-hostnames', 'no'],
      ];
      for (const command of forbidden) await expect(client.call('SENTINEL', ...command)).rejects.toThrow(/^NOPERM/);
      await expect(client.call('ACL', 'LIST')).rejects.toThrow(/^NOPERM/);
    } finally {
      client.disconnect();
    }
  });

  it('follows a failover asked of the sentinels: writes go on, and land on the new primary', async () => {
    const redis = connectRedis(targetOf(group), { name: 'sentinel-test-failover', logger: silentLogger, blocking: true });
    try {
      await redis.ping();
      const before = await group.primaryPort();
      const writes = writeLoop(redis);
      let written: { writes: number; failures: string[] };
      try {
        await group.failover();
        await waitUntil('a new primary', async () => (await group.primaryPort()) !== before, 30_000, 200);
        const after = await group.primaryPort();
        await waitUntil('the connection on the new primary', async () => (await connectedPort(redis, false)) === after, 30_000, 200);
      } finally {
        // Also when a wait above throws: the loop must not outlive the test.
        written = await writes.stop();
      }
      const { writes: done, failures } = written;
      // ioredis may fail a command caught in the switch (its failover detector closes a connect under way);
      // such a failure is one a caller retries, and the connection carries on.
      expect(failures.filter((message) => !isRedisUnavailable(new Error(message)))).toEqual([]);
      expect(done).toBeGreaterThan(0);
      await redis.incr('sentinel-test:counter');
      expect(((await redis.call('ROLE')) as string[])[0]).toBe('master');
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  it('follows the primary when it is killed, and restarts it as a replica of the new one', async () => {
    const redis = connectRedis(targetOf(group), { name: 'sentinel-test-kill', logger: silentLogger, blocking: true });
    try {
      await redis.ping();
      const before = await group.primaryPort();
      const victim = group.nodes.find((node) => node.port === before)!;
      await victim.kill('SIGKILL');
      // The write waits for the new primary (blocking connections queue commands while reconnecting), or
      // fails as "unavailable" if caught in the switch; either way the connection lands on the new primary.
      await waitUntil('a write after the kill', async () => (await redis.set('sentinel-test:after-kill', '1').catch((error: unknown) => {
        if (!isRedisUnavailable(error)) throw error;
        return null;
      })) === 'OK', 45_000, 200);
      const after = await group.primaryPort();
      expect(after).not.toBe(before);
      expect(await connectedPort(redis, false)).toBe(after);
      await victim.start();
      // A fresh connection per look: a node turned into a replica drops its clients.
      await waitUntil('the old primary to rejoin as a replica', async () => {
        const restarted = new Redis(group.nodeOptions(before));
        restarted.on('error', () => {});
        try {
          await restarted.connect();
          return ((await restarted.call('ROLE')) as string[])[0] === 'slave';
        } finally {
          restarted.disconnect();
        }
      }, 30_000, 200);
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  it('a command fails as "unavailable" when no sentinel answers, within the command timeout', async () => {
    const target: RedisTarget = { url: 'redis://localhost:6379', sentinel: { sentinels: [{ host: '127.0.0.1', port: 1 }], masterName: 'nowhere' } };
    const errors: Error[] = [];
    const redis = connectRedis(target, { name: 'sentinel-test-away', logger: silentLogger, commandTimeoutMs: 1_000 });
    redis.on('error', (error: Error) => errors.push(error));
    try {
      const failure = await redis.ping().then(() => null, (error: unknown) => error);
      expect(isRedisUnavailable(failure)).toBe(true);
      await waitUntil('the sentinels reported unreachable', () => errors.some((error) => isRedisUnavailable(error)));
    } finally {
      redis.disconnect();
    }
  });
});

describe('Sentinel and TLS together', () => {
  let group: SentinelGroup;
  let ca: string;
  beforeAll(async () => {
    const certs = makeTestCertificates();
    ca = certs.ca;
    group = await startSentinelGroup({ password: DATA_PASSWORD, sentinelAuth, replicas: 1, tls: { ca: certs.ca, ...certs.valid } });
  }, 60_000);
  afterAll(async () => { await group?.stop(); });

  it('reaches sentinels and the primary over TLS only, and follows a failover', async () => {
    const redis = connectRedis(targetOf(group, 'rediss', ca), { name: 'sentinel-tls-test', logger: silentLogger, blocking: true });
    try {
      await redis.set('sentinel-tls:hello', 'world');
      expect(await connectedPort(redis, true)).toBe(await group.primaryPort());
      const before = await group.primaryPort();
      await group.failover();
      await waitUntil('a new primary', async () => (await group.primaryPort()) !== before, 30_000, 200);
      await redis.set('sentinel-tls:after', '1');
      await waitUntil('the connection on the new primary', async () => (await connectedPort(redis, true)) === (await group.primaryPort()), 30_000, 200);
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  it('refuses a sentinel whose certificate its CA did not sign', async () => {
    const other = makeTestCertificates();
    const errors: Error[] = [];
    const redis = connectRedis(targetOf(group, 'rediss', other.ca), { name: 'sentinel-tls-wrong-ca', logger: silentLogger, commandTimeoutMs: 1_000 });
    redis.on('error', (error: Error) => errors.push(error));
    try {
      await expect(redis.ping()).rejects.toThrow('Command timed out');
      // ioredis words it as every sentinel unreachable (the TLS error itself is not passed on).
      await waitUntil('the sentinels reported unreachable', () => errors.some((error) => /^All sentinels are unreachable/.test(error.message)));
    } finally {
      redis.disconnect();
    }
  });
});

describe('READONLY', () => {
  it('a write refused by a demoted primary reconnects and is sent again; other errors are left alone', () => {
    const { reconnectOnError } = connectionSettings({ name: 'x' });
    const replyError = (message: string): Error => Object.assign(new Error(message), { name: 'ReplyError' });
    expect(reconnectOnError?.(replyError("READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnectOnError?.(replyError('NOPERM this user has no permissions'))).toBe(false);
    expect(reconnectOnError?.(new Error('READONLY but not a reply'))).toBe(false);
  });
});
