import { describe, expect, it } from 'vitest';
import {
  alsoEverythingTo, eventTypeMatches, everythingTo, parseRoutes, route, routableEvent, usesTags,
  type RoutableEvent, type Routes,
} from '../../../coordinator/alerting/routing.ts';
import { sampleEvents } from './support.ts';

const CHANNELS = ['chat', 'page', 'operators', 'audit', 'web-team'];

function routes(input: unknown): Routes {
  const parsed = parseRoutes(input, CHANNELS);
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  return parsed.routes;
}

/** The example from the issue: regional → chat, global → page, probe offline → the operators. */
const example = routes({
  rules: [
    { match: { events: 'incident.*', scope: 'regional' }, channels: ['chat'] },
    { match: { events: ['incident.*'], scope: ['global'] }, channels: ['page', 'chat'] },
    { match: { events: ['probe.*'] }, channels: ['operators'] },
    { match: { tags: ['web', 'storefront'] }, channels: ['web-team'] },
    { match: { severity: 'critical', tags: 'payments' }, channels: ['page'] },
  ],
  default: ['audit'],
});

const ev = (patch: Partial<RoutableEvent>): RoutableEvent => ({ type: 'incident.opened', scope: 'regional', tags: [], severity: 'warning', ...patch });

describe('route', () => {
  it.each<[string, RoutableEvent, string[]]>([
    ['a regional incident goes to chat', ev({}), ['chat']],
    ['its update and resolution too', ev({ type: 'incident.resolved' }), ['chat']],
    ['a global incident pages and chats, in rule order', ev({ scope: 'global', severity: 'critical' }), ['page', 'chat']],
    ['a probe going offline goes to the operators', ev({ type: 'probe.offline', scope: null }), ['operators']],
    ['and coming back too', ev({ type: 'probe.online', scope: null }), ['operators']],
    ['a tagged check adds its team, once per channel', ev({ tags: ['storefront', 'web'] }), ['chat', 'web-team']],
    ['all fields of a match must hold: critical but not payments', ev({ scope: 'global', severity: 'critical', tags: ['web'] }), ['page', 'chat', 'web-team']],
    ['critical payments on a regional incident add the pager', ev({ severity: 'critical', tags: ['payments'] }), ['chat', 'page']],
    ['payments but not critical do not', ev({ severity: 'warning', tags: ['payments'] }), ['chat']],
    ['an event no rule matches goes to the default', ev({ type: 'slo.burn_rate', scope: null, severity: 'error' }), ['audit']],
    ['a scope rule never matches an event without a scope', ev({ type: 'check.degraded', scope: null }), ['audit']],
  ])('%s', (_name, event, expected) => {
    expect(route(event, example)).toEqual(expected);
  });

  it('sends the monitoring\'s own degradations to the operators\' route, and never as a target incident', () => {
    const operators = routes({
      rules: [
        { match: { events: 'incident.*', scope: ['regional', 'global'] }, channels: ['page'] },
        { match: { tags: ['web'] }, channels: ['web-team'] },
        { match: { events: ['probe.*', 'monitoring.*'] }, channels: ['operators'] },
      ],
      default: ['audit'],
    });
    const degraded = { id: 'monitoring.degraded:redis-failover:1', type: 'monitoring.degraded', at: 1, reason: 'redis-failover', since: 1, detail: 'primary a → b' };
    const event = routableEvent(degraded);
    expect(event).toEqual({ type: 'monitoring.degraded', scope: null, tags: [], severity: 'warning' });
    expect(route(event, operators)).toEqual(['operators']);
    expect(route(routableEvent({ ...degraded, type: 'monitoring.recovered' }), operators)).toEqual(['operators']);
    expect(route(event, example)).toEqual(['audit']);
  });

  it('sends nothing when nothing matches and there is no default', () => {
    expect(route(ev({ type: 'probe.offline', scope: null }), routes({ rules: [{ match: { scope: 'global' }, channels: ['page'] }] }))).toEqual([]);
  });

  it('an empty match matches everything; without routes everything goes everywhere', () => {
    expect(route(ev({ type: 'probe.online', scope: null }), routes({ rules: [{ channels: ['audit'] }] }))).toEqual(['audit']);
    expect(route(ev({}), everythingTo(['a', 'b']))).toEqual(['a', 'b']);
  });

  it('adds flag channels to every rule and the default', () => {
    const both = alsoEverythingTo(example, ['webhook-1']);
    expect(route(ev({}), both)).toEqual(['chat', 'webhook-1']);
    expect(route(ev({ type: 'slo.burn_rate', scope: null }), both)).toEqual(['audit', 'webhook-1']);
    expect(alsoEverythingTo(example, [])).toBe(example);
  });

  it.each([
    ['*', 'probe.online', true], ['incident.*', 'incident.opened', true], ['incident.*', 'incidents.x', false],
    ['incident.opened', 'incident.opened', true], ['incident.opened', 'incident.updated', false], ['probe.*', 'incident.opened', false],
  ])('pattern %s against %s → %s', (pattern, type, expected) => {
    expect(eventTypeMatches(pattern, type)).toBe(expected);
  });
});

describe('routableEvent', () => {
  const events = sampleEvents();
  it.each([
    ['opened (regional)', events.opened, { type: 'incident.opened', scope: 'regional', severity: 'warning' }],
    ['updated (global)', events.updated, { type: 'incident.updated', scope: 'global', severity: 'critical' }],
    // A resolution keeps its incident's severity, so it routes where the incident went.
    ['resolved (was global)', events.resolved, { type: 'incident.resolved', scope: 'global', severity: 'critical' }],
    ['probe offline', events.offline, { type: 'probe.offline', scope: null, severity: 'warning' }],
    ['a type added later, with its own severity', events.future, { type: 'certificate.expiring', scope: null, severity: 'error' }],
  ])('%s', (_name, event, expected) => {
    expect(routableEvent(event, ['looked-up'])).toEqual({ tags: ['looked-up'], ...expected });
  });

  it('prefers tags the event carries over looked-up ones', () => {
    const tagged = { ...events.opened, check: { ...events.opened.check, tags: ['web'] } };
    expect(routableEvent(tagged, ['stale']).tags).toEqual(['web']);
  });
});

describe('parseRoutes', () => {
  it('applies defaults and knows when tags are needed', () => {
    expect(routes({})).toEqual({ rules: [], default: [] });
    expect(usesTags(example)).toBe(true);
    expect(usesTags(routes({ rules: [{ match: { scope: 'global' }, channels: ['page'] }] }))).toBe(false);
  });

  it('reports every problem at once, each with its JSON path', () => {
    const parsed = parseRoutes({
      rules: [
        { match: { events: ['incident.opend'], scope: 'everywhere' }, channels: ['chat'] },
        { match: { severity: ['sev1'], tag: ['web'] }, channels: [] },
        { match: {}, channels: ['Pager Duty'] },
      ],
      default: 'audit',
    }, CHANNELS);
    expect(parsed.ok).toBe(false);
    const problems = parsed.ok ? [] : parsed.problems;
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^routes\.rules\[0\]\.match\.events\[0\]: matches no event type Lookout emits/),
      expect.stringMatching(/^routes\.rules\[0\]\.match\.scope/),
      expect.stringMatching(/^routes\.rules\[1\]\.match\.severity/),
      expect.stringMatching(/^routes\.rules\[1\]\.match: .*tag/),
      'routes.rules[1].channels: must name at least one channel',
      expect.stringMatching(/^routes\.rules\[2\]\.channels\[0\]: must be 1-64 chars/),
      expect.stringMatching(/^routes\.default: /),
    ]));
    expect(problems).toHaveLength(7);
  });

  it('names channels that do not exist', () => {
    expect(parseRoutes({ rules: [{ channels: ['chat', 'pager'] }], default: ['nobody'] }, CHANNELS)).toEqual({
      ok: false,
      problems: [
        'routes.rules[0].channels[1]: no channel named "pager" (channels: chat, page, operators, audit, web-team)',
        'routes.default[0]: no channel named "nobody" (channels: chat, page, operators, audit, web-team)',
      ],
    });
  });
});
