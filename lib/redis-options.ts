/**
 * The options every Lookout process takes to reach Redis (agents, coordinators, `lookout token`,
 * `lookout region`), declared once: spread {@link redisOptions} into a command's option table, then turn
 * the values into a {@link RedisTarget} with {@link redisTargetOf}.
 *
 * With Sentinel (`--redis-sentinels` and `--redis-master-name`), the `--redis` URL still gives the scheme
 * (`rediss://`: TLS to sentinels and data nodes), the data nodes' user and password, the database, and the
 * host name certificates are checked against; the sentinels say where the primary is.
 */
import { DEFAULT_PREFIX } from '../checks/keys.ts';
import { accept, keyPrefix, nonEmpty, redisUrl, refuse, value, type Parser } from './options.ts';
import { readTlsFiles, type RedisTarget, type SentinelAddress } from './redis.ts';

/** At most this many sentinels (a deployment has 3 or 5). */
export const MAX_SENTINELS = 16;

/** `host:port,host:port` (IPv6 as `[::1]:26379`; port 26379 when left out). */
export const sentinelList: Parser<SentinelAddress[]> = (text) => {
  const parts = text.split(',').map((part) => part.trim()).filter(Boolean);
  if (parts.length === 0) return refuse('expected host:port of at least one sentinel');
  if (parts.length > MAX_SENTINELS) return refuse(`expected at most ${MAX_SENTINELS} sentinels`);
  const sentinels: SentinelAddress[] = [];
  for (const part of parts) {
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]{1,253}))(?::(\d{1,5}))?$/.exec(part);
    const port = match?.[3] === undefined ? 26_379 : Number(match[3]);
    if (!match || port < 1 || port > 65_535) return refuse(`expected host:port for each sentinel (e.g. 10.0.0.5:26379), "${part.slice(0, 80)}" is not`);
    sentinels.push({ host: match[1] ?? match[2]!, port });
  }
  return accept(sentinels);
};

/** A Sentinel primary name: what `sentinel monitor <name>` set (letters, digits, `.`, `_`, `-`). */
const masterName: Parser<string> = (text) => (/^[A-Za-z0-9._-]{1,128}$/.test(text) ? accept(text) : refuse('expected 1-128 chars of letters, digits, ".", "_", "-"'));

export const redisOptions = {
  redisUrl: value({
    flag: '--redis', env: ['LOOKOUT_REDIS_URL', 'REDIS_URL'], placeholder: '<url>', default: 'redis://127.0.0.1:6379',
    help: 'Redis URL: redis://[user:password@]host:port, or rediss:// for TLS (with sentinels: scheme, credentials and TLS name only)', parse: redisUrl,
  }),
  redisCa: value({ flag: '--redis-ca', env: ['LOOKOUT_REDIS_CA'], placeholder: '<file>', optional: true, help: 'PEM file of the CA that signed the Redis server certificate (rediss://)', parse: nonEmpty('a file') }),
  redisCert: value({ flag: '--redis-cert', env: ['LOOKOUT_REDIS_CERT'], placeholder: '<file>', optional: true, help: 'PEM client certificate for Redis TLS, when the server asks for one', parse: nonEmpty('a file') }),
  redisKey: value({ flag: '--redis-key', env: ['LOOKOUT_REDIS_KEY'], placeholder: '<file>', optional: true, help: 'PEM private key of --redis-cert', parse: nonEmpty('a file') }),
  redisSentinels: value({
    flag: '--redis-sentinels', env: ['LOOKOUT_REDIS_SENTINELS'], placeholder: '<host:port,…>', optional: true, parse: sentinelList,
    help: 'Reach Redis through Sentinel: the sentinels (with --redis-master-name)',
  }),
  redisMasterName: value({
    flag: '--redis-master-name', env: ['LOOKOUT_REDIS_MASTER_NAME'], placeholder: '<name>', optional: true, parse: masterName,
    help: 'The primary\'s name in the sentinels\' configuration (with --redis-sentinels)',
  }),
  redisSentinelUser: value({
    flag: '--redis-sentinel-user', env: ['LOOKOUT_REDIS_SENTINEL_USER'], placeholder: '<user>', optional: true, parse: nonEmpty('a user name'),
    help: 'The sentinels\' own user, when they have ACL users (else their default user)',
  }),
  redisSentinelPassword: value({
    flag: '--redis-sentinel-password', env: ['LOOKOUT_REDIS_SENTINEL_PASSWORD'], placeholder: '<password>', optional: true, secret: true, parse: nonEmpty('a password'),
    help: 'The sentinels\' own password (their requirepass, or the user\'s), apart from the data nodes\'',
  }),
  prefix: value({ flag: '--prefix', env: ['LOOKOUT_PREFIX'], placeholder: '<name>', default: DEFAULT_PREFIX, help: 'Key prefix shared by the agents and coordinators of one installation', parse: keyPrefix }),
};

export interface RedisOptionValues {
  redisUrl: string;
  redisCa?: string | undefined;
  redisCert?: string | undefined;
  redisKey?: string | undefined;
  /**
   * The Sentinels that say where the primary is (`host:port,…`, port 26379 when left out); every
   * connection follows a failover through them. Flag `--redis-sentinels`, env `LOOKOUT_REDIS_SENTINELS`.
   * @defaultValue none (connect to the `--redis` URL's host)
   */
  redisSentinels?: SentinelAddress[] | undefined;
  /**
   * The primary's name in the Sentinels (`sentinel monitor <name>`); required with `redisSentinels`. Flag
   * `--redis-master-name`, env `LOOKOUT_REDIS_MASTER_NAME`. @defaultValue none
   */
  redisMasterName?: string | undefined;
  /**
   * The Sentinels' own user, when they have credentials apart from the data nodes'. Flag
   * `--redis-sentinel-user`, env `LOOKOUT_REDIS_SENTINEL_USER`. @defaultValue none
   */
  redisSentinelUser?: string | undefined;
  /** The Sentinels' own password. Flag `--redis-sentinel-password`, env `LOOKOUT_REDIS_SENTINEL_PASSWORD`. @defaultValue none */
  redisSentinelPassword?: string | undefined;
}

/** The Sentinel options of a process's configuration (documented on {@link RedisOptionValues}). */
export type SentinelOptionValues = Pick<RedisOptionValues, 'redisSentinels' | 'redisMasterName' | 'redisSentinelUser' | 'redisSentinelPassword'>;

/**
 * Problems of the combination (each option is valid alone): a certificate without its key, TLS files
 * without rediss://, sentinels without the primary's name (or the reverse), sentinel credentials without sentinels.
 */
export function redisOptionProblems(values: RedisOptionValues): string[] {
  const problems: string[] = [];
  if ((values.redisCert === undefined) !== (values.redisKey === undefined)) problems.push('--redis-cert and --redis-key go together');
  const tls = values.redisCa !== undefined || values.redisCert !== undefined;
  if (tls && !values.redisUrl.startsWith('rediss://')) problems.push('--redis-ca / --redis-cert need a rediss:// URL (TLS)');
  if ((values.redisSentinels === undefined) !== (values.redisMasterName === undefined)) problems.push('--redis-sentinels and --redis-master-name go together');
  const sentinelAuth = values.redisSentinelUser !== undefined || values.redisSentinelPassword !== undefined;
  if (sentinelAuth && values.redisSentinels === undefined) problems.push('--redis-sentinel-user / --redis-sentinel-password need --redis-sentinels');
  if (values.redisSentinelUser !== undefined && values.redisSentinelPassword === undefined) problems.push('--redis-sentinel-user needs --redis-sentinel-password');
  return problems;
}

/** The target the values describe; reads the TLS files (throws `REDIS_TLS_FILE` naming the file). */
export function redisTargetOf(values: RedisOptionValues): RedisTarget {
  const tls = readTlsFiles({ ca: values.redisCa, cert: values.redisCert, key: values.redisKey });
  const sentinel = values.redisSentinels && values.redisMasterName
    ? {
      sentinels: values.redisSentinels, masterName: values.redisMasterName,
      ...(values.redisSentinelUser ? { username: values.redisSentinelUser } : {}),
      ...(values.redisSentinelPassword ? { password: values.redisSentinelPassword } : {}),
    }
    : undefined;
  return { url: values.redisUrl, ...(tls ? { tls } : {}), ...(sentinel ? { sentinel } : {}) };
}
