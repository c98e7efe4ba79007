/**
 * The HTTP check type. `runHttpCheck` is what the agent registers; `createHttpRunner` builds one with
 * extra trusted CAs or another resolver (see {@link HttpRunnerOptions}).
 */
import type { HttpCheckDefinition } from '../../../checks/contract.ts';
import type { Runner } from '../types.ts';
import { createHttpRunner } from './runner.ts';

export { createHttpRunner, type HttpRunnerOptions } from './runner.ts';
export { lookupVia, defaultLookup } from './lookup.ts';
export type { Lookup } from './connector.ts';
export { isRunCancelled } from './deadline.ts';

/** The HTTP runner with default options: system resolver, Node's bundled CA roots. */
export const runHttpCheck: Runner<HttpCheckDefinition> = createHttpRunner();
