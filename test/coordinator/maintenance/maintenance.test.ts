import { describe, expect, it } from 'vitest';
import {
  MaintenanceInput, activeOccurrence, checkMaintenance, coversCheck, isInMaintenance, nextOccurrence, occurrencesBetween, zonedTimeToUtc,
  type MaintenanceSchedule, type MaintenanceWindow,
} from '../../../coordinator/maintenance/maintenance.ts';

const iso = (s: string): number => Date.parse(s);
const HOUR = 3_600_000;

describe('MaintenanceInput', () => {
  const valid = { name: 'db upgrade', checks: ['shop'], schedule: { type: 'once', start: '2025-05-01T02:00:00Z', end: '2025-05-01T04:00:00Z' } };
  it('accepts ISO or epoch instants and fills defaults', () => {
    const parsed = MaintenanceInput.parse(valid);
    expect(parsed).toEqual({ name: 'db upgrade', checks: ['shop'], tags: [], schedule: { type: 'once', start: iso('2025-05-01T02:00:00Z'), end: iso('2025-05-01T04:00:00Z') } });
    const weekly = MaintenanceInput.parse({ name: 'w', tags: ['db'], schedule: { type: 'weekly', days: ['sun'], at: '03:00', durationMs: HOUR } });
    expect(weekly.schedule).toMatchObject({ timeZone: 'UTC' });
  });

  const invalid: Array<{ name: string; body: unknown; field: string }> = [
    { name: 'no target', body: { ...valid, checks: [] }, field: 'checks' },
    { name: 'end before start', body: { ...valid, schedule: { type: 'once', start: 2_000, end: 1_000 } }, field: 'schedule.end' },
    { name: 'instant without a zone', body: { ...valid, schedule: { type: 'once', start: '2025-05-01T02:00:00', end: 5 } }, field: 'schedule.start' },
    { name: 'bad check id', body: { ...valid, checks: ['Not An Id'] }, field: 'checks.0' },
    { name: 'unknown field', body: { ...valid, region: 'x' }, field: '' },
    { name: 'bad time of day', body: { name: 'w', tags: ['x'], schedule: { type: 'weekly', days: ['mon'], at: '24:00', durationMs: HOUR } }, field: 'schedule.at' },
    { name: 'unknown day', body: { name: 'w', tags: ['x'], schedule: { type: 'weekly', days: ['monday'], at: '02:00', durationMs: HOUR } }, field: 'schedule.days.0' },
    { name: 'unknown time zone', body: { name: 'w', tags: ['x'], schedule: { type: 'weekly', days: ['mon'], at: '02:00', durationMs: HOUR, timeZone: 'Mars/Olympus' } }, field: 'schedule.timeZone' },
    { name: 'too long', body: { name: 'w', tags: ['x'], schedule: { type: 'weekly', days: ['mon'], at: '02:00', durationMs: 8 * 24 * HOUR } }, field: 'schedule.durationMs' },
    { name: 'unknown schedule type', body: { name: 'w', tags: ['x'], schedule: { type: 'daily' } }, field: 'schedule.type' },
  ];
  it.each(invalid)('refuses $name, naming the field', ({ body, field }) => {
    const parsed = MaintenanceInput.safeParse(body);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.path.join('.'))).toContain(field);
  });

  it.each([['text', 'soon'], ['a fraction', 1.5], ['a boolean', true]])('explains what an instant must be when it is %s', (_kind, start) => {
    const parsed = MaintenanceInput.safeParse({ ...valid, schedule: { type: 'once', start, end: '2025-05-01T04:00:00Z' } });
    expect(parsed.success).toBe(false);
    const issue = parsed.error!.issues.find((i) => i.path.join('.') === 'schedule.start');
    expect(issue?.message).toMatch(/epoch milliseconds.*ISO 8601/);
  });
});

describe('occurrences', () => {
  const weeklyUtc: MaintenanceSchedule = { type: 'weekly', days: ['sun', 'wed'], at: '02:30', durationMs: 2 * HOUR, timeZone: 'UTC' };
  // 2025-03-30 is a Sunday, the night Europe/Berlin moves from UTC+1 to UTC+2.
  const weeklyBerlin: MaintenanceSchedule = { type: 'weekly', days: ['sun'], at: '04:00', durationMs: HOUR, timeZone: 'Europe/Berlin' };
  const cases: Array<{ name: string; schedule: MaintenanceSchedule; at: string; active: boolean }> = [
    { name: 'once: inside', schedule: { type: 'once', start: iso('2025-05-01T02:00:00Z'), end: iso('2025-05-01T04:00:00Z') }, at: '2025-05-01T03:59:59Z', active: true },
    { name: 'once: the end is exclusive', schedule: { type: 'once', start: iso('2025-05-01T02:00:00Z'), end: iso('2025-05-01T04:00:00Z') }, at: '2025-05-01T04:00:00Z', active: false },
    { name: 'weekly UTC: at the start', schedule: weeklyUtc, at: '2025-06-01T02:30:00Z', active: true },
    { name: 'weekly UTC: a minute before', schedule: weeklyUtc, at: '2025-06-01T02:29:00Z', active: false },
    { name: 'weekly UTC: another listed day', schedule: weeklyUtc, at: '2025-06-04T04:00:00Z', active: true },
    { name: 'weekly UTC: an unlisted day', schedule: weeklyUtc, at: '2025-06-02T03:00:00Z', active: false },
    { name: 'weekly, running past midnight into the next day', schedule: { ...weeklyUtc, days: ['sat'], at: '23:00' }, at: '2025-06-01T00:30:00Z', active: true },
    { name: 'Berlin in winter: 04:00 local is 03:00Z', schedule: weeklyBerlin, at: '2025-03-23T03:30:00Z', active: true },
    { name: 'Berlin after the switch: 04:00 local is 02:00Z', schedule: weeklyBerlin, at: '2025-03-30T02:30:00Z', active: true },
    { name: 'Berlin after the switch: 03:00Z is already over', schedule: weeklyBerlin, at: '2025-03-30T03:00:00Z', active: false },
    { name: 'weekly before its from', schedule: { ...weeklyUtc, from: iso('2025-06-02T00:00:00Z') }, at: '2025-06-01T03:00:00Z', active: false },
    { name: 'weekly after its until', schedule: { ...weeklyUtc, until: iso('2025-05-01T00:00:00Z') }, at: '2025-06-01T03:00:00Z', active: false },
  ];
  it.each(cases)('$name', ({ schedule, at, active }) => {
    expect(activeOccurrence(schedule, iso(at)) !== null).toBe(active);
  });

  it('lists every occurrence overlapping a span, and the next one', () => {
    const list = occurrencesBetween(weeklyUtc, iso('2025-06-01T03:00:00Z'), iso('2025-06-08T03:00:00Z'));
    expect(list.map((o) => new Date(o.start).toISOString())).toEqual(['2025-06-01T02:30:00.000Z', '2025-06-04T02:30:00.000Z', '2025-06-08T02:30:00.000Z']);
    expect(new Date(nextOccurrence(weeklyUtc, iso('2025-06-04T02:30:00Z'))!.start).toISOString()).toBe('2025-06-08T02:30:00.000Z');
    expect(nextOccurrence({ type: 'once', start: 10, end: 20 }, 15)).toBeNull();
  });

  it.each([
    ['a plain summer time', 2025, 7, 1, 4, 0, 'Europe/Berlin', '2025-07-01T02:00:00.000Z'],
    ['a time skipped by the spring jump lands after it', 2025, 3, 30, 2, 30, 'Europe/Berlin', '2025-03-30T01:30:00.000Z'],
    ['a repeated autumn time takes its first instance', 2025, 10, 26, 2, 30, 'Europe/Berlin', '2025-10-26T00:30:00.000Z'],
    ['New York', 2025, 1, 15, 9, 0, 'America/New_York', '2025-01-15T14:00:00.000Z'],
  ] as const)('zonedTimeToUtc: %s', (_name, y, m, d, h, min, zone, expected) => {
    expect(new Date(zonedTimeToUtc(y, m, d, h, min, zone)).toISOString()).toBe(expected);
  });
});

describe('which checks a window covers', () => {
  const window = (overrides: Partial<MaintenanceWindow>): MaintenanceWindow => ({
    id: 'mw-1', createdAt: 0, name: 'w', checks: [], tags: [], schedule: { type: 'once', start: 1_000, end: 2_000 }, ...overrides,
  });
  it.each([
    ['by id', window({ checks: ['shop'] }), true],
    ['by tag', window({ tags: ['db'] }), true],
    ['neither', window({ checks: ['other'], tags: ['x'] }), false],
  ] as const)('%s', (_name, w, covered) => {
    expect(coversCheck(w, { id: 'shop', tags: ['db', 'eu'] })).toBe(covered);
    expect(isInMaintenance([w], { id: 'shop', tags: ['db', 'eu'] }, 1_500)).toBe(covered);
  });

  it('marks the uptime windows that overlapped maintenance', () => {
    const now = iso('2025-06-10T12:00:00Z');
    const twoDaysAgo = window({ checks: ['shop'], schedule: { type: 'once', start: now - 48 * HOUR, end: now - 47 * HOUR } });
    const summary = checkMaintenance([twoDaysAgo], { id: 'shop', tags: [] }, now);
    expect(summary.active).toEqual([]);
    expect(summary.uptimeWindows['1h']).toEqual([]);
    expect(summary.uptimeWindows['24h']).toEqual([]);
    expect(summary.uptimeWindows['7d']).toEqual([{ windowId: 'mw-1', name: 'w', start: now - 48 * HOUR, end: now - 47 * HOUR }]);
    expect(summary.uptimeWindows['30d']).toHaveLength(1);
  });
});
