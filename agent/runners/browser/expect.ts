/**
 * A small web-first `expect` for browser checks.
 *
 * Why not `@playwright/test`'s expect: it is the test runner's, not a standalone library. Importing it
 * brings in the runner and the `playwright` package (a second Playwright beside our pinned
 * playwright-core, which must then match it version for version), and its matchers read their timeout,
 * soft mode and step reporting from the runner's current test, which does not exist in an agent. What
 * a monitoring journey needs is a handful of matchers that retry until their condition holds, bounded
 * by the run's deadline, and a failure we can tell apart from a script bug (→ `ASSERTION_FAILED`).
 * That is what this file is, on public Playwright API only (isVisible, evaluateAll, count, url, title).
 */
import type { Locator, Page } from 'playwright-core';
import type { BrowserExpect } from '../../../checks/browser.ts';

/** A failed `expect`; the runner reports it as `ASSERTION_FAILED`. */
export class ExpectationError extends Error {
  override readonly name = 'ExpectationError';
}

/** Thrown by `expect` and `step` once the run was stopped (timeout, crash): the script must not go on. */
export class RunStoppedError extends Error {
  override readonly name = 'RunStoppedError';
}

export interface ExpectOptions {
  /** Epoch ms after which no matcher keeps retrying. */
  deadlineAt: number;
  /** Whether the run was stopped; checked before every attempt. */
  stopped: () => boolean;
  /** @defaultValue 5000 */
  defaultTimeoutMs?: number;
}

/** Waits between attempts, like Playwright's own expect. */
const POLL_INTERVALS_MS = [100, 250, 500, 1000];

type Probe = () => Promise<{ pass: boolean; received: string }>;

const isPage = (value: unknown): value is Page =>
  typeof value === 'object' && value !== null && typeof (value as Page).goto === 'function' && typeof (value as Page).title === 'function';
const isLocator = (value: unknown): value is Locator =>
  typeof value === 'object' && value !== null && typeof (value as Locator).evaluateAll === 'function' && typeof (value as Locator).first === 'function' && !isPage(value);

const normalizeSpace = (text: string): string => text.replace(/\s+/g, ' ').trim();
const show = (value: unknown): string => (value instanceof RegExp ? String(value) : JSON.stringify(value) ?? String(value));

function textMatches(actual: string, expected: string | RegExp, mode: 'equals' | 'contains'): boolean {
  if (expected instanceof RegExp) {
    expected.lastIndex = 0;
    return expected.test(actual);
  }
  const text = normalizeSpace(actual);
  const want = normalizeSpace(expected);
  return mode === 'equals' ? text === want : text.includes(want);
}

export function createExpect(options: ExpectOptions): BrowserExpect {
  const defaultTimeout = options.defaultTimeoutMs ?? 5_000;

  async function retry(describe: string, negate: boolean, timeout: number | undefined, probe: Probe, message?: string): Promise<void> {
    const until = Math.min(options.deadlineAt, Date.now() + (timeout ?? defaultTimeout));
    let last = '';
    for (let attempt = 0; ; attempt++) {
      if (options.stopped()) throw new RunStoppedError('the run was stopped');
      try {
        const { pass, received } = await probe();
        last = received;
        if (pass !== negate) return;
      } catch (error) {
        if (options.stopped()) throw new RunStoppedError('the run was stopped');
        last = `error: ${(error as Error).message.split('\n')[0]}`;
      }
      const wait = POLL_INTERVALS_MS[Math.min(attempt, POLL_INTERVALS_MS.length - 1)]!;
      if (Date.now() + wait > until) break;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const prefix = message ? `${message}: ` : '';
    throw new ExpectationError(`${prefix}expect(${describe}) failed after ${timeout ?? defaultTimeout}ms; received ${last}`);
  }

  function locatorMatchers(locator: Locator, negate: boolean, message?: string) {
    const describe = (matcher: string, expected?: unknown): string => `${locator}).${negate ? 'not.' : ''}${matcher}(${expected === undefined ? '' : show(expected)}`;
    const texts = (): Promise<string[]> => locator.evaluateAll((elements) => elements.map((e) => e.textContent ?? ''));
    const oneText = async (): Promise<{ text?: string; received: string }> => {
      const all = await texts();
      if (all.length === 0) return { received: 'no element' };
      if (all.length > 1) return { received: `${all.length} elements (the locator must match exactly one)` };
      return { text: all[0]!, received: show(normalizeSpace(all[0]!)) };
    };
    const run = (name: string, expected: unknown, timeout: number | undefined, probe: Probe): Promise<void> =>
      retry(describe(name, expected), negate, timeout, probe, message);
    return {
      toBeVisible: (o?: { timeout?: number }) => run('toBeVisible', undefined, o?.timeout, async () => {
        const visible = await locator.isVisible();
        return { pass: visible, received: visible ? 'visible' : 'hidden or absent' };
      }),
      toBeHidden: (o?: { timeout?: number }) => run('toBeHidden', undefined, o?.timeout, async () => {
        const visible = await locator.isVisible();
        return { pass: !visible, received: visible ? 'visible' : 'hidden or absent' };
      }),
      toHaveText: (expected: string | RegExp, o?: { timeout?: number }) => run('toHaveText', expected, o?.timeout, async () => {
        const { text, received } = await oneText();
        return { pass: text !== undefined && textMatches(text, expected, 'equals'), received };
      }),
      toContainText: (expected: string | RegExp, o?: { timeout?: number }) => run('toContainText', expected, o?.timeout, async () => {
        const { text, received } = await oneText();
        return { pass: text !== undefined && textMatches(text, expected, 'contains'), received };
      }),
      toHaveCount: (count: number, o?: { timeout?: number }) => run('toHaveCount', count, o?.timeout, async () => {
        const actual = await locator.count();
        return { pass: actual === count, received: String(actual) };
      }),
    };
  }

  function pageMatchers(page: Page, negate: boolean, message?: string) {
    const run = (name: string, expected: string | RegExp, timeout: number | undefined, probe: Probe): Promise<void> =>
      retry(`page).${negate ? 'not.' : ''}${name}(${show(expected)}`, negate, timeout, probe, message);
    const exact = (actual: string, expected: string | RegExp): boolean => textMatches(actual, expected, 'equals');
    return {
      toHaveURL: (expected: string | RegExp, o?: { timeout?: number }) => run('toHaveURL', expected, o?.timeout, async () => {
        const url = page.url();
        return { pass: expected instanceof RegExp ? exact(url, expected) : url === expected, received: show(url) };
      }),
      toHaveTitle: (expected: string | RegExp, o?: { timeout?: number }) => run('toHaveTitle', expected, o?.timeout, async () => {
        const title = await page.title();
        return { pass: exact(title, expected), received: show(title) };
      }),
    };
  }

  function valueMatchers(actual: unknown, negate: boolean, message?: string) {
    const check = (pass: boolean, matcher: string, expected?: unknown): void => {
      if (pass === negate) {
        const prefix = message ? `${message}: ` : '';
        throw new ExpectationError(`${prefix}expect(${show(actual)}).${negate ? 'not.' : ''}${matcher}(${expected === undefined ? '' : show(expected)}) failed`);
      }
    };
    return {
      toBe: (expected: unknown) => check(Object.is(actual, expected), 'toBe', expected),
      toEqual: (expected: unknown) => check(JSON.stringify(actual) === JSON.stringify(expected), 'toEqual', expected),
      toBeTruthy: () => check(Boolean(actual), 'toBeTruthy'),
      toContain: (expected: unknown) => check(
        (typeof actual === 'string' && typeof expected === 'string' && actual.includes(expected)) || (Array.isArray(actual) && actual.includes(expected)),
        'toContain', expected),
      toMatch: (expected: RegExp | string) => check(typeof actual === 'string' && (typeof expected === 'string' ? actual.includes(expected) : expected.test(actual)), 'toMatch', expected),
      toBeGreaterThan: (expected: number) => check(typeof actual === 'number' && actual > expected, 'toBeGreaterThan', expected),
      toBeLessThan: (expected: number) => check(typeof actual === 'number' && actual < expected, 'toBeLessThan', expected),
    };
  }

  const build = (actual: unknown, negate: boolean, message?: string): unknown => {
    if (isPage(actual)) return pageMatchers(actual, negate, message);
    if (isLocator(actual)) return locatorMatchers(actual, negate, message);
    return valueMatchers(actual, negate, message);
  };
  const expect = (actual: unknown, message?: string) => Object.assign(build(actual, false, message) as object, { not: build(actual, true, message) });
  return expect as BrowserExpect;
}
