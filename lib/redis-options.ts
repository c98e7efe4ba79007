/**
 * The options every Lookout process takes to reach Redis (agents, coordinators, `lookout token`,
 * `lookout region`), declared once: spread {@link redisOptions} into a command's option table, then turn
 * the values into a {@link RedisTarget} with {@link redisTargetOf}.
 */
import { DEFAULT_PREFIX } from '../checks/keys.ts';
import { keyPrefix, nonEmpty, redisUrl, value } from './options.ts';
import { readTlsFiles, type RedisTarget } from './redis.ts';

export const redisOptions = {
  redisUrl: value({
    flag: '--redis', env: ['LOOKOUT_REDIS_URL', 'REDIS_URL'], placeholder: '<url>', default: 'redis://127.0.0.1:6379',
    help: 'Redis URL: redis://[user:password@]host:port, or rediss:// for TLS', parse: redisUrl,
  }),
  redisCa: value({ flag: '--redis-ca', env: ['LOOKOUT_REDIS_CA'], placeholder: '<file>', optional: true, help: 'PEM file of the CA that signed the Redis server certificate (rediss://)', parse: nonEmpty('a file') }),
  redisCert: value({ flag: '--redis-cert', env: ['LOOKOUT_REDIS_CERT'], placeholder: '<file>', optional: true, help: 'PEM client certificate for Redis TLS, when the server asks for one', parse: nonEmpty('a file') }),
  redisKey: value({ flag: '--redis-key', env: ['LOOKOUT_REDIS_KEY'], placeholder: '<file>', optional: true, help: 'PEM private key of --redis-cert', parse: nonEmpty('a file') }),
  prefix: value({ flag: '--prefix', env: ['LOOKOUT_PREFIX'], placeholder: '<name>', default: DEFAULT_PREFIX, help: 'Key prefix shared by the agents and coordinators of one installation', parse: keyPrefix }),
};

export interface RedisOptionValues {
  redisUrl: string;
  redisCa?: string | undefined;
  redisCert?: string | undefined;
  redisKey?: string | undefined;
}

/** Problems of the combination (each option is valid alone): a certificate without its key, TLS files without rediss://. */
export function redisOptionProblems(values: RedisOptionValues): string[] {
  const problems: string[] = [];
  if ((values.redisCert === undefined) !== (values.redisKey === undefined)) problems.push('--redis-cert and --redis-key go together');
  const tls = values.redisCa !== undefined || values.redisCert !== undefined;
  if (tls && !values.redisUrl.startsWith('rediss://')) problems.push('--redis-ca / --redis-cert need a rediss:// URL (TLS)');
  return problems;
}

/** The target the values describe; reads the TLS files (throws `REDIS_TLS_FILE` naming the file). */
export function redisTargetOf(values: RedisOptionValues): RedisTarget {
  const tls = readTlsFiles({ ca: values.redisCa, cert: values.redisCert, key: values.redisKey });
  return { url: values.redisUrl, ...(tls ? { tls } : {}) };
}
