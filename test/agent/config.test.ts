import { describe, expect, it } from 'vitest';
import { agentHelp, parseAgentConfig, type AgentConfig } from '../../agent/config.ts';
import { TEST_JOB_PUBLIC_KEY } from '../support/signing.ts';

/** Every agent needs the coordinators' job verification key; the cases below add it unless they test it. */
const KEY = { LOOKOUT_JOB_PUBLIC_KEY: TEST_JOB_PUBLIC_KEY };

const facts = { hostname: 'probe-7', pid: 4242 };
const defaults: Omit<AgentConfig, 'region' | 'agentId'> = {
  redisUrl: 'redis://127.0.0.1:6379',
  prefix: 'lookout',
  concurrency: 10,
  healthPort: 0,
  healthHost: '127.0.0.1',
  shutdownTimeoutMs: 10_000,
  browserChecks: false,
  denyCidrs: [],
  allowCidrs: [],
  chromiumPath: '/usr/bin/chromium',
  browserConcurrency: 2,
  secretsFile: null,
  jobPublicKey: TEST_JOB_PUBLIC_KEY,
  pathTrace: true,
  diagnosticResolver: null,
  evidenceBudgetMs: 1_000,
  // No HOME or XDG_STATE_HOME in these cases' environment: the spool stays in memory.
  spoolDir: null,
  spoolMaxBytes: 64 * 1024 * 1024,
  spoolMaxAgeMs: 86_400_000,
};

describe('parseAgentConfig', () => {
  const valid: Array<{ name: string; argv: string[]; env?: Record<string, string>; expected: Partial<AgentConfig> }> = [
    { name: 'defaults with only a region flag', argv: ['--region', 'us-east'], expected: { ...defaults, region: 'us-east', agentId: 'probe-7-us-east-4242' } },
    { name: 'region from env', argv: [], env: { LOOKOUT_REGION: 'eu-west' }, expected: { region: 'eu-west', agentId: 'probe-7-eu-west-4242' } },
    { name: '--flag=value form', argv: ['--region=ap-south', '--concurrency=3'], expected: { region: 'ap-south', concurrency: 3 } },
    { name: 'flag wins over env', argv: ['--region', 'us-east', '--concurrency', '4'], env: { LOOKOUT_CONCURRENCY: '9' }, expected: { concurrency: 4 } },
    { name: 'LOOKOUT_REDIS_URL wins over REDIS_URL', argv: ['--region', 'r1'], env: { LOOKOUT_REDIS_URL: 'redis://a:1', REDIS_URL: 'redis://b:2' }, expected: { redisUrl: 'redis://a:1' } },
    { name: 'REDIS_URL as fallback', argv: ['--region', 'r1'], env: { REDIS_URL: 'rediss://b:2/3' }, expected: { redisUrl: 'rediss://b:2/3' } },
    { name: 'empty env var counts as unset', argv: ['--region', 'r1'], env: { LOOKOUT_CONCURRENCY: '' }, expected: { concurrency: 10 } },
    {
      name: 'every option',
      argv: ['--region', 'r1', '--redis', 'redis://h:7000', '--prefix', '{lk}', '--concurrency', '50', '--agent-id', 'a-1',
        '--health-port', '9100', '--health-host', '0.0.0.0', '--shutdown-timeout', '1m30s'],
      expected: { region: 'r1', redisUrl: 'redis://h:7000', prefix: '{lk}', concurrency: 50, agentId: 'a-1', healthPort: 9100, healthHost: '0.0.0.0', shutdownTimeoutMs: 90_000 },
    },
    { name: 'health port from env', argv: ['--region', 'r1'], env: { LOOKOUT_HEALTH_PORT: '8081' }, expected: { healthPort: 8081 } },
    {
      name: 'browser checks on, with their options',
      argv: ['--region', 'r1', '--browser-checks', 'on', '--browser-concurrency', '3'], env: { LOOKOUT_CHROMIUM_PATH: '/opt/chromium/chrome' },
      expected: { browserChecks: true, browserConcurrency: 3, chromiumPath: '/opt/chromium/chrome' },
    },
    { name: 'secrets file from env', argv: ['--region', 'r1'], env: { LOOKOUT_SECRETS_FILE: '/etc/lookout/secrets.env' }, expected: { secretsFile: '/etc/lookout/secrets.env' } },
    {
      name: 'TLS to Redis with a CA and a client certificate',
      argv: ['--region', 'r1', '--redis', 'rediss://eu:pw@redis.internal:6380', '--redis-ca', '/etc/lookout/ca.pem', '--redis-cert', '/c.pem', '--redis-key', '/k.pem'],
      expected: { redisUrl: 'rediss://eu:pw@redis.internal:6380', redisCa: '/etc/lookout/ca.pem', redisCert: '/c.pem', redisKey: '/k.pem' },
    },
    { name: 'the job key as a flag', argv: ['--region', 'r1', '--job-public-key', TEST_JOB_PUBLIC_KEY], expected: { jobPublicKey: TEST_JOB_PUBLIC_KEY } },
    {
      name: 'evidence options',
      argv: ['--region', 'r1', '--path-trace', 'off', '--diagnostic-resolver', '10.0.0.2:5353', '--evidence-budget', '2500ms'],
      expected: { pathTrace: false, diagnosticResolver: '10.0.0.2:5353', evidenceBudgetMs: 2_500 },
    },
    { name: 'an IPv6 diagnostic resolver with a port', argv: ['--region', 'r1'], env: { LOOKOUT_DIAGNOSTIC_RESOLVER: '[2620:fe::fe]:53' }, expected: { diagnosticResolver: '[2620:fe::fe]:53' } },
    { name: 'the spool under XDG_STATE_HOME, per region', argv: ['--region', 'eu-west'], env: { XDG_STATE_HOME: '/var/lib/probe' }, expected: { spoolDir: '/var/lib/probe/lookout/spool/eu-west' } },
    { name: 'the spool under HOME without XDG_STATE_HOME', argv: ['--region', 'eu-west'], env: { HOME: '/home/probe' }, expected: { spoolDir: '/home/probe/.local/state/lookout/spool/eu-west' } },
    { name: 'the spool in memory', argv: ['--region', 'r1', '--spool-dir', 'off'], env: { HOME: '/home/probe' }, expected: { spoolDir: null } },
    {
      name: 'the spool folder and its bounds',
      argv: ['--region', 'r1', '--spool-dir', '/srv/spool', '--spool-max-bytes', '256MiB'], env: { LOOKOUT_SPOOL_MAX_AGE: '6h' },
      expected: { spoolDir: '/srv/spool', spoolMaxBytes: 256 * 1024 * 1024, spoolMaxAgeMs: 6 * 3_600_000 },
    },
  ];
  it.each(valid)('accepts $name', ({ argv, env, expected }) => {
    const result = parseAgentConfig(argv, { ...KEY, ...env }, facts);
    if (!('config' in result)) throw new Error(`expected a config, got ${JSON.stringify(result)}`);
    expect(result.config).toMatchObject(expected);
  });

  const invalid: Array<{ name: string; argv: string[]; env?: Record<string, string>; errors: string[] }> = [
    { name: 'missing region', argv: [], errors: ['--region: required (or set LOOKOUT_REGION)'] },
    { name: 'missing job key', argv: ['--region', 'r1'], env: { LOOKOUT_JOB_PUBLIC_KEY: '' }, errors: ['--job-public-key: required (or set LOOKOUT_JOB_PUBLIC_KEY)'] },
    { name: 'a job key that is no key', argv: ['--region', 'r1', '--job-public-key', 'not-a-key'], errors: [expect.stringMatching(/^--job-public-key: expected an Ed25519 public key \(base64 or PEM\), got "not-a-key"$/) as unknown as string] },
    { name: 'a CA without rediss://', argv: ['--region', 'r1', '--redis-ca', '/ca.pem'], errors: ['--redis-ca / --redis-cert need a rediss:// URL (TLS)'] },
    { name: 'a certificate without its key', argv: ['--region', 'r1', '--redis', 'rediss://h:1', '--redis-cert', '/c.pem'], errors: ['--redis-cert and --redis-key go together'] },
    {
      name: 'bad concurrency from env, with its source',
      argv: ['--region', 'r1'], env: { LOOKOUT_CONCURRENCY: 'abc' },
      errors: ['--concurrency: expected an integer from 1 to 1000, got "abc" (from LOOKOUT_CONCURRENCY)'],
    },
    { name: 'zero concurrency from a flag', argv: ['--region', 'r1', '--concurrency', '0'], errors: ['--concurrency: expected an integer from 1 to 1000, got "0"'] },
    { name: 'negative concurrency', argv: ['--region', 'r1', '--concurrency', '-5'], errors: ['--concurrency: expected an integer from 1 to 1000, got "-5"'] },
    { name: 'unknown flag', argv: ['--region', 'r1', '--bogus', 'x'], errors: ['--bogus: unknown option (see --help)', '"x": unexpected argument (see --help)'] },
    { name: 'flag without value', argv: ['--region'], errors: ['--region: expected a value', '--region: required (or set LOOKOUT_REGION)'] },
    { name: 'non-redis URL', argv: ['--region', 'r1', '--redis', 'http://x'], errors: ['--redis: expected a redis:// or rediss:// URL, got "http://x"'] },
    { name: 'port out of range', argv: ['--region', 'r1', '--health-port', '70000'], errors: ['--health-port: expected an integer from 0 to 65535, got "70000"'] },
    { name: 'bad duration', argv: ['--region', 'r1', '--shutdown-timeout', '10'], errors: ['--shutdown-timeout: expected a duration like "10s" or "500ms", got "10"'] },
    { name: 'browser checks neither on nor off', argv: ['--region', 'r1', '--browser-checks', 'yes'], errors: ['--browser-checks: expected "on" or "off", got "yes"'] },
    { name: 'relative chromium path', argv: ['--region', 'r1', '--chromium', 'chromium'], errors: ['--chromium: expected an absolute path, got "chromium"'] },
    { name: 'flag given twice', argv: ['--region', 'r1', '--region', 'r2'], errors: ['--region: given more than once'] },
    { name: 'a relative spool folder', argv: ['--region', 'r1', '--spool-dir', 'spool'], errors: ['--spool-dir: expected an absolute path or "off", got "spool"'] },
    { name: 'a spool bound too small', argv: ['--region', 'r1', '--spool-max-bytes', '10KiB'], errors: ['--spool-max-bytes: expected a size like "64MiB" from 1048576 to 68719476736 bytes, got "10KiB"'] },
    { name: 'a spool kept longer than results are de-duplicated', argv: ['--region', 'r1', '--spool-max-age', '48h'], errors: ['--spool-max-age: expected a duration from 1m to 24h, got "48h"'] },
    {
      name: 'a diagnostic resolver that is not an address',
      argv: ['--region', 'r1', '--diagnostic-resolver', 'dns.google'],
      errors: ['--diagnostic-resolver: expected an IP address, optionally with :port (e.g. 9.9.9.9 or 10.0.0.2:5353), got "dns.google"'],
    },
    {
      name: 'every problem at once',
      argv: ['--region', 'US EAST', '--concurrency', 'many', '--agent-id', 'has space'], env: { LOOKOUT_HEALTH_PORT: 'x' },
      errors: [
        '--region: region must be 1-32 chars of a-z, 0-9 and "-", starting with a letter or digit, got "US EAST"',
        '--concurrency: expected an integer from 1 to 1000, got "many"',
        '--agent-id: expected 1-200 chars of A-Z, a-z, 0-9, "_", ".", ":", "@", "-", got "has space"',
        '--health-port: expected an integer from 0 to 65535, got "x" (from LOOKOUT_HEALTH_PORT)',
      ],
    },
  ];
  it.each(invalid)('rejects $name', ({ argv, env, errors }) => {
    expect(parseAgentConfig(argv, { ...KEY, ...env }, facts)).toEqual({ errors });
  });

  it('makes a default agent id out of an odd hostname', () => {
    const result = parseAgentConfig(['--region', 'r1'], KEY, { hostname: 'my host.local', pid: 1 });
    expect(result).toMatchObject({ config: { agentId: 'my_host.local-r1-1' } });
  });

  it('answers --help with the help text, which lists every flag with its default', () => {
    expect(parseAgentConfig(['--concurrency', 'x', '--help'], {}, facts)).toEqual({ help: true });
    for (const flag of ['--region', '--redis', '--prefix', '--concurrency', '--agent-id', '--health-port', '--health-host', '--shutdown-timeout']) {
      expect(agentHelp).toContain(flag);
    }
    expect(agentHelp).toContain('default: 10s');
  });
});
