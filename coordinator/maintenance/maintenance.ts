/**
 * Maintenance windows, pure: the API's input schema, which checks a window covers (by check id or tag),
 * and when it is on: once (`start` to `end`), or weekly (days of the week, a local start time and a
 * duration, in a time zone: `UTC` or any IANA zone such as `Europe/Berlin`, daylight saving included).
 *
 * During a window runs go on and are recorded, but incidents and notifications are held back, and the
 * runs are left out of uptime, latency and SLOs (rollups.ts counts them apart); the API marks every
 * uptime window that overlapped maintenance, so that the exclusion is visible.
 */
import { z } from 'zod';
import { CheckId } from '../../checks/contract.ts';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = typeof WEEKDAYS[number];

/** Longest single occurrence, and the most occurrences one query walks (bounds every loop here). */
export const MAX_WINDOW_MS = 7 * 86_400_000;
const MAX_DAYS_SCANNED = 400;

/** An instant: epoch ms, or an ISO 8601 date-time with an offset (`2025-05-01T02:00:00Z`). */
const Instant = z.union([
  z.number().int().nonnegative(),
  z.string().datetime({ offset: true }).transform((s) => Date.parse(s)),
], { error: 'expected epoch milliseconds (a non-negative integer) or an ISO 8601 date-time with a time zone, e.g. 2025-05-01T02:00:00Z' });

const TimeZone = z.string().min(1).max(64).refine(isTimeZone, 'unknown time zone (use UTC or an IANA name such as Europe/Berlin)');

const OnceSchedule = z.object({
  type: z.literal('once'),
  start: Instant,
  end: Instant,
}).refine((s) => s.end > s.start, { message: 'end must be after start', path: ['end'] });

const WeeklySchedule = z.object({
  type: z.literal('weekly'),
  days: z.array(z.enum(WEEKDAYS)).min(1).refine((d) => new Set(d).size === d.length, 'days must not repeat'),
  /** Local start time, `HH:MM` (24 h). */
  at: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a time like "02:30" (24 h)'),
  durationMs: z.number().int().min(60_000).max(MAX_WINDOW_MS),
  /** @defaultValue 'UTC' */
  timeZone: TimeZone.default('UTC'),
  /** First instant the recurrence may start. @defaultValue none */
  from: Instant.optional(),
  /** Last instant an occurrence may start. @defaultValue none */
  until: Instant.optional(),
}).refine((s) => s.from === undefined || s.until === undefined || s.until > s.from, { message: 'until must be after from', path: ['until'] });

export const MaintenanceSchedule = z.discriminatedUnion('type', [OnceSchedule, WeeklySchedule]);
export type MaintenanceSchedule = z.infer<typeof MaintenanceSchedule>;

/** What `POST /api/maintenance` accepts. */
export const MaintenanceInput = z.object({
  name: z.string().min(1).max(200),
  /** Check ids covered. @defaultValue [] */
  checks: z.array(CheckId).max(1_000).default([]),
  /** Checks with any of these tags are covered. @defaultValue [] */
  tags: z.array(z.string().min(1).max(64)).max(100).default([]),
  schedule: MaintenanceSchedule,
}).strict().refine((m) => m.checks.length + m.tags.length > 0, { message: 'name at least one check id (checks) or tag (tags)', path: ['checks'] });
export type MaintenanceInput = z.infer<typeof MaintenanceInput>;

export interface MaintenanceWindow extends MaintenanceInput {
  id: string;
  createdAt: number;
}

export const StoredMaintenanceWindow = z.object({
  id: z.string().min(1),
  createdAt: z.number().int().nonnegative(),
  name: z.string(),
  checks: z.array(z.string()),
  tags: z.array(z.string()),
  schedule: MaintenanceSchedule,
});

export interface Occurrence { start: number; end: number }

/** Whether the window covers the check. */
export function coversCheck(window: Pick<MaintenanceWindow, 'checks' | 'tags'>, check: { id: string; tags: readonly string[] }): boolean {
  return window.checks.includes(check.id) || window.tags.some((tag) => check.tags.includes(tag));
}

/** Occurrences of the window that overlap [from, to] (inclusive of a start at `to`), oldest first. */
export function occurrencesBetween(schedule: MaintenanceSchedule, from: number, to: number): Occurrence[] {
  if (to < from) return [];
  if (schedule.type === 'once') {
    return schedule.start <= to && schedule.end > from ? [{ start: schedule.start, end: schedule.end }] : [];
  }
  const [hour, minute] = schedule.at.split(':').map(Number) as [number, number];
  const out: Occurrence[] = [];
  // Walk local calendar days from the first that could hold an occurrence still running at `from`.
  const first = localDate(from - schedule.durationMs, schedule.timeZone);
  const last = localDate(to, schedule.timeZone);
  const firstDay = Date.UTC(first.year, first.month - 1, first.day);
  const lastDay = Date.UTC(last.year, last.month - 1, last.day);
  for (let day = firstDay, n = 0; day <= lastDay && n < MAX_DAYS_SCANNED; day += 86_400_000, n++) {
    const date = new Date(day);
    if (!schedule.days.includes(WEEKDAYS[date.getUTCDay()]!)) continue;
    const start = zonedTimeToUtc(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), hour, minute, schedule.timeZone);
    if (schedule.from !== undefined && start < schedule.from) continue;
    if (schedule.until !== undefined && start > schedule.until) continue;
    const end = start + schedule.durationMs;
    if (start <= to && end > from) out.push({ start, end });
  }
  return out;
}

/** The occurrence running at `at`, if any. */
export function activeOccurrence(schedule: MaintenanceSchedule, at: number): Occurrence | null {
  return occurrencesBetween(schedule, at, at).find((o) => o.start <= at && at < o.end) ?? null;
}

/** The next occurrence starting after `at` (within 400 days), if any. */
export function nextOccurrence(schedule: MaintenanceSchedule, at: number): Occurrence | null {
  if (schedule.type === 'once') return schedule.start > at ? { start: schedule.start, end: schedule.end } : null;
  for (let from = at; from < at + MAX_DAYS_SCANNED * 86_400_000; from += 8 * 86_400_000) {
    const next = occurrencesBetween(schedule, from, from + 8 * 86_400_000).find((o) => o.start > at);
    if (next) return next;
    if (schedule.until !== undefined && from > schedule.until) return null;
  }
  return null;
}

/** The windows covering `check` that are on at `at`. */
export function activeWindowsFor(windows: readonly MaintenanceWindow[], check: { id: string; tags: readonly string[] }, at: number): MaintenanceWindow[] {
  return windows.filter((w) => coversCheck(w, check) && activeOccurrence(w.schedule, at) !== null);
}

export function isInMaintenance(windows: readonly MaintenanceWindow[], check: { id: string; tags: readonly string[] }, at: number): boolean {
  return activeWindowsFor(windows, check, at).length > 0;
}

export interface MaintenanceOverlap { windowId: string; name: string; start: number; end: number }

/** For each look-back span (name → ms), the maintenance occurrences covering `check` that overlapped [now − span, now]. */
export function overlapsBySpan<K extends string>(
  windows: readonly MaintenanceWindow[],
  check: { id: string; tags: readonly string[] },
  spans: Readonly<Record<K, number>>,
  now: number,
): Record<K, MaintenanceOverlap[]> {
  const covering = windows.filter((w) => coversCheck(w, check));
  const out = {} as Record<K, MaintenanceOverlap[]>;
  for (const [name, span] of Object.entries(spans) as Array<[K, number]>) {
    out[name] = covering.flatMap((w) => occurrencesBetween(w.schedule, now - span, now).map((o) => ({ windowId: w.id, name: w.name, start: o.start, end: o.end })))
      .sort((a, b) => a.start - b.start);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Time zones, with Intl only: the UTC instant of a local wall-clock time.
// ---------------------------------------------------------------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isTimeZone(timeZone: string): boolean {
  try { formatter(timeZone); return true; } catch { return false; }
}

function localParts(at: number, timeZone: string): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(at)) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second! };
}

function localDate(at: number, timeZone: string): { year: number; month: number; day: number } {
  if (timeZone === 'UTC') {
    const d = new Date(at);
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
  }
  return localParts(at, timeZone);
}

/** Offset of the zone from UTC at `at`, in ms (positive east of Greenwich). */
function offsetMs(at: number, timeZone: string): number {
  const p = localParts(at, timeZone);
  const whole = at - (((at % 1_000) + 1_000) % 1_000);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - whole;
}

/**
 * The UTC instant of a local date and time in `timeZone`. A local time skipped by a daylight-saving jump
 * lands just after the jump; a repeated one takes its first instance.
 */
export function zonedTimeToUtc(year: number, month: number, day: number, hour: number, minute: number, timeZone: string): number {
  const asUtc = Date.UTC(year, month - 1, day, hour, minute);
  if (timeZone === 'UTC') return asUtc;
  // Offsets change at most once around one local time: try the offsets of half a day before and after.
  const before = asUtc - offsetMs(asUtc - 43_200_000, timeZone);
  const after = asUtc - offsetMs(asUtc + 43_200_000, timeZone);
  const matches = (at: number): boolean => {
    const p = localParts(at, timeZone);
    return p.year === year && p.month === month && p.day === day && p.hour === hour && p.minute === minute;
  };
  const valid = [before, after].filter(matches);
  // No match: the time falls in a gap (clocks jumped forward); the offset before the jump moves it past the gap.
  return valid.length > 0 ? Math.min(...valid) : before;
}

/** The look-back spans of the API's uptime figures (stats.ts). */
export const UPTIME_SPANS = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;
export type UptimeSpan = keyof typeof UPTIME_SPANS;

export interface CheckMaintenance {
  /** Windows covering the check that are on now. */
  active: Array<{ windowId: string; name: string; start: number; end: number }>;
  /**
   * Per uptime window, the maintenance that overlapped it: those runs are not in the uptime figure (nor in
   * latency or SLOs), so a figure with entries here covers less than its whole span.
   */
  uptimeWindows: Record<UptimeSpan, MaintenanceOverlap[]>;
}

/** What the API shows about a check's maintenance, pure. */
export function checkMaintenance(windows: readonly MaintenanceWindow[], check: { id: string; tags: readonly string[] }, now: number): CheckMaintenance {
  const active = activeWindowsFor(windows, check, now).map((w) => {
    const occurrence = activeOccurrence(w.schedule, now)!;
    return { windowId: w.id, name: w.name, start: occurrence.start, end: occurrence.end };
  });
  return { active, uptimeWindows: overlapsBySpan(windows, check, UPTIME_SPANS, now) };
}
