import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChannelConfigs } from '../../../../coordinator/alerting/channels/index.ts';
import {
  buildSlackMessage, escapeMrkdwn, SLACK_LIMITS, slackChannel, SlackConfigSchema, type SlackBlock, type SlackMessage,
} from '../../../../coordinator/alerting/channels/slack.ts';
import { sampleEvents, startRecorder, T0, type Recorder } from '../support.ts';

const events = sampleEvents();
const DASHBOARD = 'https://lookout.example.com';

/**
 * The structure Slack documents for incoming webhooks with Block Kit: `text` (fallback) and `blocks`,
 * each block one of the documented types with its documented fields and limits.
 */
function expectValidBlockKit(message: SlackMessage): void {
  expect(typeof message.text).toBe('string');
  expect(message.text.length).toBeGreaterThan(0);
  expect(message.blocks.length).toBeGreaterThan(0);
  expect(message.blocks.length).toBeLessThanOrEqual(50);
  for (const block of message.blocks) {
    switch (block.type) {
      case 'header':
        expect(block.text.type).toBe('plain_text');
        expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
        break;
      case 'section':
        expect(block.text !== undefined || block.fields !== undefined).toBe(true);
        if (block.text) expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
        if (block.fields) {
          expect(block.fields.length).toBeLessThanOrEqual(SLACK_LIMITS.fields);
          for (const field of block.fields) {
            expect(['mrkdwn', 'plain_text']).toContain(field.type);
            expect(field.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
          }
        }
        break;
      case 'context':
        expect(block.elements.length).toBeGreaterThan(0);
        expect(block.elements.length).toBeLessThanOrEqual(10);
        break;
      case 'actions':
        for (const element of block.elements) {
          expect(element.type).toBe('button');
          expect(element.text.type).toBe('plain_text');
          expect(() => new URL(element.url)).not.toThrow();
        }
        break;
      default:
        throw new Error(`unexpected block ${JSON.stringify(block)}`);
    }
  }
}

const fieldTexts = (message: SlackMessage): string[] =>
  message.blocks.flatMap((block: SlackBlock) => (block.type === 'section' && block.fields ? block.fields.map((f) => f.text) : []));
const texts = (message: SlackMessage): string[] =>
  message.blocks.flatMap((block: SlackBlock) => (block.type === 'section' && block.text ? [block.text.text] : block.type === 'header' ? [block.text.text] : []));

describe('Slack Block Kit message', () => {
  it('an opened regional incident: header, summary, facts, errors per region, link, context', () => {
    const message = buildSlackMessage(events.opened, DASHBOARD);
    expectValidBlockKit(message);
    expect(message.text).toBe('Homepage is down in eu-west (regional; passing: ap-south, us-east) — CONNECT_REFUSED');
    expect(message.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'actions', 'context']);
    expect(message.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Homepage: DOWN (regional)', emoji: true } });
    expect(texts(message)[1]).toBe(':red_circle: Homepage is down in eu-west (regional; passing: ap-south, us-east) — CONNECT_REFUSED');
    expect(fieldTexts(message)).toEqual(expect.arrayContaining(['*Scope*\nregional', '*Failing*\neu-west', '*Passing*\nap-south, us-east', '*Severity*\nwarning']));
    expect(texts(message)).toContain('*eu-west*: `CONNECT_REFUSED` connect ECONNREFUSED 10.0.0.1:443');
    expect(message.blocks[4]).toEqual({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open Lookout' }, url: DASHBOARD }] });
    expect(JSON.stringify(message.blocks[5])).toContain('event inc-1:1');
  });

  it('a global update lists every failing region; a resolution is green and has no errors', () => {
    const updated = buildSlackMessage(events.updated);
    expectValidBlockKit(updated);
    expect(updated.blocks[0]).toMatchObject({ text: { text: 'Homepage: DOWN (global)' } });
    expect(fieldTexts(updated)).toEqual(expect.arrayContaining(['*Failing*\neu-west, us-east', '*No data*\nap-south', '*Severity*\ncritical']));
    expect(updated.blocks.some((b) => b.type === 'actions')).toBe(false);

    const resolved = buildSlackMessage(events.resolved);
    expectValidBlockKit(resolved);
    expect(resolved.text).toBe('Homepage has recovered after 13m30s');
    expect(resolved.blocks[0]).toMatchObject({ text: { text: 'Homepage: RECOVERED' } });
    expect(texts(resolved)[1]).toMatch(/^:large_green_circle: /);
    expect(fieldTexts(resolved)).toEqual(expect.arrayContaining(['*Duration*\n13m30s']));
    expect(resolved.blocks.filter((b) => b.type === 'section')).toHaveLength(2);
  });

  it('probe events and a type added later render too', () => {
    const offline = buildSlackMessage(events.offline);
    expectValidBlockKit(offline);
    expect(offline.blocks[0]).toMatchObject({ text: { text: 'Probe agent agent-7: OFFLINE' } });
    expect(fieldTexts(offline)).toEqual(expect.arrayContaining(['*Region*\neu-west']));

    const future = buildSlackMessage(events.future);
    expectValidBlockKit(future);
    expect(future.text).toBe('[certificate.expiring] Homepage: the TLS certificate expires in 6 days');
    expect(future.blocks[0]).toMatchObject({ text: { text: 'Homepage: certificate.expiring' } });
    expect(fieldTexts(future)).toEqual(expect.arrayContaining(['*daysLeft*\n6', '*issuer*\nExample CA', '*severity*\nerror']));
  });

  it('escapes mrkdwn control characters and keeps within Block Kit limits', () => {
    expect(escapeMrkdwn('<!channel> & <b>')).toBe('&lt;!channel&gt; &amp; &lt;b&gt;');
    const loud = { ...events.opened, check: { id: 'x', name: `<!here> ${'very long name '.repeat(30)}` } };
    const message = buildSlackMessage(loud);
    expectValidBlockKit(message);
    // Plain text (the header) is never parsed for mentions; everything in mrkdwn is escaped.
    const mrkdwn = [message.text, ...JSON.stringify(message.blocks.filter((b) => b.type !== 'header')).split('"text":')];
    expect(mrkdwn.join(' ')).not.toContain('<!here>');
    expect(message.text).toContain('&lt;!here&gt;');
  });
});

describe('Slack channel', () => {
  let slack: Recorder;
  const dispatcher = new Agent();
  beforeAll(async () => { slack = await startRecorder((_n, request) => (request.path === '/services/gone' ? { status: 404, body: 'no_service' } : { status: 200, body: 'ok' })); });
  afterAll(async () => { await slack.close(); await dispatcher.close(); });

  it('validates its config', () => {
    expect(SlackConfigSchema.parse({ type: 'slack', name: 'chat', webhookUrl: 'https://hooks.slack.com/services/T/B/X' })).toMatchObject({ attempts: 8, timeoutMs: 10_000 });
    const parsed = parseChannelConfigs([{ type: 'slack', name: 'chat', webhookUrl: 'hooks.slack.com', channel: '#ops' }]);
    expect(parsed).toEqual({ ok: false, problems: expect.arrayContaining([expect.stringMatching(/^channels\[0\]\.webhookUrl: must be an http\(s\) URL/), expect.stringMatching(/^channels\[0\]: .*channel/)]) });
  });

  it('POSTs the JSON message to the webhook and reports Slack\'s answers', async () => {
    const config = SlackConfigSchema.parse({ type: 'slack', name: 'chat', webhookUrl: `${slack.base}/services/T0/B0/secret` });
    const request = slackChannel.buildPayload(events.opened, config, { deliveryId: 'chat.inc-1%3A1', now: T0 });
    const outcome = await slackChannel.send(request, config, { signal: new AbortController().signal, dispatcher });
    expect(outcome).toEqual({ ok: true, status: 200 });
    const received = slack.requests.at(-1)!;
    expect(received.path).toBe('/services/T0/B0/secret');
    expect(received.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(received.body)).toEqual(buildSlackMessage(events.opened));

    const gone = SlackConfigSchema.parse({ type: 'slack', name: 'chat', webhookUrl: `${slack.base}/services/gone` });
    expect(await slackChannel.send(request, gone, { signal: new AbortController().signal, dispatcher })).toMatchObject({
      ok: false, code: 'RECEIVER_REJECTED', retryable: false, status: 404, message: 'receiver answered 404 Not Found: no_service',
    });
  });
});
