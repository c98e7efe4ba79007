/**
 * Which checks a command works on. Positional arguments that exist on disk are files or folders to load;
 * the others are patterns that select checks by id or file (`*` any characters, `?` one). Without
 * paths, the project is the one of the nearest `lookout.config.ts` (its `checks` folders), else
 * `checks/examples`. Every check of the loaded files is validated, selected or not.
 */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { loadChecks, type LoadedCheck, type LoadResult } from '../checks/loader.ts';
import { findConfigFile, loadProjectConfig } from '../checks/project-loader.ts';

export const DEFAULT_CHECK_PATHS = ['checks/examples'];

export interface ProjectLoad extends LoadResult {
  /** The checks the patterns select (all of them without patterns). */
  selected: LoadedCheck[];
  /** Patterns that matched no check. */
  unmatched: string[];
}

/** Splits arguments into paths (they exist) and patterns (they do not). */
export function splitArguments(args: readonly string[], exists: (path: string) => boolean = existsSync): { paths: string[]; patterns: string[] } {
  const paths: string[] = [];
  const patterns: string[] = [];
  for (const arg of args) (exists(arg) ? paths : patterns).push(arg);
  return { paths, patterns };
}

/** A glob-ish pattern as a whole-string regular expression: `*` any run of characters, `?` one. */
export function patternRegExp(pattern: string): RegExp {
  const source = pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${source}$`);
}

/** Whether a check matches a pattern: by id, by file path, or by file name. */
export function matchesPattern(check: { id: string; file: string }, pattern: string): boolean {
  const re = patternRegExp(pattern);
  return re.test(check.id) || re.test(check.file) || re.test(basename(check.file));
}

/** Loads the project for `args` (paths and patterns) and `--config` (a file, or false for none). */
export async function loadProject(args: readonly string[], options: { config?: string | false; importTimeoutMs?: number } = {}): Promise<ProjectLoad> {
  const timeout = options.importTimeoutMs !== undefined ? { importTimeoutMs: options.importTimeoutMs } : {};
  const { paths, patterns } = splitArguments(args);
  let loadPaths = paths;
  let config = options.config;
  if (loadPaths.length === 0) {
    const configFile = config === false ? null : config ?? findConfigFile(process.cwd());
    if (configFile) {
      const project = await loadProjectConfig(configFile, options.importTimeoutMs !== undefined ? { timeoutMs: options.importTimeoutMs } : {});
      // A config that cannot be loaded at all has nothing to say where the checks are.
      if (!project.config) return { checks: [], problems: project.problems, files: [], selected: [], unmatched: [] };
      loadPaths = project.config.checks.map((p) => resolve(project.config!.dir, p));
      config = configFile;
    } else loadPaths = DEFAULT_CHECK_PATHS;
  }
  const loaded = await loadChecks(loadPaths, { ...timeout, ...(config !== undefined ? { config } : {}) });
  const selected = patterns.length === 0 ? loaded.checks : loaded.checks.filter((c) => patterns.some((p) => matchesPattern({ id: c.definition.id, file: c.file }, p)));
  const unmatched = patterns.filter((p) => !loaded.checks.some((c) => matchesPattern({ id: c.definition.id, file: c.file }, p)));
  return { ...loaded, selected, unmatched };
}
