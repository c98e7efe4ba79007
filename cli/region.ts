/**
 * `lookout region add|list|rotate|remove`: each region's own Redis credentials, managed directly in Redis
 * with the coordinators' Redis URL (a user that may manage ACL users). `add` and `rotate` print what an
 * agent of the region needs as environment lines on standard output (the password is shown only then;
 * Redis keeps its SHA-256), so `lookout region add eu-west > eu-west.env` is an agent's configuration.
 */
import type { Redis } from 'ioredis';
import { LOOKOUT_VERSION } from '../lib/version.ts';
import { CodedError } from '../lib/errors.ts';
import { connectRedis, describeTarget, targetOptions, type RedisTarget } from '../lib/redis.ts';
import { optionsHelp, parseOptions, redisUrl, toggle, value, type OptionTable } from '../lib/options.ts';
import { redisOptionProblems, redisOptions, redisTargetOf } from '../lib/redis-options.ts';
import { silentLogger } from '../lib/log.ts';
import { RegionStore } from '../coordinator/regions/store.ts';
import { loadJobSigner } from '../coordinator/scheduling/signing-key.ts';
import type { RegionRecord } from '../coordinator/regions/regions.ts';
import { agentIndexKey, heartbeatKey } from '../checks/keys.ts';

export const REGION_OPTIONS = {
  ...redisOptions,
  agentRedisUrl: value({
    flag: '--agent-redis-url', env: ['LOOKOUT_AGENT_REDIS_URL'], placeholder: '<url>', optional: true, parse: redisUrl,
    help: 'add/rotate: the Redis address agents use (scheme, host, port), when it differs from --redis', defaultText: 'the host of --redis',
  }),
  finish: toggle({ flag: '--finish', help: 'rotate: retire the old passwords and disconnect the clients still using them' }),
} satisfies OptionTable;

export const regionHelp = [
  'Usage: lookout region add <region> [options]        register a region; prints its agents\' settings',
  '       lookout region list [options]                the regions, their users and live agents',
  '       lookout region rotate <region> [options]     a new password beside the old one; prints the settings',
  '       lookout region rotate <region> --finish      retire the old password, disconnect clients using it',
  '       lookout region remove <region> [options]     delete the region\'s credentials, disconnect its agents',
  '',
  'Each region has its own Redis user, allowed only its region\'s queues and keys, so a stolen agent',
  'credential costs at most that region. Run these with the coordinators\' Redis URL (a user that may',
  'manage ACL users). The settings go to standard output as environment lines:',
  '',
  '  lookout region add eu-west --redis rediss://admin:…@redis.internal:6380 > eu-west.env',
  '  docker run -d --name lookout-agent-eu-west --restart unless-stopped --env-file eu-west.env \\',
  '    -v lookout-spool-eu-west:/var/lib/lookout lookout agent',
  '',
  'Options:',
  ...optionsHelp(REGION_OPTIONS, 26),
  '',
].join('\n');

export async function regionCommand(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const parsed = parseOptions(REGION_OPTIONS, argv, env, { positionals: true });
  const usage = (message: string): number => { err.write(`lookout region: ${message}\n\n${regionHelp}`); return 2; };
  if ('help' in parsed) { out.write(regionHelp); return 0; }
  if ('errors' in parsed) return usage(parsed.errors.join('\nlookout region: '));
  const v = parsed.values;
  const problems = redisOptionProblems(v);
  if (problems.length > 0) return usage(problems.join('\nlookout region: '));
  const [action, ...rest] = parsed.positionals;
  const needsRegion = action === 'add' || action === 'rotate' || action === 'remove';
  if (action !== 'list' && !needsRegion) return usage(action === undefined ? 'expected add, list, rotate or remove' : `unknown action "${action}"; expected add, list, rotate or remove`);
  if (needsRegion && rest.length !== 1) return usage(`${action} takes exactly one region`);
  if (!needsRegion && rest.length > 0) return usage(`list takes no arguments, got ${rest.join(' ')}`);
  if (v.finish && action !== 'rotate') return usage('--finish goes with rotate');

  let target: RedisTarget;
  try {
    target = redisTargetOf(v);
  } catch (error) {
    err.write(`lookout region: ${(error as Error).message}\n`);
    return 2;
  }
  const redis = connectRedis(target, { name: 'lookout-cli-region', logger: silentLogger });
  try {
    try {
      await redis.ping();
    } catch (error) {
      err.write(`lookout region: cannot reach Redis at ${describeTarget(target)}: ${(error as Error).message}\n`);
      return 1;
    }
    const regions = new RegionStore({ redis, prefix: v.prefix });
    const region = rest[0]!;
    if (action === 'list') {
      await list(regions, redis, v.prefix, out);
    } else if (action === 'add' || (action === 'rotate' && !v.finish)) {
      const { record, password } = action === 'add' ? await regions.add(region) : await regions.rotate(region);
      const signer = await loadJobSigner(redis, v.prefix);
      err.write(action === 'add'
        ? `Registered region ${region} (Redis user ${record.user}). Its agents' settings follow; the password is shown only now.\n`
        : `New password for region ${region}; the old one stays valid until: lookout region rotate ${region} --finish\n`);
      for (const line of envLines({ region, user: record.user, password, target, agentUrl: v.agentRedisUrl, prefix: v.prefix, publicKey: signer.publicKey })) out.write(`${line}\n`);
      err.write(`Saved as ${region}.env (the lines above), start an agent of the region with the Lookout image (README: Deploy):\n  ${dockerRunLine(region, targetOptions(target).tls !== undefined)}\n`);
    } else if (action === 'rotate') {
      const { disconnected } = await regions.finishRotation(region);
      out.write(`Region ${region}: old password retired; ${disconnected} connection(s) closed (agents on the new password reconnect at once).\n`);
    } else {
      const { disconnected } = await regions.remove(region);
      out.write(`Region ${region} removed; ${disconnected} connection(s) closed. Its queues go once no check uses the region.\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof CodedError) { err.write(`lookout region: ${error.code}: ${error.message}\n`); return 1; }
    err.write(`lookout region: ${(error as Error).message}\n`);
    return 1;
  } finally {
    redis.disconnect();
  }
}

/**
 * The `docker run` line that starts an agent of the region from the settings `add` printed, saved as
 * `<region>.env`, with a volume of its own for the results that wait while Redis is away; with TLS, the CA
 * file is mounted beside them.
 */
export function dockerRunLine(region: string, tls: boolean): string {
  return [
    'docker run -d', `--name lookout-agent-${region}`, '--restart unless-stopped', `--env-file ${region}.env`,
    `-v lookout-spool-${region}:/var/lib/lookout`,
    ...(tls ? ['-v "$PWD/ca.pem:/etc/lookout/ca.pem:ro"', '-e LOOKOUT_REDIS_CA=/etc/lookout/ca.pem'] : []),
    'lookout agent',
  ].join(' ');
}

/** The environment lines an agent of the region runs with. */
export function envLines(input: {
  region: string; user: string; password: string; target: RedisTarget; agentUrl: string | undefined; prefix: string; publicKey: string;
}): string[] {
  const base = new URL(input.agentUrl ?? input.target.url);
  const url = new URL(`${base.protocol}//${base.host}${base.pathname === '/' ? '' : base.pathname}`);
  url.username = encodeURIComponent(input.user);
  url.password = encodeURIComponent(input.password);
  return [
    `LOOKOUT_REGION=${input.region}`,
    `LOOKOUT_REDIS_URL=${url.toString()}`,
    ...(input.prefix !== 'lookout' ? [`LOOKOUT_PREFIX=${input.prefix}`] : []),
    `LOOKOUT_JOB_PUBLIC_KEY=${input.publicKey}`,
    ...sentinelLines(input.target),
    ...(targetOptions(input.target).tls ? ['# TLS: also give the agent the CA file, LOOKOUT_REDIS_CA=/path/to/ca.pem'] : []),
    `# lookout ${LOOKOUT_VERSION}`,
  ];
}

/**
 * Through Sentinel, agents find the primary as every process does. The sentinels' credential is not
 * printed: agents get the sentinels' client user (discovery only), never the one this command may run with.
 */
function sentinelLines(target: RedisTarget): string[] {
  if (!target.sentinel) return [];
  const { sentinels, masterName, username, password } = target.sentinel;
  return [
    `LOOKOUT_REDIS_SENTINELS=${sentinels.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(',')}`,
    `LOOKOUT_REDIS_MASTER_NAME=${masterName}`,
    ...(username || password
      ? ["# Sentinel: also give the agent the sentinels' client user (LOOKOUT_REDIS_SENTINEL_USER, LOOKOUT_REDIS_SENTINEL_PASSWORD): it may only find the primary"]
      : []),
  ];
}

async function list(regions: RegionStore, redis: Redis, prefix: string, out: NodeJS.WritableStream): Promise<void> {
  const records = await regions.list();
  if (records.length === 0) {
    out.write('No regions. Register one with: lookout region add <region>\n');
    return;
  }
  for (const record of records) out.write(`${describe(record)}  ${await liveAgents(redis, prefix, record.region)} live agent(s)\n`);
}

const describe = (r: RegionRecord): string =>
  `${r.region.padEnd(16)} user ${r.user.padEnd(28)} ${r.retiring > 0 ? `rotating (${r.retiring} old password(s) still valid)` : 'one password'.padEnd(36)}`;

async function liveAgents(redis: Redis, prefix: string, region: string): Promise<number> {
  const ids = await redis.smembers(agentIndexKey(prefix, region));
  if (ids.length === 0) return 0;
  const beats = await redis.mget(ids.map((id) => heartbeatKey(prefix, region, id)));
  return beats.filter((b) => b !== null).length;
}

