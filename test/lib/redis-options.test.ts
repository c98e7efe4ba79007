/**
 * The Redis options every process shares (lib/redis-options.ts), Sentinel in particular: the flags and
 * their environment variables, every problem of a combination, the target they make (and its ioredis
 * options), and the agent settings `lookout region add` prints for a Sentinel deployment.
 */
import { describe, expect, it } from 'vitest';
import { parseOptions } from '../../lib/options.ts';
import { redisOptionProblems, redisOptions, redisTargetOf, sentinelList } from '../../lib/redis-options.ts';
import { connectionSettings, targetOptions } from '../../lib/redis.ts';
import { parseAgentConfig } from '../../agent/config.ts';
import { parseCoordinatorConfig } from '../../coordinator/config.ts';
import { envLines } from '../../cli/region.ts';

const KEY = 'MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=';

describe('sentinel addresses', () => {
  const cases: Array<[string, unknown]> = [
    ['10.0.0.5:26379', [{ host: '10.0.0.5', port: 26_379 }]],
    ['a:1, b:2 ,c', [{ host: 'a', port: 1 }, { host: 'b', port: 2 }, { host: 'c', port: 26_379 }]],
    ['[::1]:26380,[fd00::2]', [{ host: '::1', port: 26_380 }, { host: 'fd00::2', port: 26_379 }]],
    ['sentinel-0.sentinel.lookout.svc:26379', [{ host: 'sentinel-0.sentinel.lookout.svc', port: 26_379 }]],
  ];
  it.each(cases)('%s', (text, expected) => {
    expect(sentinelList(text)).toEqual({ ok: true, value: expected });
  });
  it.each([
    ['', 'expected host:port of at least one sentinel'],
    ['a:0', 'expected host:port for each sentinel (e.g. 10.0.0.5:26379), "a:0" is not'],
    ['a:70000', 'expected host:port for each sentinel (e.g. 10.0.0.5:26379), "a:70000" is not'],
    ['a b:1', 'expected host:port for each sentinel (e.g. 10.0.0.5:26379), "a b:1" is not'],
    ['redis://a:1', 'expected host:port for each sentinel (e.g. 10.0.0.5:26379), "redis://a:1" is not'],
    [Array.from({ length: 17 }, (_, i) => `s${i}:1`).join(','), 'expected at most 16 sentinels'],
  ])('refuses %j', (text, problem) => {
    expect(sentinelList(text)).toEqual({ ok: false, problem });
  });
});

describe('Sentinel flags', () => {
  it('come from flags or LOOKOUT_REDIS_SENTINELS / LOOKOUT_REDIS_MASTER_NAME / LOOKOUT_REDIS_SENTINEL_USER / _PASSWORD', () => {
    const env = {
      LOOKOUT_REDIS_SENTINELS: 's1:26379,s2:26379', LOOKOUT_REDIS_MASTER_NAME: 'lookout',
      LOOKOUT_REDIS_SENTINEL_USER: 'lookout-client', LOOKOUT_REDIS_SENTINEL_PASSWORD: 'pw',
    };
    const parsed = parseOptions(redisOptions, [], env);
    expect('values' in parsed && parsed.values).toMatchObject({
      redisSentinels: [{ host: 's1', port: 26_379 }, { host: 's2', port: 26_379 }], redisMasterName: 'lookout',
      redisSentinelUser: 'lookout-client', redisSentinelPassword: 'pw',
    });
    const flags = parseOptions(redisOptions, ['--redis-sentinels', 'x:1', '--redis-master-name', 'm'], env);
    expect('values' in flags && flags.values).toMatchObject({ redisSentinels: [{ host: 'x', port: 1 }], redisMasterName: 'm' });
  });

  it('never echo a bad sentinel password', () => {
    const parsed = parseOptions(redisOptions, [], { LOOKOUT_REDIS_SENTINEL_PASSWORD: '   ' });
    expect(parsed).toEqual({ errors: ['--redis-sentinel-password: expected a password, got 3 characters (from LOOKOUT_REDIS_SENTINEL_PASSWORD)'] });
  });

  it.each([
    [{ redisSentinels: [{ host: 'a', port: 1 }] }, ['--redis-sentinels and --redis-master-name go together']],
    [{ redisMasterName: 'm' }, ['--redis-sentinels and --redis-master-name go together']],
    [{ redisSentinelPassword: 'pw' }, ['--redis-sentinel-user / --redis-sentinel-password need --redis-sentinels']],
    [{ redisSentinels: [{ host: 'a', port: 1 }], redisMasterName: 'm', redisSentinelUser: 'u' }, ['--redis-sentinel-user needs --redis-sentinel-password']],
    [{ redisSentinels: [{ host: 'a', port: 1 }], redisMasterName: 'm', redisSentinelPassword: 'pw' }, []],
  ])('combination %j', (values, problems) => {
    expect(redisOptionProblems({ redisUrl: 'redis://h:1', ...values })).toEqual(problems);
  });

  it('make a target whose ioredis options ask the sentinels, with TLS to sentinels and data nodes alike', () => {
    const target = redisTargetOf({
      redisUrl: 'rediss://coordinator:secret@redis.internal:6380/2', redisSentinels: [{ host: '10.0.0.5', port: 26_379 }],
      redisMasterName: 'lookout', redisSentinelUser: 'lookout-client', redisSentinelPassword: 'spw',
    });
    const options = targetOptions(target);
    expect(options).toMatchObject({
      sentinels: [{ host: '10.0.0.5', port: 26_379 }], name: 'lookout', sentinelUsername: 'lookout-client', sentinelPassword: 'spw',
      username: 'coordinator', password: 'secret', db: 2, enableTLSForSentinelMode: true,
      tls: { servername: 'redis.internal' }, sentinelTLS: { servername: 'redis.internal' },
    });
    expect(options).not.toHaveProperty('host');
    expect(connectionSettings({ name: 'x' })).toMatchObject({ failoverDetector: true });
  });

  it('reach both processes: the agent and the coordinator take them', () => {
    const argv = ['--redis-sentinels', 's1:26379', '--redis-master-name', 'lookout'];
    const agent = parseAgentConfig(['--region', 'eu-west', '--job-public-key', KEY, ...argv], {}, { hostname: 'h', pid: 1 });
    expect('config' in agent && agent.config).toMatchObject({ redisSentinels: [{ host: 's1', port: 26_379 }], redisMasterName: 'lookout' });
    const coordinator = parseCoordinatorConfig(argv, {});
    expect('config' in coordinator && coordinator.config).toMatchObject({ redisSentinels: [{ host: 's1', port: 26_379 }], redisMasterName: 'lookout' });
    expect(parseCoordinatorConfig(['--redis-master-name', 'lookout'], {})).toEqual({ errors: ['--redis-sentinels and --redis-master-name go together'] });
  });
});

describe('lookout region add through Sentinel', () => {
  it("prints the sentinels and the primary's name, and never the sentinels' password", () => {
    const target = redisTargetOf({
      redisUrl: 'redis://admin:pw@redis.internal:6379', redisSentinels: [{ host: '10.0.0.5', port: 26_379 }, { host: '::1', port: 26_380 }],
      redisMasterName: 'lookout', redisSentinelUser: 'operator', redisSentinelPassword: 'sentinel-secret',
    });
    const lines = envLines({ region: 'eu-west', user: 'lookout-agent-eu-west', password: 'agent-pw', target, agentUrl: undefined, prefix: 'lookout', publicKey: 'KEY' });
    expect(lines).toContain('LOOKOUT_REDIS_SENTINELS=10.0.0.5:26379,[::1]:26380');
    expect(lines).toContain('LOOKOUT_REDIS_MASTER_NAME=lookout');
    expect(lines).toContain('LOOKOUT_REDIS_URL=redis://lookout-agent-eu-west:agent-pw@redis.internal:6379');
    expect(lines.join('\n')).not.toContain('sentinel-secret');
  });
});
