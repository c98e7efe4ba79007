import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAlertingConfig, parseAlertingConfig, resolveEnvRefs, type AlertingResult } from '../../../coordinator/alerting/config.ts';
import { coordinatorHelp, parseCoordinatorConfig } from '../../../coordinator/config.ts';

const noFlags = { webhookUrls: [], webhookSecret: null };
const ENV = { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/X', PD_KEY: 'R0ABCDEFGHIJKLMNOPQRSTUVWXYZ0123', SMTP_PASSWORD: 'p4ss' };

/** The example given to the README. */
const EXAMPLE = {
  dashboardUrl: 'https://lookout.example.com',
  channels: [
    { type: 'slack', name: 'chat', webhookUrl: { env: 'SLACK_WEBHOOK_URL' } },
    { type: 'pagerduty', name: 'page', routingKey: { env: 'PD_KEY' } },
    {
      type: 'email', name: 'operators', from: 'Lookout <alerts@example.com>', to: ['ops@example.com'],
      smtp: { host: 'smtp.example.com', port: 587, requireTLS: true, user: 'lookout', password: { env: 'SMTP_PASSWORD' } },
    },
    { type: 'alertmanager', name: 'am', url: 'http://alertmanager:9093', labels: { team: 'web' } },
    { type: 'webhook', name: 'audit', url: 'https://audit.example.com/hooks/lookout', secret: 'a-shared-secret-of-16+' },
  ],
  routes: {
    rules: [
      { match: { events: ['incident.*'], scope: ['regional'] }, channels: ['chat'] },
      { match: { events: ['incident.*'], scope: ['global'] }, channels: ['page', 'chat'] },
      { match: { events: ['probe.*'] }, channels: ['operators'] },
      { match: { tags: ['payments'], severity: ['critical'] }, channels: ['page'] },
    ],
    default: ['audit'],
  },
};

const ok = (result: AlertingResult) => {
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.setup;
};
const problems = (result: AlertingResult) => (result.ok ? [] : result.problems);

describe('parseAlertingConfig', () => {
  it('takes the documented example, with secrets from the environment', () => {
    const setup = ok(parseAlertingConfig({ source: 'alerting.json', content: EXAMPLE }, noFlags, ENV));
    expect(setup.channels.map((c) => c.name)).toEqual(['chat', 'page', 'operators', 'am', 'audit']);
    expect(setup.channels[0]).toMatchObject({ type: 'slack', webhookUrl: ENV.SLACK_WEBHOOK_URL, attempts: 8, timeoutMs: 10_000 });
    expect(setup.channels[2]).toMatchObject({ smtp: { password: 'p4ss' } });
    expect(setup.routes.rules).toHaveLength(4);
    expect(setup.routes.default).toEqual(['audit']);
    expect(setup.dashboardUrl).toBe('https://lookout.example.com');
  });

  it('without routes every event goes to every channel, flag webhooks included', () => {
    const setup = ok(parseAlertingConfig({ source: 'a.json', content: { channels: [EXAMPLE.channels[4]] } }, { webhookUrls: ['https://h.example/x'], webhookSecret: null }, ENV));
    expect(setup.channels.map((c) => c.name)).toEqual(['audit', 'webhook-1']);
    expect(setup.routes).toEqual({ rules: [], default: ['audit', 'webhook-1'] });
  });

  it('flag webhooks receive every event next to the file\'s routes', () => {
    const setup = ok(parseAlertingConfig({ source: 'a.json', content: EXAMPLE }, { webhookUrls: ['https://h.example/x'], webhookSecret: 'k'.repeat(16) }, ENV));
    expect(setup.routes.rules.every((rule) => rule.channels.includes('webhook-1'))).toBe(true);
    expect(setup.routes.default).toEqual(['audit', 'webhook-1']);
    expect(setup.channels.at(-1)).toMatchObject({ type: 'webhook', name: 'webhook-1', secret: 'k'.repeat(16) });
  });

  it('keeps --webhook-url working alone', () => {
    expect(ok(parseAlertingConfig(null, { webhookUrls: ['https://h.example/x'], webhookSecret: null }, {}))).toEqual({
      channels: [{ type: 'webhook', name: 'webhook-1', url: 'https://h.example/x', attempts: 8, timeoutMs: 10_000 }],
      routes: { rules: [], default: ['webhook-1'] },
    });
    expect(ok(parseAlertingConfig(null, noFlags, {}))).toEqual({ channels: [], routes: { rules: [], default: [] } });
  });

  it('reports every problem at once, each with the file and its JSON path', () => {
    const content = {
      dashboardUrl: 'lookout.example.com',
      channels: [
        { type: 'slack', name: 'chat', webhookUrl: { env: 'MISSING_SLACK_URL' } },
        { type: 'pagerduty', name: 'page' },
        { type: 'email', name: 'mail', from: 'a@example.com', to: ['ops'], smtp: { host: 'smtp', port: '25' } },
        { type: 'sms', name: 'phone' },
        { type: 'webhook', name: 'chat', url: 'https://x.example/' },
      ],
      routes: { rules: [{ match: { scope: 'planet' }, channels: ['pager'] }], default: ['nobody'] },
      extra: true,
    };
    expect(problems(parseAlertingConfig({ source: 'alerting.json', content }, noFlags, {}))).toEqual([
      'alerting.json: channels[0].webhookUrl: environment variable MISSING_SLACK_URL is not set',
      'alerting.json: dashboardUrl: must be an http(s) URL, like https://lookout.example.com',
      'alerting.json: Unrecognized key: "extra"',
      expect.stringMatching(/^alerting\.json: channels\[1\]\.routingKey: /),
      expect.stringMatching(/^alerting\.json: channels\[2\]\.smtp\.port: /),
      expect.stringMatching(/^alerting\.json: channels\[2\]\.to\[0\]: must be an e-mail address/),
      'alerting.json: channels[3].type: unknown channel type "sms" (known: webhook, slack, pagerduty, email, alertmanager)',
      'alerting.json: channels[4].name: "chat" is already the name of channels[0]; names must be unique',
      expect.stringMatching(/^alerting\.json: routes\.rules\[0\]\.match\.scope/),
    ]);
  });

  it('names channels routes point to that do not exist, and flag names that clash', () => {
    const content = { channels: [{ type: 'webhook', name: 'webhook-1', url: 'https://x.example/' }], routes: { rules: [{ channels: ['pager'] }] } };
    expect(problems(parseAlertingConfig({ source: 'a.json', content }, { webhookUrls: ['https://h.example/x'], webhookSecret: null }, {}))).toEqual([
      'a.json: routes.rules[0].channels[0]: no channel named "pager" (channels: webhook-1)',
      '--webhook-url: channel name "webhook-1" is also used in a.json; rename that channel',
    ]);
  });

  it('resolves env references anywhere, and only exact { "env": NAME } objects', () => {
    const found: string[] = [];
    expect(resolveEnvRefs({ a: [{ env: 'X' }, { env: 'X', other: 1 }], b: { env: 'EMPTY' } }, { X: 'x', EMPTY: '' }, 'root', found))
      .toEqual({ a: ['x', { env: 'X', other: 1 }], b: undefined });
    expect(found).toEqual(['root.b: environment variable EMPTY is not set']);
  });
});

describe('loadAlertingConfig and the coordinator process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-alerting-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const config = (file: string | null) => ({ ...noFlags, alertingConfigFile: file });

  it('reads the file; an unreadable file or bad JSON is a problem, not a crash', () => {
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify(EXAMPLE));
    expect(ok(loadAlertingConfig(config(good), ENV)).channels).toHaveLength(5);
    expect(problems(loadAlertingConfig(config(join(dir, 'missing.json')), ENV))).toEqual([`--alerting-config: cannot read ${JSON.stringify(join(dir, 'missing.json'))} (ENOENT)`]);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "channels": [ }');
    expect(problems(loadAlertingConfig(config(bad), ENV))).toEqual([expect.stringMatching(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not valid JSON: `))]);
  });

  it('takes --alerting-config and LOOKOUT_ALERTING_CONFIG, and documents them', () => {
    expect(parseCoordinatorConfig(['--alerting-config', '/etc/lookout/alerting.json'], {})).toMatchObject({ config: { alertingConfigFile: '/etc/lookout/alerting.json' } });
    expect(parseCoordinatorConfig([], { LOOKOUT_ALERTING_CONFIG: 'a.json' })).toMatchObject({ config: { alertingConfigFile: 'a.json' } });
    expect(parseCoordinatorConfig([], {})).toMatchObject({ config: { alertingConfigFile: null } });
    expect(parseCoordinatorConfig(['--alerting-config='], {})).toEqual({ errors: ['--alerting-config: must be a file path, got ""'] });
    expect(coordinatorHelp).toMatch(/--alerting-config <file>.*LOOKOUT_ALERTING_CONFIG/s);
  });

  it('the coordinator prints every alerting problem and exits 2 before connecting to anything', async () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify({ channels: [{ type: 'slack', name: 'chat', webhookUrl: { env: 'NOT_SET_ANYWHERE' } }, { type: 'pagerduty', name: 'page' }] }));
    const node = new URL('../../../node_modules/.bin/node', import.meta.url).pathname;
    const main = new URL('../../../coordinator/main.ts', import.meta.url).pathname;
    // Redis on port 9 would refuse: exiting 2 proves nothing was started.
    const child = spawn(node, [main, '--alerting-config', file, '--redis', 'redis://127.0.0.1:9'], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
    let stderr = '';
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(stderr).toContain('invalid alerting configuration');
    expect(stderr).toContain(`${file}: channels[0].webhookUrl: environment variable NOT_SET_ANYWHERE is not set`);
    expect(stderr).toContain(`${file}: channels[1].routingKey: `);
  });
});
