/**
 * The project configuration, `lookout.config.ts` at the root of a checks repository:
 *
 * ```ts
 * import { defineConfig } from 'lookout/checks';
 * export default defineConfig({
 *   checks: ['checks'],                       // where the *.check.ts files are (relative to this file)
 *   defaults: {                               // every check inherits these unless it sets its own
 *     regions: ['us-east', 'eu-west'],
 *     frequency: '1m',
 *     timeout: '10s',
 *     tags: ['team:shop'],
 *   },
 *   deploy: { coordinator: 'https://lookout.example.com', maxDeletePercent: 50 },
 * });
 * ```
 *
 * `defaults` takes any option that checks share (everything but `id` and `name`), including options
 * added later (alert policy, channels…): whatever a check leaves unset is taken from there. A value a
 * check sets replaces the default (lists such as `tags` are not merged). The configuration is validated
 * together with the checks (project-loader.ts), and its problems are reported with the checks' ones.
 *
 * This module is part of the SDK inlined into every check bundle: it imports nothing at run time.
 */
import type { CheckOptionsBase } from './sdk.ts';

export const CONFIG_MARKER = '__lookoutConfig' as const;

/** File names looked for, in this order, in a project folder. */
export const CONFIG_FILE_NAMES = ['lookout.config.ts', 'lookout.config.mts', 'lookout.config.js', 'lookout.config.mjs'] as const;

/** Options a project sets once for all its checks. */
export type CheckDefaults = Partial<Omit<CheckOptionsBase, 'id' | 'name'>>;

/** What `lookout deploy` uses when the command line does not say. */
export interface DeploySettings {
  /** Coordinator API URL (the `--coordinator` flag and `LOOKOUT_COORDINATOR_URL` win). @defaultValue `'http://127.0.0.1:8080'` */
  coordinator?: string;
  /**
   * Largest share of the deployed checks, in percent, that one deployment may remove without
   * `--force`: a guard against deploying from the wrong folder. @defaultValue 50
   */
  maxDeletePercent?: number;
}

/** The contents of `lookout.config.ts`. */
export interface ProjectConfig {
  /** Files and folders holding the check files, relative to the config file. @defaultValue `['.']` (the config's folder) */
  checks?: string[];
  /** Options every check inherits unless it sets them. @defaultValue {} */
  defaults?: CheckDefaults;
  /** Deployment settings. @defaultValue {} */
  deploy?: DeploySettings;
}

export type DefinedConfig = ProjectConfig & { readonly [CONFIG_MARKER]: true };

/** Declares the project configuration; default-export it from `lookout.config.ts`. */
export function defineConfig(config: ProjectConfig): DefinedConfig {
  return { ...config, [CONFIG_MARKER]: true };
}

export function isConfig(value: unknown): value is DefinedConfig {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[CONFIG_MARKER] === true;
}

/** A validated configuration, with where it came from. */
export interface ResolvedProjectConfig {
  /** Path of the config file, relative to the working directory (for messages). */
  file: string;
  /** Absolute folder of the config file; `checks` are relative to it. */
  dir: string;
  checks: string[];
  /** Only the defaults that are valid on their own (invalid ones are reported, not inherited). */
  defaults: CheckDefaults;
  deploy: { coordinator?: string; maxDeletePercent: number };
}

export const DEFAULT_MAX_DELETE_PERCENT = 50;
