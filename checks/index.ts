/** What check files import: `import { defineHttpCheck, assert } from 'lookout/checks'`. */
export { defineHttpCheck, assert, isCheck } from './sdk.ts';
export type { HttpCheckOptions, HttpCheck, AnyCheck, CheckOptionsBase } from './sdk.ts';
export type { Duration } from './duration.ts';
export type { Assertion } from './contract.ts';
