import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEmail, classifySmtpError, emailChannel, EmailConfigSchema, type EmailConfig } from '../../../../coordinator/alerting/channels/email.ts';
import { parseChannelConfigs } from '../../../../coordinator/alerting/channels/index.ts';
import { sampleEvents, startSmtp, T0, type TestSmtp } from '../support.ts';

const events = sampleEvents();
const DASHBOARD = 'https://lookout.example.com';
const base = { from: 'Lookout <alerts@example.com>', to: ['ops@example.com', 'oncall@example.com'], subjectPrefix: '[Lookout]' };

describe('email message', () => {
  it('an opened incident: subject, text and HTML bodies, stable Message-ID, thread reference, headers', () => {
    const message = buildEmail(events.opened, base, { deliveryId: 'mail.inc-1%3A1', dashboardUrl: DASHBOARD });
    expect(message).toMatchObject({
      from: 'Lookout <alerts@example.com>',
      to: ['ops@example.com', 'oncall@example.com'],
      subject: '[Lookout] Homepage is down in eu-west (regional; passing: ap-south, us-east) — CONNECT_REFUSED',
      messageId: '<mail.inc-1%3A1@example.com>',
      references: '<incident_inc-1@example.com>',
      headers: { 'X-Lookout-Event': 'incident.opened', 'X-Lookout-Delivery': 'mail.inc-1%3A1' },
    });
    expect(message.text.split('\n')).toEqual(expect.arrayContaining([
      'Homepage is down in eu-west (regional; passing: ap-south, us-east) — CONNECT_REFUSED',
      'Check: Homepage (homepage)', 'Scope: regional', 'Failing: eu-west', 'Passing: ap-south, us-east',
      '  eu-west: CONNECT_REFUSED connect ECONNREFUSED 10.0.0.1:443 (2025-01-15T11:59:59.000Z)',
      `Dashboard: ${DASHBOARD}`,
    ]));
    expect(message.html).toContain('<th align="left">Failing</th><td>eu-west</td>');
    expect(message.html).toContain(`<a href="${DASHBOARD}">`);
  });

  it('every message of one incident shares the thread reference; resolution and probe events read well', () => {
    const resolved = buildEmail(events.resolved, base, { deliveryId: 'mail.inc-1%3A3' });
    expect(resolved.subject).toBe('[Lookout] Homepage has recovered after 13m30s');
    expect(resolved.references).toBe('<incident_inc-1@example.com>');
    expect(resolved.text).toContain('Duration: 13m30s');
    expect(resolved.text).not.toContain('Dashboard:');
    const offline = buildEmail(events.offline, { ...base, subjectPrefix: '' }, { deliveryId: 'mail.x' });
    expect(offline.subject).toBe('Probe agent agent-7 in eu-west is offline (last seen 2025-01-15T11:59:53.000Z)');
    expect(offline.references).toBe('<agent_agent-7@example.com>');
  });

  it('escapes HTML and renders a type added later from its fields', () => {
    const sneaky = { ...events.opened, check: { id: 'x', name: '<script>alert(1)</script>' } };
    expect(buildEmail(sneaky, base, { deliveryId: 'd' }).html).not.toContain('<script>');
    const future = buildEmail(events.future, base, { deliveryId: 'mail.slo' });
    expect(future.subject).toBe('[Lookout] [certificate.expiring] Homepage: the TLS certificate expires in 6 days');
    expect(future.text).toContain('daysLeft: 6');
    expect(future).not.toHaveProperty('references');
  });

  it.each([
    [{ responseCode: 550 }, { code: 'RECEIVER_REJECTED', retryable: false }],
    [{ code: 'EENVELOPE', responseCode: 553 }, { code: 'RECEIVER_REJECTED', retryable: false }],
    [{ code: 'EMESSAGE', responseCode: 451 }, { code: 'RECEIVER_UNAVAILABLE', retryable: true }],
    [{ code: 'EAUTH', responseCode: 535 }, { code: 'RECEIVER_REJECTED', retryable: false }],
    [{ code: 'EAUTH' }, { code: 'RECEIVER_REJECTED', retryable: false }],
    [{ code: 'ECONNECTION' }, { code: 'NETWORK_ERROR', retryable: true }],
    [{ code: 'ESOCKET' }, { code: 'NETWORK_ERROR', retryable: true }],
    [{ code: 'ETIMEDOUT' }, { code: 'TIMEOUT', retryable: true }],
    [{}, { code: 'NETWORK_ERROR', retryable: true }],
  ])('classifies SMTP failure %j', (error, expected) => {
    expect(classifySmtpError(error)).toEqual(expected);
  });
});

describe('email config', () => {
  it('applies defaults and reports every problem with its path', () => {
    expect(EmailConfigSchema.parse({ type: 'email', name: 'mail', smtp: { host: 'smtp.example.com' }, from: 'a@example.com', to: ['b@example.com'] }))
      .toMatchObject({ subjectPrefix: '[Lookout]', smtp: { secure: false, requireTLS: false, rejectUnauthorized: true } });
    const parsed = parseChannelConfigs([{ type: 'email', name: 'mail', smtp: { host: '', port: 70_000, user: 'u' }, from: 'not an address', to: [] }]);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? [] : parsed.problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^channels\[0\]\.smtp\.host: /),
      expect.stringMatching(/^channels\[0\]\.smtp\.port: /),
      expect.stringMatching(/^channels\[0\]\.from: must be an e-mail address/),
      'channels[0].to: needs at least one recipient',
    ]));
  });
});

describe('email through a real SMTP server on loopback', () => {
  let smtp: TestSmtp;
  let silent: Server;
  let silentSockets: Socket[];
  const dispatcher = new Agent();
  const config = (patch: Partial<EmailConfig['smtp']> = {}, timeoutMs = 5_000): EmailConfig => EmailConfigSchema.parse({
    type: 'email', name: 'mail', from: base.from, to: base.to, timeoutMs,
    smtp: { host: '127.0.0.1', port: smtp.port, user: 'lookout', password: 'correct horse', ...patch },
  });
  const send = (message: ReturnType<typeof buildEmail>, cfg: EmailConfig, signal = new AbortController().signal) =>
    emailChannel.send(message, cfg, { signal, dispatcher });

  beforeAll(async () => {
    smtp = await startSmtp({ user: 'lookout', password: 'correct horse' });
    // A server that accepts connections and never greets: the deadline must end the attempt.
    silentSockets = [];
    silent = createServer((socket) => { silentSockets.push(socket); });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
  });
  afterAll(async () => {
    await smtp.close();
    for (const socket of silentSockets) socket.destroy();
    silent.close();
    await dispatcher.close();
  });

  it('delivers the message with its headers to every recipient', async () => {
    const cfg = config();
    const message = emailChannel.buildPayload(events.opened, cfg, { deliveryId: 'mail.inc-1%3A1', now: T0 });
    expect(await send(message, cfg)).toEqual({ ok: true, status: 250 });
    const received = smtp.messages.at(-1)!;
    expect(received.from).toBe('alerts@example.com');
    expect(received.to).toEqual(['ops@example.com', 'oncall@example.com']);
    expect(received.headers['subject']).toBe('[Lookout] Homepage is down in eu-west (regional; passing: ap-south, us-east) — CONNECT_REFUSED');
    expect(received.headers['message-id']).toBe('<mail.inc-1%3A1@example.com>');
    expect(received.headers['references']).toBe('<incident_inc-1@example.com>');
    expect(received.headers['x-lookout-event']).toBe('incident.opened');
    expect(received.raw).toContain('multipart/alternative');
    expect(received.raw).toContain('Failing: eu-west');
  });

  it('reports a 4xx reply as retryable and a 5xx reply as permanent', async () => {
    const cfg = config();
    const message = emailChannel.buildPayload(events.resolved, cfg, { deliveryId: 'mail.inc-1%3A3', now: T0 });
    const before = smtp.messages.length;
    let replies = 0;
    smtp.reject = () => (replies++ === 0 ? { responseCode: 451, message: 'try again later' } : { responseCode: 554, message: 'rejected as spam' });
    try {
      const first = await send(message, cfg);
      const second = await send(message, cfg);
      expect(first).toMatchObject({ ok: false, code: 'RECEIVER_UNAVAILABLE', retryable: true, status: 451 });
      expect(second).toMatchObject({ ok: false, code: 'RECEIVER_REJECTED', retryable: false, status: 554 });
      expect(first.ok ? '' : first.message).toContain('try again later');
    } finally {
      smtp.reject = () => null;
    }
    expect(smtp.messages.length).toBe(before);
  });

  it('refuses wrong credentials for good', async () => {
    const cfg = config({ password: 'wrong' });
    const outcome = await send(emailChannel.buildPayload(events.opened, cfg, { deliveryId: 'd', now: T0 }), cfg);
    expect(outcome).toMatchObject({ ok: false, code: 'RECEIVER_REJECTED', retryable: false });
    expect(outcome.ok ? '' : outcome.message).toMatch(/^EAUTH: /);
  });

  it('reports a refused connection as retryable, a silent server as a timeout, and a stop as ABORTED', async () => {
    const refused = EmailConfigSchema.parse({ type: 'email', name: 'mail', from: base.from, to: base.to, smtp: { host: '127.0.0.1', port: 9 } });
    const message = emailChannel.buildPayload(events.opened, refused, { deliveryId: 'd', now: T0 });
    expect(await send(message, refused)).toMatchObject({ ok: false, code: 'NETWORK_ERROR', retryable: true });

    const silentPort = (silent.address() as { port: number }).port;
    const started = Date.now();
    expect(await send(message, config({ port: silentPort }, 300))).toMatchObject({ ok: false, code: 'TIMEOUT', retryable: true });
    expect(Date.now() - started).toBeLessThan(2_000);

    const stop = new AbortController();
    const pending = send(message, config({ port: silentPort }, 10_000), stop.signal);
    stop.abort();
    expect(await pending).toMatchObject({ ok: false, code: 'ABORTED' });
  });
});
