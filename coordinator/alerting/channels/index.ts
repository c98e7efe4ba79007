/**
 * The registry of alert channels. To add one: write `coordinator/channels/<type>.ts` exporting a
 * {@link ChannelModule} and its config schema, add its config type to {@link ChannelConfig}, and add
 * it to {@link channelModules} (which fails to compile until you do).
 */
import { describeZodError } from '../../../lib/zod-problems.ts';
import { alertmanagerChannel, type AlertmanagerConfig } from './alertmanager.ts';
import { emailChannel, type EmailConfig } from './email.ts';
import { pagerDutyChannel, type PagerDutyConfig } from './pagerduty.ts';
import { slackChannel, type SlackConfig } from './slack.ts';
import type { ChannelModule } from './types.ts';
import { webhookChannel, type WebhookConfig } from './webhook.ts';

/** A validated channel config, of any type. */
export type ChannelConfig = WebhookConfig | SlackConfig | PagerDutyConfig | EmailConfig | AlertmanagerConfig;
export type ChannelType = ChannelConfig['type'];

// `any` request: each module builds and sends its own request type (HTTP body, email message).
export type ChannelTable = { [T in ChannelType]: ChannelModule<Extract<ChannelConfig, { type: T }>, any> };

export const channelModules: ChannelTable = {
  webhook: webhookChannel,
  slack: slackChannel,
  pagerduty: pagerDutyChannel,
  email: emailChannel,
  alertmanager: alertmanagerChannel,
};

/** The module for a config's type, typed to accept that config. */
export function moduleFor<C extends ChannelConfig>(config: C): ChannelModule<C, unknown> {
  return channelModules[config.type as ChannelType] as unknown as ChannelModule<C, unknown>;
}

export type ChannelConfigsResult = { ok: true; channels: ChannelConfig[] } | { ok: false; problems: string[] };

/**
 * Validates a list of channel configs with each type's schema and reports every problem at once,
 * each naming where it is: `channels[0].url: must be an http(s) URL...`.
 *
 * @param at - Where the list sits in the user's configuration, for the messages.
 */
export function parseChannelConfigs(input: unknown, at = 'channels'): ChannelConfigsResult {
  if (!Array.isArray(input)) return { ok: false, problems: [`${at}: must be a list of channel configs`] };
  const problems: string[] = [];
  const channels: ChannelConfig[] = [];
  const firstIndexOfName = new Map<string, number>();
  input.forEach((entry: unknown, index) => {
    const where = `${at}[${index}]`;
    const raw = typeof entry === 'object' && entry !== null ? entry as { type?: unknown; name?: unknown } : {};
    // Names are compared even on invalid entries, so a duplicate is reported along with other problems.
    if (typeof raw.name === 'string') {
      const earlier = firstIndexOfName.get(raw.name);
      if (earlier !== undefined) problems.push(`${where}.name: "${raw.name}" is already the name of ${at}[${earlier}]; names must be unique`);
      else firstIndexOfName.set(raw.name, index);
    }
    if (typeof raw.type !== 'string' || !Object.hasOwn(channelModules, raw.type)) {
      problems.push(`${where}.type: unknown channel type ${JSON.stringify(raw.type)} (known: ${Object.keys(channelModules).join(', ')})`);
      return;
    }
    const parsed = channelModules[raw.type as ChannelType].configSchema.safeParse(entry);
    if (!parsed.success) problems.push(...describeZodError(parsed.error, where));
    else channels.push(parsed.data);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, channels };
}

export type { ChannelModule, ChannelOrdering, ChannelRequest, SendOutcome, SendFailureCode, PayloadContext, SendContext } from './types.ts';
