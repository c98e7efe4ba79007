/** What check files import: `import { defineHttpCheck, assert } from 'lookout/checks'`. */
export { defineHttpCheck, defineBrowserCheck, assert, isCheck } from './sdk.ts';
export { defineConfig } from './project.ts';
export type { ProjectConfig, CheckDefaults, DeploySettings } from './project.ts';
export { secret } from './secrets.ts';
export type { HttpCheckOptions, HttpCheck, BrowserCheckOptions, BrowserCheck, AnyCheck, CheckOptionsBase } from './sdk.ts';
export type { BrowserScriptContext, BrowserExpect, BrowserScript } from './browser.ts';
export type { Duration } from './duration.ts';
export type { Assertion } from './contract.ts';
