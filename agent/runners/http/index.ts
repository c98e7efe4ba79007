/**
 * The HTTP check type. `httpChecks` is its entry in the runner table; `runHttpCheck` is the runner it
 * starts; `createHttpRunner` builds one with extra trusted CAs or another resolver (see
 * {@link HttpRunnerOptions}).
 */
import type { HttpCheckDefinition } from '../../../checks/contract.ts';
import type { CheckTypeRunner, Runner } from '../types.ts';
import { createHttpRunner } from './runner.ts';

export { createHttpRunner, type HttpRunnerOptions } from './runner.ts';
export { lookupVia, defaultLookup } from './lookup.ts';
export type { Lookup } from './connector.ts';
export { isRunCancelled } from './deadline.ts';

/** The HTTP runner with default options: system resolver, Node's bundled CA roots. */
export const runHttpCheck: Runner<HttpCheckDefinition> = createHttpRunner();

/** Every agent serves HTTP checks; a run holds nothing between runs (a fresh connection each time). */
export const httpChecks: CheckTypeRunner<'http'> = {
  servedBy: () => true,
  start: async (settings) => ({ run: settings.egress ? createHttpRunner({ egress: settings.egress }) : runHttpCheck }),
};
