/**
 * Slack channel: posts a Block Kit message to an incoming webhook
 * (https://api.slack.com/messaging/webhooks, https://api.slack.com/reference/block-kit/blocks).
 *
 * The message has a `text` fallback (the one-line summary, used for notifications) and `blocks`:
 * a `header` (plain text, at most 150 characters), a `section` with the summary, a `section` of up to
 * 10 `fields`, a `section` with the last error of each failing region, an `actions` block with a link
 * button when a dashboard URL is known, and a `context` line with the incident and event ids.
 * Slack answers 200 `ok`; 4xx (e.g. 404 `no_service`, 410 `channel_is_archived`) are permanent.
 */
import { isHttpUrl } from '../../../lib/urls.ts';
import { z } from 'zod';
import { viewEvent, type AnyAlertEvent } from '../../events/view.ts';
import { eventFacts, truncate } from './facts.ts';
import { postOnce } from './http.ts';
import { summarize } from '../../events/catalog.ts';
import { ChannelCommonConfig, type ChannelModule, type ChannelRequest } from './types.ts';

export const SLACK_USER_AGENT = 'Lookout-Slack/1';

/** Block Kit limits that a payload must respect. */
export const SLACK_LIMITS = { headerText: 150, sectionText: 3000, fieldText: 2000, fields: 10, contextText: 2000 } as const;

export const SlackConfigSchema = z.strictObject({
  type: z.literal('slack'),
  ...ChannelCommonConfig,
  /**
   * The incoming webhook URL Slack gave you (`https://hooks.slack.com/services/...`). It is a secret:
   * give it as `{ "env": "SLACK_WEBHOOK_URL" }` in the alerting config.
   */
  webhookUrl: z.string().refine(isHttpUrl, 'must be an http(s) URL, like https://hooks.slack.com/services/T000/B000/XXXX'),
});
export type SlackConfig = z.infer<typeof SlackConfigSchema>;

export type SlackText = { type: 'plain_text'; text: string; emoji?: boolean } | { type: 'mrkdwn'; text: string };
export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji: boolean } }
  | { type: 'section'; text?: SlackText; fields?: SlackText[] }
  | { type: 'context'; elements: SlackText[] }
  | { type: 'actions'; elements: Array<{ type: 'button'; text: { type: 'plain_text'; text: string }; url: string }> };

export interface SlackMessage {
  /** Fallback for notifications and clients that cannot show blocks. */
  text: string;
  blocks: SlackBlock[];
}

/** Slack's mrkdwn treats `&`, `<` and `>` as control characters; everything else is literal enough. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const ICON: Record<string, string> = { firing: ':red_circle:', resolved: ':large_green_circle:', notice: ':large_blue_circle:' };

/** The Block Kit message for one event. Pure. */
export function buildSlackMessage(event: AnyAlertEvent, dashboardUrl?: string): SlackMessage {
  const view = viewEvent(event);
  const summary = summarize(event);
  const { title, facts, errors, why } = eventFacts(view);
  const icon = view.kind === 'other' && view.condition === null ? ICON.notice : view.firing ? ICON.firing : ICON.resolved;
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(title, SLACK_LIMITS.headerText), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: truncate(`${icon} ${escapeMrkdwn(summary)}`, SLACK_LIMITS.sectionText) } },
  ];
  // Why the region fails, in one line: the incident's top difference.
  if (why) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(`*Why:* ${escapeMrkdwn(why)}`, SLACK_LIMITS.sectionText) } });
  if (facts.length > 0) {
    blocks.push({
      type: 'section',
      fields: facts.slice(0, SLACK_LIMITS.fields).map(([label, value]) => ({
        type: 'mrkdwn' as const, text: truncate(`*${escapeMrkdwn(label)}*\n${escapeMrkdwn(value)}`, SLACK_LIMITS.fieldText),
      })),
    });
  }
  if (errors.length > 0) {
    const lines = errors.map((e) => `*${escapeMrkdwn(e.region)}*: \`${escapeMrkdwn(e.code)}\` ${escapeMrkdwn(e.message)}`);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(lines.join('\n'), SLACK_LIMITS.sectionText) } });
  }
  if (dashboardUrl) {
    blocks.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open Lookout' }, url: dashboardUrl }] });
  }
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: truncate(escapeMrkdwn(`Lookout · ${event.type} · event ${event.id} · ${new Date(event.at).toISOString()}`), SLACK_LIMITS.contextText) }],
  });
  // The fallback `text` is mrkdwn too: a check named `<!channel>` must not ping anyone.
  return { text: escapeMrkdwn(summary), blocks };
}

export const slackChannel: ChannelModule<SlackConfig> = {
  type: 'slack',
  ordering: 'every-event',
  configSchema: SlackConfigSchema,

  buildPayload(event, _config, context): ChannelRequest {
    return {
      headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': SLACK_USER_AGENT },
      body: JSON.stringify(buildSlackMessage(event, context.dashboardUrl)),
    };
  },

  send(request, config, context) {
    return postOnce(config.webhookUrl, request, context, { timeoutMs: config.timeoutMs });
  },
};
