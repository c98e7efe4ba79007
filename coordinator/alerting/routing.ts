/**
 * Alert routing: which channels an event goes to, by event type, incident scope, check tags and
 * severity. Pure: {@link route} is a function of the event's routing facts and the rules.
 *
 * Rules are checked in order; every rule whose `match` holds adds its channels (in rule order, each
 * channel once). An event that no rule matches goes to `default`. Within a `match`, every field given
 * must hold (AND); within a field, any listed value may (OR); an empty `match` matches every event.
 * - `events`: event types, exact (`incident.opened`) or a family (`incident.*`), or `*`.
 * - `scope`: `regional` and/or `global`; events without a scope (probe events, `monitoring.*`) never match it.
 * - `tags`: the check has at least one of these tags; events about no check never match it.
 * - `severity`: `critical`, `error`, `warning`, `info` (see `severityOf` in channels/event-view.ts).
 *
 * Events about the monitoring itself (`probe.*`, `monitoring.degraded` / `monitoring.recovered`) carry no
 * check and no incident: route them to the operators by type (`{ "events": ["probe.*", "monitoring.*"] }`);
 * no rule about incidents, scopes or check tags ever picks them up as a target's outage.
 *
 * Routing alone does not keep an incident's events together (it may start regional and turn global);
 * delivery adds the channels that got an earlier event of the same incident (see delivery.ts).
 */
import { z } from 'zod';
import { describeZodError } from '../../lib/zod-problems.ts';
import { KNOWN_EVENT_TYPES } from '../events/catalog.ts';
import { SEVERITIES, carriedTags, scopeOf, severityOf, type AnyAlertEvent, type Severity } from '../events/view.ts';
import { ChannelName } from './channels/types.ts';

/** Routing patterns must match at least one of these. */
export { KNOWN_EVENT_TYPES };

/** Whether an event type matches a pattern: exact, `family.*`, or `*`. */
export function eventTypeMatches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** A value or a list of values; a single value is taken as a list of one (problems then name index 0). */
const oneOrMany = <T extends z.ZodType>(item: T) =>
  z.preprocess((value) => (typeof value === 'string' ? [value] : value), z.array(item).min(1, 'must list at least one value'));

const EventPattern = z.string()
  .regex(/^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$/, 'must be an event type like "incident.opened", a family like "incident.*", or "*"')
  .refine((pattern) => KNOWN_EVENT_TYPES.some((type) => eventTypeMatches(pattern, type)),
    { message: `matches no event type Lookout emits (known: ${KNOWN_EVENT_TYPES.join(', ')})` });

export const RouteMatchSchema = z.strictObject({
  /** Event types or families (`incident.*`). @defaultValue every type */
  events: oneOrMany(EventPattern).optional(),
  /** Incident scopes. @defaultValue any (and events without a scope) */
  scope: oneOrMany(z.enum(['regional', 'global'])).optional(),
  /** The check has any of these tags. @defaultValue any (and events about no check) */
  tags: oneOrMany(z.string().min(1).max(64)).optional(),
  /** Severities. @defaultValue any */
  severity: oneOrMany(z.enum(SEVERITIES)).optional(),
});
export type RouteMatch = z.infer<typeof RouteMatchSchema>;

export const RouteRuleSchema = z.strictObject({
  /** What the event must be. @defaultValue {} (every event) */
  match: RouteMatchSchema.default({}),
  /** Channel names (from `channels`) the matching events go to. */
  channels: z.array(ChannelName).min(1, 'must name at least one channel'),
});
export type RouteRule = z.infer<typeof RouteRuleSchema>;

export const RoutesSchema = z.strictObject({
  /** Checked in order; every matching rule adds its channels. @defaultValue [] */
  rules: z.array(RouteRuleSchema).default([]),
  /** Channels for events that no rule matches. @defaultValue [] (such events are not sent) */
  default: z.array(ChannelName).default([]),
});
export type Routes = z.infer<typeof RoutesSchema>;

/** What routing looks at in an event. */
export interface RoutableEvent {
  type: string;
  scope: 'regional' | 'global' | null;
  /** Tags of the check the event is about; empty when none (or about no check). */
  tags: readonly string[];
  severity: Severity;
}

/** The routing facts of an event; `tags` come from the event itself when it carries them, else from the registry. */
export function routableEvent(event: AnyAlertEvent, lookedUpTags: readonly string[] = []): RoutableEvent {
  return { type: event.type, scope: scopeOf(event), tags: carriedTags(event) ?? lookedUpTags, severity: severityOf(event) };
}

export function matches(match: RouteMatch, event: RoutableEvent): boolean {
  if (match.events && !match.events.some((pattern) => eventTypeMatches(pattern, event.type))) return false;
  if (match.scope && (event.scope === null || !match.scope.includes(event.scope))) return false;
  if (match.tags && !match.tags.some((tag) => event.tags.includes(tag))) return false;
  if (match.severity && !match.severity.includes(event.severity)) return false;
  return true;
}

/** The channels an event goes to: the union of the matching rules' channels, else `default`. Pure. */
export function route(event: RoutableEvent, routes: Routes): string[] {
  const chosen: string[] = [];
  let matched = false;
  for (const rule of routes.rules) {
    if (!matches(rule.match, event)) continue;
    matched = true;
    for (const name of rule.channels) if (!chosen.includes(name)) chosen.push(name);
  }
  return matched ? chosen : [...routes.default];
}

/** Whether any rule looks at tags (only then are check tags looked up for events that carry none). */
export function usesTags(routes: Routes): boolean {
  return routes.rules.some((rule) => rule.match.tags !== undefined);
}

/** Routes that send every event to every one of `channelNames` (used when no routes are configured). */
export function everythingTo(channelNames: readonly string[]): Routes {
  return { rules: [], default: [...channelNames] };
}

/** `routes` with `channelNames` added to every rule and the default, so they receive every event. */
export function alsoEverythingTo(routes: Routes, channelNames: readonly string[]): Routes {
  if (channelNames.length === 0) return routes;
  const add = (list: readonly string[]) => [...list, ...channelNames.filter((name) => !list.includes(name))];
  return { rules: routes.rules.map((rule) => ({ ...rule, channels: add(rule.channels) })), default: add(routes.default) };
}

export type RoutesResult = { ok: true; routes: Routes } | { ok: false; problems: string[] };

/**
 * Validates routes and checks that every channel they name exists; reports every problem at once,
 * each with its path (`routes.rules[1].channels[0]: no channel named "pager"`).
 */
export function parseRoutes(input: unknown, channelNames: readonly string[], at = 'routes'): RoutesResult {
  const parsed = RoutesSchema.safeParse(input);
  if (!parsed.success) return { ok: false, problems: describeZodError(parsed.error, at) };
  const problems: string[] = [];
  const known = (name: string, where: string) => {
    if (!channelNames.includes(name)) {
      problems.push(`${where}: no channel named "${name}" (channels: ${channelNames.length > 0 ? channelNames.join(', ') : 'none'})`);
    }
  };
  parsed.data.rules.forEach((rule, i) => rule.channels.forEach((name, j) => known(name, `${at}.rules[${i}].channels[${j}]`)));
  parsed.data.default.forEach((name, j) => known(name, `${at}.default[${j}]`));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, routes: parsed.data };
}
