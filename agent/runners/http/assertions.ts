/**
 * Evaluates a check's assertions against what the target answered. Pure: no I/O, never throws.
 *
 * Every result says, in words a person understands, what was expected and what was seen:
 * expected `status 200`, actual `status 503`. Failed results make the run fail with `ASSERTION_FAILED`
 * and a message listing them ({@link describeFailures}).
 */
import type { Assertion, AssertionResult } from '../../../checks/contract.ts';
import { MAX_ASSERTION_TEXT_LENGTH } from '../../../checks/limits.ts';
import type { Redactor } from '../../../checks/redact.ts';
import { compileUserRegex, type UserRegex } from '../../../checks/regex.ts';

/** What a response looked like, as far as assertions care. */
export interface ResponseFacts {
  status: number;
  /** Response headers with **lower-case** names (as undici gives them); repeated headers as arrays. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The decoded body as text; may be a getter, read only by body and JSON assertions. */
  readonly bodyText: string;
  /** The body parsed as JSON, lazily (see {@link lazyJson}): only `jsonPath` assertions call it. */
  json(): JsonBody;
  /** Wall time of the run, in ms. */
  totalMs: number;
  /**
   * The run's secrets: what the target sent is scrubbed before it is cut into an excerpt, and a value
   * crossing an excerpt's edge is replaced too (checks/redact.ts). @defaultValue none
   */
  redact?: Redactor;
}

export type JsonBody = { ok: true; value: unknown } | { ok: false; error: string };

/** Longest excerpt of a body or value shown in `expected` / `actual`. */
const EXCERPT_LENGTH = 120;
const WHITESPACE_RUN = /\s+/g;

export function evaluateAssertions(assertions: readonly Assertion[], facts: ResponseFacts): AssertionResult[] {
  return assertions.map((assertion) => evaluateAssertion(assertion, facts));
}

/** Whether any assertion reads the body (otherwise the runner need not keep it). */
export function assertionsNeedBody(assertions: readonly Assertion[]): boolean {
  return assertions.some((a) => a.type === 'body' || a.type === 'jsonPath');
}

export function evaluateAssertion(assertion: Assertion, facts: ResponseFacts): AssertionResult {
  const result = (passed: boolean, expected: string, actual: string): AssertionResult =>
    ({ assertion, passed, expected: fit(expected), actual: fit(actual) });
  const show = shower(facts.redact);
  const quote = (text: string): string => JSON.stringify(clip(text, show));
  const showJson = (value: unknown): string => (value === undefined ? '(no value)' : clip(JSON.stringify(value) ?? String(value), show));
  const bodyExcerpt = (body: string): string => excerptOfBody(body, show);
  const around = (body: string, at: number, length: number): string => excerptAround(body, at, length, show);
  const kindOf = (value: unknown): string => describeKind(value, showJson);
  switch (assertion.type) {
    case 'status': {
      const actual = `status ${facts.status}`;
      switch (assertion.op) {
        case 'equals': return result(facts.status === assertion.value, `status ${assertion.value}`, actual);
        case 'oneOf': return result(assertion.values.includes(facts.status), `status one of ${assertion.values.join(', ')}`, actual);
        case 'between': return result(
          facts.status >= assertion.min && facts.status <= assertion.max, `status between ${assertion.min} and ${assertion.max}`, actual);
      }
      break;
    }
    case 'header': {
      const name = assertion.name.toLowerCase();
      const raw = facts.headers[name];
      const value = raw === undefined ? undefined : Array.isArray(raw) ? raw.join(', ') : raw;
      const actual = value === undefined ? `no ${name} header` : `${name}: ${quote(value)}`;
      const expectedValue = assertion.value ?? '';
      switch (assertion.op) {
        case 'exists': return result(value !== undefined, `a ${name} header`, actual);
        case 'equals': return result(value === expectedValue, `${name}: ${quote(expectedValue)}`, actual);
        case 'contains': return result(value !== undefined && value.includes(expectedValue), `${name} containing ${quote(expectedValue)}`, actual);
        case 'matches': {
          const regex = cachedRegex(expectedValue);
          const expected = `${name} matching /${expectedValue}/`;
          if (regex === null) return result(false, expected, 'invalid regular expression');
          return result(value !== undefined && regex.test(limitInput(value, regex)), expected, actual);
        }
      }
      break;
    }
    case 'body': {
      const body = facts.bodyText;
      switch (assertion.op) {
        case 'contains': {
          const at = body.indexOf(assertion.value);
          return result(at >= 0, `body containing ${quote(assertion.value)}`,
            at >= 0 ? `found at character ${at}: ${around(body, at, assertion.value.length)}` : bodyExcerpt(body));
        }
        case 'notContains': {
          const at = body.indexOf(assertion.value);
          return result(at < 0, `body not containing ${quote(assertion.value)}`,
            at < 0 ? bodyExcerpt(body) : `found at character ${at}: ${around(body, at, assertion.value.length)}`);
        }
        case 'matches': {
          const expected = `body matching /${assertion.value}/`;
          const regex = cachedRegex(assertion.value);
          if (regex === null) return result(false, expected, 'invalid regular expression');
          const searched = limitInput(body, regex);
          const match = regex.exec(searched);
          const where = searched.length < body.length ? ` (the first ${searched.length} characters were searched)` : '';
          return result(match !== null, expected,
            match === null ? `no match in ${bodyExcerpt(body)}${where}` : `matched at character ${match.index}: ${around(body, match.index, match.length)}`);
        }
      }
      break;
    }
    case 'jsonPath': {
      const json = facts.json();
      const expected = assertion.op === 'exists' ? `${assertion.path} to exist` : `${assertion.path} = ${showJson(assertion.value)}`;
      if (!json.ok) return result(false, expected, `body is not JSON: ${json.error}`);
      const segments = parsePath(assertion.path);
      if (segments === null) return result(false, expected, `invalid path ${quote(assertion.path)}`);
      const found = resolvePath(json.value, segments);
      if (!found.found) return result(false, expected, found.missing);
      const actual = `${assertion.path} = ${showJson(found.value)}`;
      if (assertion.op === 'exists') return result(true, expected, actual);
      return result(assertion.value !== undefined && jsonEqual(found.value, assertion.value), expected, actual);
    }
    case 'responseTime':
      return result(facts.totalMs < assertion.ms, `response time under ${assertion.ms} ms`, `response time ${Math.round(facts.totalMs)} ms`);
  }
  return result(false, 'a known assertion', `unknown assertion ${JSON.stringify(assertion)}`);
}

/** `2 of 3 assertions failed: expected status 200, got status 503; ...` */
export function describeFailures(results: readonly AssertionResult[]): string {
  const failed = results.filter((r) => !r.passed);
  const list = failed.map((r) => `expected ${r.expected}, got ${r.actual}`).join('; ');
  return `${failed.length} of ${results.length} assertion${results.length === 1 ? '' : 's'} failed: ${list}`;
}

/** Parses `getText()` as JSON on first call, remembers the answer. */
export function lazyJson(getText: () => string): () => JsonBody {
  let parsed: JsonBody | undefined;
  return () => {
    if (parsed === undefined) {
      try {
        parsed = { ok: true, value: JSON.parse(getText()) };
      } catch (error) {
        parsed = { ok: false, error: error instanceof Error ? error.message : String(error) };
      }
    }
    return parsed;
  };
}

// ---------------------------------------------------------------------------------------------
// JSON paths: `$.data.items[0].id`. A tiny resolver over own properties; no eval, no filters.
// ---------------------------------------------------------------------------------------------

export type PathSegment = string | number;

const SEGMENT = /\.?([A-Za-z_$][\w$-]*)|\[(\d+)\]/y;
const parsedPaths = new Map<string, PathSegment[] | null>();
const MAX_CACHED = 1000;

/** `$.a.b[0].c` → `['a', 'b', 0, 'c']`; the leading `$` is optional. Null if the syntax is wrong. */
export function parsePath(path: string): PathSegment[] | null {
  const cached = parsedPaths.get(path);
  if (cached !== undefined) return cached;
  let rest = path;
  if (rest.startsWith('$') && (rest.length === 1 || rest[1] === '.' || rest[1] === '[')) rest = rest.slice(1);
  const segments: PathSegment[] = [];
  SEGMENT.lastIndex = 0;
  while (SEGMENT.lastIndex < rest.length) {
    const start = SEGMENT.lastIndex;
    const match = SEGMENT.exec(rest);
    // A key must follow a dot, except as the very first segment (`a.b` is `$.a.b`).
    if (match === null || (match[1] !== undefined && start > 0 && rest[start] !== '.')) {
      remember(path, null);
      return null;
    }
    segments.push(match[1] ?? Number(match[2]));
  }
  remember(path, segments);
  return segments;
}

function remember(path: string, segments: PathSegment[] | null): void {
  if (parsedPaths.size >= MAX_CACHED) parsedPaths.clear();
  parsedPaths.set(path, segments);
}

export type PathLookup = { found: true; value: unknown } | { found: false; missing: string };

/** Follows `segments` into `root`; when it cannot, says where it stopped and why. */
export function resolvePath(root: unknown, segments: readonly PathSegment[]): PathLookup {
  let current = root;
  let at = '$';
  for (const segment of segments) {
    if (typeof segment === 'number') {
      if (!Array.isArray(current)) return { found: false, missing: `${at} is ${kindOf(current)}, not an array` };
      if (segment >= current.length) return { found: false, missing: `${at} has ${current.length} item${current.length === 1 ? '' : 's'}, no [${segment}]` };
      current = current[segment];
      at += `[${segment}]`;
    } else {
      if (current === null || typeof current !== 'object' || Array.isArray(current)) {
        return { found: false, missing: `${at} is ${kindOf(current)}, not an object` };
      }
      if (!Object.hasOwn(current, segment)) return { found: false, missing: `${at} has no key ${quote(segment)}` };
      current = (current as Record<string, unknown>)[segment];
      at += `.${segment}`;
    }
  }
  return { found: true, value: current };
}

/** Deep equality of JSON values (objects compared by own keys, arrays by position). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => jsonEqual(item, other[i]));
  }
  const aKeys = Object.keys(a);
  if (aKeys.length !== Object.keys(b).length) return false;
  return aKeys.every((key) => Object.hasOwn(b, key) && jsonEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

function describeKind(value: unknown, showJson: (value: unknown) => string): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value === 'string' ? 'a string' : typeof value === 'number' ? 'a number' : typeof value === 'boolean' ? 'a boolean' : typeof value} ${showJson(value)}`;
}

/** Module-level wording for path look-ups, which show only the user's own path and JSON shapes. */
function kindOf(value: unknown): string {
  return describeKind(value, (v) => (v === undefined ? '(no value)' : clip(JSON.stringify(v) ?? String(v), shower(undefined))));
}

// ---------------------------------------------------------------------------------------------
// Showing values to people
// ---------------------------------------------------------------------------------------------

/**
 * User patterns run on the linear-time engine (checks/regex.ts, compiled once and cached there): a
 * target's response can never make one take exponential time. Null for a pattern it cannot run, which
 * validation refuses at deploy.
 */
function cachedRegex(source: string): UserRegex | null {
  const regex = compileUserRegex(source);
  return 'error' in regex ? null : regex;
}

/**
 * Linear time is still automaton states × input characters (~30 ns each, at worst): one match may cost
 * at most this many, about 250 ms. A larger input is searched in its first part only (the result says
 * so), never less than {@link MIN_REGEX_INPUT_CHARS} and never more than {@link MAX_REGEX_INPUT_CHARS}.
 */
export const REGEX_WORK_BUDGET = 8 * 1024 * 1024;
export const MIN_REGEX_INPUT_CHARS = 64 * 1024;
export const MAX_REGEX_INPUT_CHARS = 1024 * 1024;

function limitInput(text: string, regex: UserRegex): string {
  const cap = Math.min(MAX_REGEX_INPUT_CHARS, Math.max(MIN_REGEX_INPUT_CHARS, Math.floor(REGEX_WORK_BUDGET / regex.states)));
  return text.length <= cap ? text : text.slice(0, cap);
}

/** Scrubs a piece of text whose ends may be cuts (identity without secrets). */
type Show = (text: string, cut: { start: boolean; end: boolean }) => string;

function shower(redact: Redactor | undefined): Show {
  return redact ? (text, cut) => redact.excerpt(text, cut) : (text) => text;
}

/** Module-level quoting of the user's own values (paths, keys): no secrets there. */
function quote(text: string): string {
  return JSON.stringify(clip(text, shower(undefined)));
}

/** Scrubbed first, then cut (the cut's edge scrubbed again: a value may begin right there). */
function clip(text: string, show: Show): string {
  const shown = show(text, { start: false, end: false });
  return shown.length <= EXCERPT_LENGTH ? shown : `${show(shown.slice(0, EXCERPT_LENGTH), { start: false, end: true })}…`;
}

/** Keeps `expected` / `actual` within what a result may carry. */
function fit(text: string): string {
  return text.length <= MAX_ASSERTION_TEXT_LENGTH ? text : `${text.slice(0, MAX_ASSERTION_TEXT_LENGTH - 1)}…`;
}

function excerptOfBody(body: string, show: Show): string {
  if (body.length === 0) return 'an empty body';
  const piece = show(body.slice(0, EXCERPT_LENGTH * 2), { start: false, end: body.length > EXCERPT_LENGTH * 2 });
  return `body ${JSON.stringify(clip(piece.replace(WHITESPACE_RUN, ' '), show))}`;
}

/** The text around a match, so that a person sees it in context; scrubbed with its cut edges before it is shown. */
function excerptAround(body: string, at: number, length: number, show: Show): string {
  const margin = Math.max(0, Math.floor((EXCERPT_LENGTH - length) / 2));
  const start = Math.max(0, at - margin);
  const end = Math.min(body.length, at + length + margin);
  const text = show(body.slice(start, end), { start: start > 0, end: end < body.length }).replace(WHITESPACE_RUN, ' ');
  return JSON.stringify(`${start > 0 ? '…' : ''}${clip(text, show)}${end < body.length ? '…' : ''}`);
}
