/**
 * The SDK that check files import. A check file (`*.check.ts`) default-exports a check, an array of
 * checks, or exports them by name:
 *
 * ```ts
 * import { defineHttpCheck, assert } from 'lookout/checks';
 * export default defineHttpCheck({
 *   id: 'homepage', name: 'Homepage', url: 'https://example.com/',
 *   regions: ['us-east', 'eu-west'], frequency: '30s', timeout: '10s',
 *   assertions: [assert.status(200), assert.body.contains('Welcome')],
 * });
 * ```
 *
 * `define*` functions do no validation of their own: the loader validates every check of a project
 * together and reports every problem at once, with file, check id and field.
 */
import type { BrowserScript } from './browser.ts';
import type { Assertion, CheckType } from './contract.ts';
import type { Duration } from './duration.ts';

/** Marks objects made by the SDK so that the loader can find checks among a file's exports. */
export const CHECK_MARKER = '__lookoutCheck' as const;

/** Options every kind of check shares. */
export interface CheckOptionsBase {
  /** Stable identifier; renaming it creates a new check (and loses the old one's history). a-z, 0-9, `_`, `-`. */
  id: string;
  /** Shown in alerts and the dashboard. */
  name: string;
  /**
   * Regions that run the check, each with its own verdict. Required, unless the project's
   * `lookout.config.ts` sets `defaults.regions`.
   * @defaultValue `defaults.regions` of lookout.config.ts
   */
  regions?: string[];
  /** How often each region runs the check, e.g. `'30s'`, `'1m'`. @defaultValue `defaults.frequency` of lookout.config.ts, else `'1m'` */
  frequency?: Duration;
  /** Deadline of one whole run (DNS to last body byte); never longer than `frequency`. @defaultValue `defaults.timeout` of lookout.config.ts, else `'10s'` */
  timeout?: Duration;
  /** Consecutive failed runs before a region is `down`. @defaultValue 2 */
  failureThreshold?: number;
  /** Consecutive passing runs before a `down` region is `up` again. @defaultValue 2 */
  successThreshold?: number;
  /** Free-form labels, for filtering and (later) alert routing. @defaultValue [] */
  tags?: string[];
  /**
   * A passing run slower than this (DNS to last byte) makes its region `degraded`: still up for uptime,
   * no incident; see `alerting.notifyDegraded`. @defaultValue none (speed never degrades a region)
   */
  degradedAfter?: Duration;
  /** Confirmation runs when a run fails (see {@link ConfirmationOptions}). @defaultValue `{ retries: 1, backoff: '1s', otherRegions: true }` */
  confirmation?: ConfirmationOptions;
  /** When incidents turn global, reminders, flapping, degraded notices (see {@link AlertingOptions}). @defaultValue {} (every field's default) */
  alerting?: AlertingOptions;
  /** Service level objectives and burn-rate alerts (see {@link SloOptions}). @defaultValue none */
  slo?: SloOptions;
}

/**
 * What the coordinator runs at once when a run fails, instead of waiting for the next interval: the
 * check again in the failing region (`retries`, with backoff) and once in every other region. These
 * confirmation runs count toward `failureThreshold`, so with the default threshold of 2 a failed run plus
 * a failed confirmation makes a region `down` within seconds, and the other regions' confirmations give
 * the incident its scope (regional or global) when it opens.
 */
export interface ConfirmationOptions {
  /** Confirmation runs in the failing region per failure streak (0 to 5); the n-th waits `backoff × 2^(n−1)`. @defaultValue 1 */
  retries?: number;
  /** Wait before the first confirmation run in the failing region. @defaultValue `'1s'` */
  backoff?: Duration;
  /** Also run the check at once in every other region (that is not already down or silent). @defaultValue true */
  otherRegions?: boolean;
}

export interface AlertingOptions {
  /**
   * When an incident is global: at least `regions` regions failing (capped at the check's region count)
   * for `for`. A regional incident that turns global is updated with `escalated: true`.
   * @defaultValue every reporting region failing, at once
   */
  global?: { regions?: number; for?: Duration };
  /** Re-notify (`incident.reminder`) this often while an incident stays open; null: never. At least `'10s'`. @defaultValue null */
  reminderEvery?: Duration | null;
  /**
   * A region that changes between up and down more than `changes` times within `window` is flapping:
   * one `check.flapping` notice, then it counts as failing (the incident stays open, nothing more is sent
   * about it) until it has kept one state for `stableFor`. `false` turns detection off.
   * @defaultValue `{ changes: 5, window: '10m', stableFor: '10m' }`
   */
  flapping?: false | { changes?: number; window?: Duration; stableFor?: Duration };
  /** Send `check.degraded` and `check.recovered` events when a region becomes degraded or recovers from it. @defaultValue false */
  notifyDegraded?: boolean;
}

/**
 * Objectives over a rolling window, reported by `GET /api/checks/:id/slo` for the check and per region.
 * Runs during maintenance windows are left out. Objectives are percentages, e.g. `99.9`.
 */
export interface SloOptions {
  /** Share of target results that pass. `window` from `'1h'` to `'30d'`. @defaultValue window `'30d'` */
  availability?: { objective: number; window?: Duration };
  /** Share of target results that take at most `threshold`, e.g. `{ objective: 99, threshold: '500ms' }`. @defaultValue window `'30d'` */
  latency?: { objective: number; threshold: Duration; window?: Duration };
  /** Multiwindow burn-rate alerts (`slo.burn_rate`: 1 h and 5 min at 14.4×, 6 h and 30 min at 6×). @defaultValue true */
  burnRateAlerts?: boolean;
}

/** Options of an HTTP check. */
export interface HttpCheckOptions extends CheckOptionsBase {
  /** Absolute `http://` or `https://` URL to request; may contain `secret('NAME')` (not in the host). */
  url: string;
  /** @defaultValue `'GET'` */
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
  /**
   * Extra request headers; values may contain `secret('NAME')`. Lookout always adds `user-agent`
   * (unless set here) and `x-lookout-region`. @defaultValue {}
   */
  headers?: Record<string, string>;
  /** Request body, sent as given; may contain `secret('NAME')`. */
  body?: string;
  /** What must hold for the run to pass. @defaultValue `[assert.statusBetween(200, 399)]` */
  assertions?: Assertion[];
  /** Follow 3xx responses. @defaultValue true */
  followRedirects?: boolean;
  /** Redirects followed before the run fails with `TOO_MANY_REDIRECTS`. @defaultValue 5 */
  maxRedirects?: number;
  /** Cap on the decoded response body, in bytes; beyond it the run fails with `BODY_TOO_LARGE`. @defaultValue 1048576 */
  maxBodyBytes?: number;
}

/** Options of a browser check: a Playwright journey run by the agents. */
export interface BrowserCheckOptions extends CheckOptionsBase {
  /**
   * The journey: `async ({ page, context, step, expect, secrets }) => { … }`. It may import helpers from
   * the project by relative path; bare imports are limited to `lookout/checks` and Node built-ins.
   * It is stopped at `timeout` and the run fails with `TIMEOUT`.
   */
  script: BrowserScript;
  /**
   * Secrets the script reads in ways Lookout cannot see in its code: by a computed name, or through the
   * whole `secrets` object handed to a helper under another name. Names read as `secrets.NAME`,
   * `secrets['NAME']` or `{ secrets: { NAME } }` are found by themselves. The agent gives the script
   * these secrets and no others. @defaultValue [] (only the names found in the script)
   */
  secrets?: string[];
}

/**
 * The options of each check type, as check files write them. One entry per type of the contract: a
 * type added there (or here only) fails to compile until both agree.
 */
type CheckOptionsByType = OnePerCheckType<{
  http: HttpCheckOptions;
  browser: BrowserCheckOptions;
}>;
type OnePerCheckType<M extends { [T in CheckType]: CheckOptionsBase } & { [K in Exclude<keyof M, CheckType>]: never }> = M;

/** A check as a `define…Check` function returns it: the options, its type, and the SDK's marker. */
export type SdkCheck<T extends CheckType> = CheckOptionsByType[T] & { readonly type: T; readonly [CHECK_MARKER]: true };
export type HttpCheck = SdkCheck<'http'>;
export type BrowserCheck = SdkCheck<'browser'>;
export type AnyCheck = { [T in CheckType]: SdkCheck<T> }[CheckType];

/** Declares an HTTP check. */
export function defineHttpCheck(options: HttpCheckOptions): HttpCheck {
  return { ...options, type: 'http', [CHECK_MARKER]: true };
}

/** Declares a browser check. */
export function defineBrowserCheck(options: BrowserCheckOptions): BrowserCheck {
  return { ...options, type: 'browser', [CHECK_MARKER]: true };
}

/** Whether a value exported by a check file is a check made by this SDK. */
export function isCheck(value: unknown): value is AnyCheck {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[CHECK_MARKER] === true;
}

/** Assertion builders; each returns plain data that is sent to the agents. */
export const assert = {
  /** The response status equals `code`. */
  status: (code: number): Assertion => ({ type: 'status', op: 'equals', value: code }),
  /** The response status is one of `codes`. */
  statusIn: (codes: number[]): Assertion => ({ type: 'status', op: 'oneOf', values: codes }),
  /** The response status is within `[min, max]`. */
  statusBetween: (min: number, max: number): Assertion => ({ type: 'status', op: 'between', min, max }),
  /** A response header (case-insensitive name). */
  header: (name: string) => ({
    exists: (): Assertion => ({ type: 'header', name, op: 'exists' }),
    equals: (value: string): Assertion => ({ type: 'header', name, op: 'equals', value }),
    contains: (value: string): Assertion => ({ type: 'header', name, op: 'contains', value }),
    matches: (pattern: RegExp | string): Assertion => ({ type: 'header', name, op: 'matches', value: regexSource(pattern) }),
  }),
  /** The decoded response body, as text. */
  body: {
    contains: (value: string): Assertion => ({ type: 'body', op: 'contains', value }),
    notContains: (value: string): Assertion => ({ type: 'body', op: 'notContains', value }),
    matches: (pattern: RegExp | string): Assertion => ({ type: 'body', op: 'matches', value: regexSource(pattern) }),
  },
  /** A value in a JSON body, by path such as `$.status` or `$.items[0].id`. */
  jsonPath: (path: string) => ({
    exists: (): Assertion => ({ type: 'jsonPath', path, op: 'exists' }),
    equals: (value: unknown): Assertion => ({ type: 'jsonPath', path, op: 'equals', value }),
  }),
  /** The whole run (DNS to last body byte) took less than `ms` milliseconds. */
  responseTimeUnder: (ms: number): Assertion => ({ type: 'responseTime', op: 'lessThan', ms }),
  /**
   * Makes an assertion soft: when it fails the run still passes, and its region shows `degraded`
   * instead of `down`, e.g. `assert.soft(assert.responseTimeUnder(300))`.
   */
  soft: (assertion: Assertion): Assertion => ({ ...assertion, soft: true }),
};

function regexSource(pattern: RegExp | string): string {
  // Flags are not carried over the wire except `i`, folded into the source as a `(?i:…)` group.
  if (typeof pattern === 'string') return pattern;
  return pattern.flags.includes("i") ? `(?i:${pattern.source})` : pattern.source;
}
