/**
 * Regions and their credentials, as pure functions. Each region has its own Redis ACL user whose rules
 * allow exactly the keys of that region (checks/keys.ts `regionKeyPatterns`) and the commands BullMQ's
 * worker and producer need, so a stolen agent credential costs at most its region's monitoring. Only
 * SHA-256 hashes of passwords are stored (in the region's record, in Redis); Redis' ACL takes them as
 * `#<hash>`, so a coordinator can re-create every region's user (after a restart without an ACL file, or
 * on a replica promoted by a failover, since Redis does not replicate ACL users) without ever knowing a
 * password.
 */
import { createHash, randomBytes } from 'node:crypto';
import { RegionName } from '../../checks/definitions.ts';
import { regionKeyPatterns } from '../../checks/keys.ts';

/** What the coordinators remember about a region (`regionRecordsKey`): never a password, only its hash. */
export interface RegionRecord {
  region: string;
  /** The region's Redis ACL user. */
  user: string;
  /** SHA-256 (hex) of every valid password: the current one first, then those retiring after a rotation. */
  passwordHashes: string[];
  /** How many of `passwordHashes` (from the end) belong to a rotation not yet finished. */
  retiring: number;
  createdAt: number;
  rotatedAt: number | null;
}

/** The ACL user of a region: per prefix, so two installations sharing one Redis never share a user. */
export const regionUser = (prefix: string, region: string): string => `${prefix.replace(/[{}]/g, '')}-agent-${region}`;

/** A new random password (256 bits, URL-safe) and its hash. */
export function newPassword(): { password: string; hash: string } {
  const password = randomBytes(32).toString('base64url');
  return { password, hash: passwordHash(password) };
}

export const passwordHash = (password: string): string => createHash('sha256').update(password).digest('hex');

/**
 * The commands an agent needs, found by running BullMQ's worker (consume, complete, stalled checks,
 * blocking fetch) and producer (add, addBulk) under this ACL and reading `ACL LOG`: data commands on
 * its keys (their Lua scripts' commands are checked against the same rules), scripts, INFO (BullMQ reads
 * the server version, the agent the eviction policy), TIME (lib/clock.ts), CLIENT SETNAME (connection
 * names), BZPOPMIN (the worker's blocking fetch) and transactions. Refused besides what `-@all` leaves
 * out: everything `@dangerous` (FLUSHALL, KEYS, CONFIG, MIGRATE, SORT, DEBUG, …), SCAN and RANDOMKEY (they
 * list key names across every pattern), FUNCTION (a library would outlive the agent), and every channel.
 */
export const AGENT_COMMAND_RULES: readonly string[] = [
  '-@all', '+@read', '+@write', '-@dangerous', '-scan', '-randomkey', '-function',
  '+eval', '+evalsha', '+script|load', '+script|exists', '+info', '+ping', '+time', '+client|setname',
  '+bzpopmin', '+multi', '+exec', '+discard', '+watch', '+unwatch',
];

/** `ACL SETUSER <user> …rules` that make a region's user exactly what it may be (idempotent). */
export function agentAclRules(prefix: string, record: Pick<RegionRecord, 'region' | 'passwordHashes'>): string[] {
  return [
    'reset', 'on', ...record.passwordHashes.map((hash) => `#${hash}`),
    'resetkeys', ...regionKeyPatterns(prefix, record.region).map((pattern) => `~${pattern}`),
    'resetchannels', ...AGENT_COMMAND_RULES,
  ];
}

export function parseRegionRecord(raw: string | null | undefined): RegionRecord | null {
  if (raw === null || raw === undefined) return null;
  try {
    const value = JSON.parse(raw) as Partial<RegionRecord>;
    const ok = typeof value.region === 'string' && RegionName.safeParse(value.region).success && typeof value.user === 'string'
      && Array.isArray(value.passwordHashes) && value.passwordHashes.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h))
      && Number.isInteger(value.retiring) && typeof value.createdAt === 'number';
    return ok ? { rotatedAt: null, ...value } as RegionRecord : null;
  } catch {
    return null;
  }
}
