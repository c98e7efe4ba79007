import type { RunnerTable } from './types.ts';
import { browserChecksDisabled, type BrowserRunner } from './browser/index.ts';
import { runHttpCheck } from './http/index.ts';

/** Every check type's runner (browser checks off: see {@link createRunners}). */
export const runners: RunnerTable = {
  http: runHttpCheck,
  browser: browserChecksDisabled,
};

/** The runner table with browser checks served by `browser` (from `createBrowserRunner`) when given. */
export function createRunners(options: { browser?: BrowserRunner } = {}): RunnerTable {
  return { ...runners, browser: options.browser?.run ?? browserChecksDisabled };
}
