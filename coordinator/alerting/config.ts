/**
 * The alerting configuration: channels and routes from the JSON file named by `--alerting-config`
 * (`LOOKOUT_ALERTING_CONFIG`), plus the webhooks given with `--webhook-url`. Validated once at
 * start-up; every problem is reported at once with its JSON path.
 *
 * File format:
 * ```json
 * {
 *   "dashboardUrl": "https://lookout.example.com",
 *   "channels": [
 *     { "type": "slack", "name": "chat", "webhookUrl": { "env": "SLACK_WEBHOOK_URL" } },
 *     { "type": "pagerduty", "name": "page", "routingKey": { "env": "PAGERDUTY_ROUTING_KEY" } }
 *   ],
 *   "routes": {
 *     "rules": [
 *       { "match": { "scope": "regional" }, "channels": ["chat"] },
 *       { "match": { "scope": "global" }, "channels": ["page", "chat"] }
 *     ],
 *     "default": ["chat"]
 *   }
 * }
 * ```
 * Any value may be written `{ "env": "NAME" }`: it is replaced by the coordinator's environment
 * variable NAME (meant for secrets, so they stay out of the file). Without `routes`, every event goes
 * to every channel. Channels from `--webhook-url` (named `webhook-1`, `webhook-2`, ...) receive every
 * event in addition to the routes.
 */
import { isHttpUrl } from '../../lib/urls.ts';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseChannelConfigs, type ChannelConfig } from './channels/index.ts';
import { describeZodError, jsonPath } from '../../lib/zod-problems.ts';
import { webhookChannels, type CoordinatorConfig } from '../config.ts';
import { CodedError } from '../../lib/errors.ts';
import { alsoEverythingTo, everythingTo, parseRoutes, type Routes } from './routing.ts';

/** Alerting as the coordinator runs it: validated channels, routes over them, and the link base. */
export interface AlertingSetup {
  channels: ChannelConfig[];
  routes: Routes;
  /** Base URL of the dashboard for links in alerts (no trailing slash). */
  dashboardUrl?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const AlertingFileSchema = z.strictObject({
  /** Editors' JSON-schema hint; ignored. */
  $schema: z.string().optional(),
  /**
   * Where people open the Lookout dashboard, for links in alerts (Slack buttons, PagerDuty links,
   * Alertmanager `generatorURL`). @defaultValue undefined (alerts carry no links)
   */
  dashboardUrl: z.string().refine(isHttpUrl, 'must be an http(s) URL, like https://lookout.example.com').optional(),
  /** Channel configs; checked per type by parseChannelConfigs. @defaultValue [] */
  channels: z.array(z.unknown()).default([]),
  /** Routes; checked by parseRoutes. @defaultValue every event to every channel */
  routes: z.unknown().optional(),
});

/** `{ "env": "NAME" }` and nothing else. */
function isEnvRef(value: unknown): value is { env: string } {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    && Object.keys(value).length === 1 && typeof (value as { env?: unknown }).env === 'string';
}

/**
 * Replaces every `{ "env": "NAME" }` in `value` by the variable's value; a variable that is not set
 * (or empty) is a problem at that path. Pure (the environment is an argument).
 */
export function resolveEnvRefs(value: unknown, env: Env, at: string, problems: string[], path: ReadonlyArray<string | number> = []): unknown {
  if (isEnvRef(value)) {
    const resolved = env[value.env];
    if (resolved === undefined || resolved === '') {
      problems.push(`${jsonPath(at, path)}: environment variable ${value.env} is not set`);
      return undefined;
    }
    return resolved;
  }
  if (Array.isArray(value)) return value.map((item, i) => resolveEnvRefs(item, env, at, problems, [...path, i]));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveEnvRefs(item, env, at, problems, [...path, key])]));
  }
  return value;
}

export type AlertingResult = { ok: true; setup: AlertingSetup } | { ok: false; problems: string[] };

/**
 * Validates a parsed alerting file (`file` is null when none is configured) together with the flags'
 * webhooks. Every problem is `<source>: <json path>: <message>`. Pure.
 */
export function parseAlertingConfig(
  file: { source: string; content: unknown } | null,
  flags: Pick<CoordinatorConfig, 'webhookUrls' | 'webhookSecret'>,
  env: Env,
): AlertingResult {
  const problems: string[] = [];
  const flagChannels = webhookChannels(flags);
  const flagNames = flagChannels.map((channel) => channel.name);

  if (file === null) {
    const parsed = parseChannelConfigs(flagChannels, '--webhook-url');
    if (!parsed.ok) return { ok: false, problems: parsed.problems };
    return { ok: true, setup: { channels: parsed.channels, routes: everythingTo(flagNames) } };
  }

  // Problems inside the file are reported as `<file>: <json path>: <message>`.
  const inFile: string[] = [];
  const resolved = resolveEnvRefs(file.content, env, '', inFile);
  const top = AlertingFileSchema.safeParse(resolved);
  if (!top.success) inFile.push(...describeZodError(top.error));
  // Channels and routes are checked even when the top level has problems, so everything shows at once.
  const raw = typeof resolved === 'object' && resolved !== null && !Array.isArray(resolved) ? resolved as Record<string, unknown> : {};
  const rawChannels = Array.isArray(raw.channels) ? raw.channels as unknown[] : [];
  const fileChannels = parseChannelConfigs(rawChannels, 'channels');
  if (!fileChannels.ok) inFile.push(...fileChannels.problems);
  const fileNames = rawChannels.map((entry) => (entry as { name?: unknown } | null)?.name).filter((name): name is string => typeof name === 'string');

  let routes: Routes = everythingTo([...fileNames, ...flagNames]);
  if (raw.routes !== undefined) {
    const parsedRoutes = parseRoutes(raw.routes, fileNames, 'routes');
    if (!parsedRoutes.ok) inFile.push(...parsedRoutes.problems);
    else routes = alsoEverythingTo(parsedRoutes.routes, flagNames);
  }
  // A value whose variable is missing is reported once, not again as the missing value its schema finds.
  const unset = inFile.filter((p) => p.endsWith(' is not set')).map((p) => p.slice(0, p.indexOf(': ')));
  const shown = inFile.filter((p) => p.endsWith(' is not set') || !unset.some((path) => p.startsWith(`${path}: `)));
  problems.push(...shown.map((problem) => `${file.source}: ${problem}`));

  for (const name of flagNames.filter((n) => fileNames.includes(n))) {
    problems.push(`--webhook-url: channel name "${name}" is also used in ${file.source}; rename that channel`);
  }
  const flagParsed = parseChannelConfigs(flagChannels, '--webhook-url');
  if (!flagParsed.ok) problems.push(...flagParsed.problems);

  if (problems.length > 0 || !top.success || !fileChannels.ok || !flagParsed.ok) return { ok: false, problems };
  return {
    ok: true,
    setup: {
      channels: [...fileChannels.channels, ...flagParsed.channels],
      routes,
      ...(top.data.dashboardUrl ? { dashboardUrl: top.data.dashboardUrl.replace(/\/+$/, '') } : {}),
    },
  };
}

/**
 * Reads the file named by `config.alertingConfigFile` (if any) and validates it with the flags'
 * webhooks. Never throws: unreadable files and bad JSON are problems too.
 */
export function loadAlertingConfig(
  config: Pick<CoordinatorConfig, 'alertingConfigFile' | 'webhookUrls' | 'webhookSecret'>,
  env: Env,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): AlertingResult {
  if (config.alertingConfigFile === null) return parseAlertingConfig(null, config, env);
  const source = config.alertingConfigFile;
  let text: string;
  try {
    text = readFile(source);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { ok: false, problems: [`--alerting-config: cannot read ${JSON.stringify(source)}${typeof code === 'string' ? ` (${code})` : ''}`] };
  }
  let content: unknown;
  try {
    content = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`${source}: not valid JSON: ${(error as Error).message}`] };
  }
  return parseAlertingConfig({ source, content }, config, env);
}

/** {@link loadAlertingConfig} for start-up: throws `INVALID_ALERTING_CONFIG` listing every problem. */
export function requireAlertingConfig(
  config: Pick<CoordinatorConfig, 'alertingConfigFile' | 'webhookUrls' | 'webhookSecret'>,
  env: Env,
): AlertingSetup {
  const result = loadAlertingConfig(config, env);
  if (result.ok) return result.setup;
  throw new AlertingConfigError(result.problems);
}

export class AlertingConfigError extends CodedError<'INVALID_ALERTING_CONFIG'> {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('INVALID_ALERTING_CONFIG', `invalid alerting configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}
