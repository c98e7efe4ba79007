/**
 * Regions in Redis: their records (`regionRecordsKey`) and their ACL users. `lookout region` and the
 * coordinators use it; both need a Redis user that may run `ACL SETUSER / DELUSER / USERS` and
 * `CLIENT KILL` (the coordinators' or the default user). A coordinator applies every record's user at
 * start-up, periodically and after reconnecting ({@link RegionStore.applyUsers}), because Redis neither
 * replicates ACL users to replicas nor keeps them across a restart without an ACL file.
 */
import type { Redis } from 'ioredis';
import { RegionName } from '../../checks/definitions.ts';
import { knownRegionsKey, regionRecordsKey } from '../../checks/keys.ts';
import { CodedError } from '../../lib/errors.ts';
import { redisErrorCode } from '../../lib/redis.ts';
import { agentAclRules, newPassword, parseRegionRecord, regionUser, type RegionRecord } from './regions.ts';

export type RegionErrorCode = 'INVALID_REGION' | 'REGION_EXISTS' | 'REGION_UNKNOWN' | 'NO_ROTATION' | 'ACL_REFUSED';
export class RegionError extends CodedError<RegionErrorCode> {}

/** The replicas a primary lists in `INFO replication` (`slave0:ip=…,port=…,state=online,…`). */
export function replicasOf(info: string): Array<{ host: string; port: number }> {
  return [...info.matchAll(/^slave\d+:ip=([^,]+),port=(\d+)/gm)].map((m) => ({ host: m[1]!, port: Number(m[2]) }));
}

export class RegionStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #now: () => number;

  constructor(options: { redis: Redis; prefix: string; now?: () => number }) {
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#now = options.now ?? Date.now;
  }

  async list(): Promise<RegionRecord[]> {
    const all = await this.#redis.hgetall(regionRecordsKey(this.#prefix));
    return Object.values(all).map((raw) => parseRegionRecord(raw)).filter((r): r is RegionRecord => r !== null)
      .sort((a, b) => a.region.localeCompare(b.region));
  }

  async get(region: string): Promise<RegionRecord | null> {
    return parseRegionRecord(await this.#redis.hget(regionRecordsKey(this.#prefix), region));
  }

  /** Registers a region: its ACL user with a new random password, which is returned (and stored only hashed). */
  async add(region: string): Promise<{ record: RegionRecord; password: string }> {
    const parsed = RegionName.safeParse(region);
    if (!parsed.success) throw new RegionError('INVALID_REGION', `invalid region ${JSON.stringify(region.slice(0, 64))}: ${parsed.error.issues[0]?.message}`);
    const { password, hash } = newPassword();
    const now = this.#now();
    const record: RegionRecord = { region, user: regionUser(this.#prefix, region), passwordHashes: [hash], retiring: 0, createdAt: now, rotatedAt: null };
    // HSETNX: two operators adding the same region at once get one record and one error.
    if (!(await this.#redis.hsetnx(regionRecordsKey(this.#prefix), region, JSON.stringify(record)))) {
      throw new RegionError('REGION_EXISTS', `region ${region} is registered already; use lookout region rotate ${region} for new credentials`);
    }
    await this.#redis.sadd(knownRegionsKey(this.#prefix), region);
    await this.#setUser(record);
    return { record, password };
  }

  /**
   * Starts a rotation: a new password valid beside the old ones, so agents can move to it one by one;
   * {@link finishRotation} then retires the old ones.
   */
  async rotate(region: string): Promise<{ record: RegionRecord; password: string }> {
    const current = await this.#require(region);
    const { password, hash } = newPassword();
    const record: RegionRecord = { ...current, passwordHashes: [hash, ...current.passwordHashes], retiring: current.passwordHashes.length, rotatedAt: this.#now() };
    await this.#redis.hset(regionRecordsKey(this.#prefix), region, JSON.stringify(record));
    await this.#setUser(record);
    return { record, password };
  }

  /**
   * Retires the passwords of the rotation and disconnects the region's clients, so that those still on
   * an old password are refused when they reconnect (agents reconnect within seconds). Returns how many
   * connections were closed.
   */
  async finishRotation(region: string): Promise<{ record: RegionRecord; disconnected: number }> {
    const current = await this.#require(region);
    if (current.retiring === 0) throw new RegionError('NO_ROTATION', `region ${region} has no rotation to finish (start one with lookout region rotate ${region})`);
    const record: RegionRecord = { ...current, passwordHashes: current.passwordHashes.slice(0, current.passwordHashes.length - current.retiring), retiring: 0 };
    await this.#redis.hset(regionRecordsKey(this.#prefix), region, JSON.stringify(record));
    await this.#setUser(record);
    return { record, disconnected: await this.#killClients(record.user) };
  }

  /** Removes a region's credentials and disconnects its agents. Its queues go once no check uses the region. */
  async remove(region: string): Promise<{ disconnected: number }> {
    const record = await this.#require(region);
    await this.#redis.hdel(regionRecordsKey(this.#prefix), region);
    await this.#acl(() => this.#redis.call('ACL', 'DELUSER', record.user));
    return { disconnected: await this.#killClients(record.user) };
  }

  /**
   * Makes Redis' ACL users match the records: every region's user exactly as its record says, and no
   * user of this prefix's naming that has no record. Returns the users set and deleted.
   */
  async applyUsers(): Promise<{ applied: string[]; deleted: string[] }> {
    return this.#applyUsersOn(this.#redis, await this.list());
  }

  /**
   * The same, on the primary's replicas too (as `INFO replication` lists them, reached with this
   * connection's credentials and TLS through `connectTo`): a replica that a failover promotes then
   * already has every region's user, so agents log in at once instead of after a coordinator noticed
   * the new primary. Returns the replicas done; one that cannot be reached is skipped (the next run
   * tries again, and coordinators apply the users on the new primary when they reach it anyway).
   */
  async applyUsersToReplicas(connectTo: (host: string, port: number) => Redis): Promise<string[]> {
    const records = await this.list();
    const done: string[] = [];
    for (const { host, port } of replicasOf(await this.#redis.info('replication'))) {
      const replica = connectTo(host, port);
      try {
        await this.#applyUsersOn(replica, records);
        done.push(`${host}:${port}`);
      } catch {
        // Unreachable or refusing: retried at the next reconcile.
      } finally {
        replica.disconnect();
      }
    }
    return done;
  }

  async #applyUsersOn(redis: Redis, records: readonly RegionRecord[]): Promise<{ applied: string[]; deleted: string[] }> {
    for (const record of records) await this.#acl(() => redis.call('ACL', 'SETUSER', record.user, ...agentAclRules(this.#prefix, record)));
    const users = await this.#acl(() => redis.call('ACL', 'USERS')) as string[];
    const wanted = new Set(records.map((r) => r.user));
    const ours = regionUser(this.#prefix, '');
    const deleted = users.filter((user) => user.startsWith(ours) && !wanted.has(user));
    for (const user of deleted) await this.#acl(() => redis.call('ACL', 'DELUSER', user));
    return { applied: records.map((r) => r.user), deleted };
  }

  async #require(region: string): Promise<RegionRecord> {
    const record = await this.get(region);
    if (!record) throw new RegionError('REGION_UNKNOWN', `region ${JSON.stringify(region.slice(0, 64))} is not registered (see lookout region list)`);
    return record;
  }

  async #setUser(record: RegionRecord): Promise<void> {
    await this.#acl(() => this.#redis.call('ACL', 'SETUSER', record.user, ...agentAclRules(this.#prefix, record)));
  }

  async #killClients(user: string): Promise<number> {
    return Number(await this.#acl(() => this.#redis.call('CLIENT', 'KILL', 'USER', user)).catch(() => 0));
  }

  /** Runs an ACL/CLIENT command; a refusal (this Redis user may not manage users) becomes `ACL_REFUSED`. */
  async #acl<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      const code = redisErrorCode(error);
      if (code === 'NOPERM' || code === 'ERR') {
        throw new RegionError('ACL_REFUSED', `Redis refused to manage users (${(error as Error).message.split('\n')[0]}): use a Redis user that may run ACL SETUSER, ACL DELUSER, ACL USERS and CLIENT KILL`);
      }
      throw error;
    }
  }
}
