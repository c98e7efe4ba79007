import { describe, expect, it } from 'vitest';
import { DEFAULT_COORDINATOR_CONFIG, coordinatorHelp, parseCoordinatorConfig, webhookChannels, type CoordinatorConfig } from '../../coordinator/config.ts';

function ok(argv: string[], env: Record<string, string> = {}): CoordinatorConfig {
  const result = parseCoordinatorConfig(argv, env);
  if (!('config' in result)) throw new Error(`expected a config, got ${JSON.stringify(result)}`);
  return result.config;
}
function errors(argv: string[], env: Record<string, string> = {}): string[] {
  const result = parseCoordinatorConfig(argv, env);
  if (!('errors' in result)) throw new Error(`expected errors, got ${JSON.stringify(result)}`);
  return result.errors;
}

describe('parseCoordinatorConfig', () => {
  it('defaults everything', () => {
    expect(ok([])).toEqual(DEFAULT_COORDINATOR_CONFIG);
    expect(DEFAULT_COORDINATOR_CONFIG).toMatchObject({ port: 8080, host: '127.0.0.1', sweepIntervalMs: 1_000, prefix: 'lookout', webhookUrls: [] });
  });

  const cases: Array<{ name: string; argv: string[]; env?: Record<string, string>; expected: Partial<CoordinatorConfig> }> = [
    { name: '--redis', argv: ['--redis', 'redis://r:6380'], expected: { redisUrl: 'redis://r:6380' } },
    { name: '--redis=value form', argv: ['--redis=rediss://r:6380/2'], expected: { redisUrl: 'rediss://r:6380/2' } },
    { name: 'LOOKOUT_REDIS_URL', argv: [], env: { LOOKOUT_REDIS_URL: 'redis://a:1' }, expected: { redisUrl: 'redis://a:1' } },
    { name: 'REDIS_URL as a fallback', argv: [], env: { REDIS_URL: 'redis://b:2' }, expected: { redisUrl: 'redis://b:2' } },
    { name: 'LOOKOUT_REDIS_URL wins over REDIS_URL', argv: [], env: { LOOKOUT_REDIS_URL: 'redis://a:1', REDIS_URL: 'redis://b:2' }, expected: { redisUrl: 'redis://a:1' } },
    { name: 'a flag wins over the environment', argv: ['--port', '9000'], env: { LOOKOUT_PORT: '7000' }, expected: { port: 9000 } },
    { name: 'port 0 means ephemeral', argv: ['--port', '0'], expected: { port: 0 } },
    { name: 'LOOKOUT_PORT', argv: [], env: { LOOKOUT_PORT: '8181' }, expected: { port: 8181 } },
    { name: '--host', argv: ['--host', '0.0.0.0'], expected: { host: '0.0.0.0' } },
    { name: '--prefix with a hash tag', argv: ['--prefix', '{lookout}'], expected: { prefix: '{lookout}' } },
    { name: 'LOOKOUT_PREFIX', argv: [], env: { LOOKOUT_PREFIX: 'staging' }, expected: { prefix: 'staging' } },
    { name: 'repeated and comma separated webhooks', argv: ['--webhook-url', 'https://a.example/h,http://b.example/h', '--webhook-url=https://c.example/h', '--webhook-secret', 's3cret-s3cret-s3cret'],
      expected: { webhookUrls: ['https://a.example/h', 'http://b.example/h', 'https://c.example/h'], webhookSecret: 's3cret-s3cret-s3cret' } },
    { name: 'a webhook without a secret (unsigned)', argv: ['--webhook-url', 'https://a.example/h'], expected: { webhookUrls: ['https://a.example/h'], webhookSecret: null } },
    { name: 'webhooks from the environment', argv: [], env: { LOOKOUT_WEBHOOK_URL: 'https://a.example/h, https://b.example/h', LOOKOUT_WEBHOOK_SECRET: 'x'.repeat(16) },
      expected: { webhookUrls: ['https://a.example/h', 'https://b.example/h'], webhookSecret: 'x'.repeat(16) } },
    { name: '--sweep-interval as a duration', argv: ['--sweep-interval', '250ms'], expected: { sweepIntervalMs: 250 } },
    { name: '--reconcile-interval', argv: ['--reconcile-interval=1m'], expected: { reconcileIntervalMs: 60_000 } },
    { name: '--ingest-concurrency', argv: ['--ingest-concurrency', '3'], expected: { ingestConcurrency: 3 } },
    { name: '--skip-redis-policy-check', argv: ['--skip-redis-policy-check'], expected: { skipRedisPolicyCheck: true } },
  ];
  it.each(cases)('reads $name', ({ argv, env, expected }) => {
    expect(ok(argv, env)).toMatchObject(expected);
  });

  it('reports every problem at once, naming where each value came from', () => {
    const problems = errors(
      ['--port', 'eighty', '--redis', 'http://nope', '--sweep-interval', 'soon', '--bogus', '--webhook-url', 'ftp://x', '--prefix'],
      { LOOKOUT_INGEST_CONCURRENCY: '0' },
    );
    expect(problems).toHaveLength(7);
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^--port: expected an integer from 0 to 65535, got "eighty"/),
      expect.stringMatching(/^--redis: expected a redis:\/\/ or rediss:\/\/ URL/),
      expect.stringMatching(/^--sweep-interval: expected a duration/),
      expect.stringMatching(/^--bogus: unknown option/),
      expect.stringMatching(/^--webhook-url: expected an http:\/\/ or https:\/\/ URL, got "ftp:\/\/x"$/),
      expect.stringMatching(/^--prefix: expected a value/),
      expect.stringMatching(/^--ingest-concurrency: expected an integer from 1 to 256, got "0" \(from LOOKOUT_INGEST_CONCURRENCY\)$/),
    ]));
  });

  const errorCases: Array<{ name: string; argv: string[]; env?: Record<string, string>; match: RegExp }> = [
    { name: 'port out of range', argv: ['--port', '70000'], match: /--port: expected an integer from 0 to 65535/ },
    { name: 'invalid env port names the variable', argv: [], env: { LOOKOUT_PORT: '-1' }, match: /^--port: expected an integer from 0 to 65535, got "-1" \(from LOOKOUT_PORT\)$/ },
    { name: 'a short webhook secret', argv: ['--webhook-secret', 'short'], match: /^--webhook-secret: must be at least 16 characters/ },
    { name: 'sweep interval too small', argv: ['--sweep-interval', '1ms'], match: /from 50ms/ },
    { name: 'prefix with spaces', argv: ['--prefix', 'a b'], match: /^--prefix:/ },
    { name: 'positional argument', argv: ['serve'], match: /^"serve": unexpected argument/ },
    { name: 'boolean flag with a bad value', argv: ['--skip-redis-policy-check=yes'], match: /^--skip-redis-policy-check: expected "true" or "false", got "yes"$/ },
  ];
  it.each(errorCases)('refuses $name', ({ argv, env, match }) => {
    expect(errors(argv, env).join('\n')).toMatch(match);
  });

  it('never repeats a secret it refuses (the message goes to terminals and logs)', () => {
    const fromFlag = errors(['--webhook-secret', 'hunter2-secret']).join('\n');
    const fromEnv = errors([], { LOOKOUT_WEBHOOK_SECRET: 'hunter2-secret' }).join('\n');
    expect(fromFlag).toMatch(/^--webhook-secret: must be at least 16 characters, got 14 characters$/);
    expect(fromEnv).toMatch(/^--webhook-secret: must be at least 16 characters, got 14 characters \(from LOOKOUT_WEBHOOK_SECRET\)$/);
    expect(fromFlag + fromEnv).not.toContain('hunter2');
  });

  it('answers --help with the help text, which documents every flag', () => {
    expect(parseCoordinatorConfig(['--port', '1', '--help'], {})).toEqual({ help: true });
    for (const flag of ['--redis', '--prefix', '--port', '--host', '--webhook-url', '--webhook-secret', '--sweep-interval', '--reconcile-interval', '--ingest-concurrency', '--skip-redis-policy-check']) {
      expect(coordinatorHelp).toContain(flag);
    }
  });

  it('turns webhook flags into delivery channel configs', () => {
    expect(webhookChannels({ webhookUrls: ['https://a.example/h', 'https://b.example/h'], webhookSecret: 'k'.repeat(16) })).toEqual([
      { type: 'webhook', name: 'webhook-1', url: 'https://a.example/h', secret: 'k'.repeat(16) },
      { type: 'webhook', name: 'webhook-2', url: 'https://b.example/h', secret: 'k'.repeat(16) },
    ]);
    expect(webhookChannels({ webhookUrls: ['https://a.example/h'], webhookSecret: null })).toEqual([{ type: 'webhook', name: 'webhook-1', url: 'https://a.example/h' }]);
  });
});
