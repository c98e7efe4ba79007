/**
 * What a browser check's script sees. Playwright types are imported as types only, so the SDK (which is
 * inlined into every check bundle) stays free of Playwright code: the agent passes the real `page` in.
 *
 * ```ts
 * import { defineBrowserCheck } from 'lookout/checks';
 * import { login } from './helpers/login.ts';
 * export default defineBrowserCheck({
 *   id: 'checkout', name: 'Checkout', regions: ['us-east'], frequency: '5m', timeout: '30s',
 *   script: async ({ page, step, expect, secrets }) => {
 *     await step('open shop', () => page.goto('https://shop.example/'));
 *     await step('log in', () => login(page, secrets.SHOP_PASSWORD));
 *     await step('see cart', () => expect(page.getByRole('link', { name: 'Cart' })).toBeVisible());
 *   },
 * });
 * ```
 */
import type { BrowserContext, Locator, Page } from 'playwright-core';

/** Options of the web-first matchers: they retry until the condition holds or the timeout passes. */
export interface ExpectTimeoutOptions {
  /** How long to keep retrying, capped by what is left of the run. @defaultValue 5000 */
  timeout?: number;
}

/** Matchers on a locator; each retries until it holds or its timeout passes. */
export interface LocatorMatchers {
  toBeVisible(options?: ExpectTimeoutOptions): Promise<void>;
  toBeHidden(options?: ExpectTimeoutOptions): Promise<void>;
  /** The element's whole text (whitespace collapsed) equals the string, or matches the pattern. */
  toHaveText(expected: string | RegExp, options?: ExpectTimeoutOptions): Promise<void>;
  /** The element's text (whitespace collapsed) contains the string, or matches the pattern. */
  toContainText(expected: string | RegExp, options?: ExpectTimeoutOptions): Promise<void>;
  toHaveCount(count: number, options?: ExpectTimeoutOptions): Promise<void>;
}

/** Matchers on a page; each retries until it holds or its timeout passes. */
export interface PageMatchers {
  toHaveURL(expected: string | RegExp, options?: ExpectTimeoutOptions): Promise<void>;
  toHaveTitle(expected: string | RegExp, options?: ExpectTimeoutOptions): Promise<void>;
}

/** Plain matchers on values (no retry). */
export interface ValueMatchers {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toBeTruthy(): void;
  toContain(expected: unknown): void;
  toMatch(expected: RegExp | string): void;
  toBeGreaterThan(expected: number): void;
  toBeLessThan(expected: number): void;
}

export type Matchers<T> = T extends Page ? PageMatchers : T extends Locator ? LocatorMatchers : ValueMatchers;

/** `expect(x).toBeVisible()`, and `expect(x).not.toBeVisible()` for the opposite. */
export type BrowserExpect = <T>(actual: T, message?: string) => Matchers<T> & { not: Matchers<T> };

/** What a browser check's `script` receives. */
export interface BrowserScriptContext {
  /** A fresh page in a fresh browser context, closed after the run. */
  page: Page;
  /** The run's browser context (for more pages, cookies, routes). */
  context: BrowserContext;
  /** Times a named step; the result lists each step's duration and the first one that failed. */
  step: <T>(name: string, fn: () => Promise<T> | T) => Promise<T>;
  /** Web-first assertions; a failed one fails the run with `ASSERTION_FAILED`. */
  expect: BrowserExpect;
  /**
   * Secrets configured on the agent (never in the check file): `LOOKOUT_SECRET_<NAME>` variables or its
   * `--secrets-file`. Reading one the agent does not have throws, failing the run with `SECRET_MISSING`
   * and the secret's name. Values are scrubbed (`[secret:NAME]`) from results and stored artifacts.
   */
  secrets: Readonly<Record<string, string>>;
}

export type BrowserScript = (context: BrowserScriptContext) => Promise<void>;
