/**
 * Loads a project's check files: finds `*.check.ts` files, bundles each with esbuild (so a check may
 * import its own helpers by relative path and the result is one self-contained module), imports the
 * bundle, collects the checks it exports, and validates them all. Every problem of every file is
 * reported together with file, line, check id and field; callers deploy nothing when any exists.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { bundleCheckFile, importBundle } from './bundle.ts';
import { checkTypeTraits } from './check-types.ts';
import type { CheckDefinition } from './contract.ts';
import type { Diagnostic } from './diagnostics.ts';
import { normalizeCheck } from './normalize.ts';
import type { ResolvedProjectConfig } from './project.ts';
import { findConfigFile, loadProjectConfig } from './project-loader.ts';
import { isCheck, type AnyCheck } from './sdk.ts';

const CHECK_FILE = /\.check\.(ts|mts|js|mjs)$/;

export interface LoadedCheck {
  definition: CheckDefinition;
  /** Path of the file that defines it, relative to the working directory. */
  file: string;
  /** The file's bundled ESM code (the file with its relative imports and the SDK inlined). */
  bundle: string;
}

export interface LoadResult {
  checks: LoadedCheck[];
  problems: Diagnostic[];
  files: string[];
  /** The project configuration applied (`lookout.config.ts`), when there is one. */
  config?: ResolvedProjectConfig;
}

export interface LoadOptions {
  /**
   * The project configuration whose defaults the checks inherit: a config file's path, `false` for
   * none. @defaultValue found from the first path upward (see `findConfigFile`)
   */
  config?: string | false;
  /** How long one file may take to load (its code runs in a worker thread). @defaultValue 10000 (`DEFAULT_IMPORT_TIMEOUT_MS`) */
  importTimeoutMs?: number;
}

/** Finds check files under the given files and folders (skipping node_modules and dot folders). */
export function findCheckFiles(paths: string[]): { files: string[]; problems: Diagnostic[] } {
  const files = new Set<string>();
  const problems: Diagnostic[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (CHECK_FILE.test(entry.name)) files.add(full);
    }
  };
  for (const path of paths) {
    let stats;
    try { stats = statSync(path); } catch {
      problems.push({ file: path, message: 'no such file or folder' });
      continue;
    }
    if (stats.isDirectory()) walk(path);
    else files.add(path);
  }
  return { files: [...files].sort(), problems };
}

/** Imports bundled check code and returns the checks it exports (default and named, arrays allowed). */
export async function importChecks(code: string, file: string, options: { timeoutMs?: number } = {}): Promise<{ checks: AnyCheck[]; problems: Diagnostic[] }> {
  const imported = await importBundle(code, file, options);
  if ('problem' in imported) return { checks: [], problems: [imported.problem] };
  const checks: AnyCheck[] = [];
  for (const value of Object.values(imported.module)) {
    for (const item of Array.isArray(value) ? value : [value]) if (isCheck(item)) checks.push(item);
  }
  if (checks.length === 0) return { checks, problems: [{ file, message: 'exports no checks (export defineHttpCheck(...) as default or by name)' }] };
  return { checks, problems: [] };
}

/** Loads the project configuration and validates every check under `paths` with it. */
export async function loadChecks(paths: string[], options: LoadOptions = {}): Promise<LoadResult> {
  const configFile = options.config === false ? null : options.config ?? (paths[0] !== undefined ? findConfigFile(paths[0]) : null);
  const timeout = options.importTimeoutMs !== undefined ? { timeoutMs: options.importTimeoutMs } : {};
  const project = configFile ? await loadProjectConfig(configFile, timeout) : { problems: [] };
  const found = findCheckFiles(paths);
  const problems = [...project.problems, ...found.problems];
  const defaults = project.config?.defaults ?? {};
  const checks: LoadedCheck[] = [];
  const seen = new Map<string, string>();
  if (found.files.length === 0 && problems.length === 0) {
    problems.push({ file: paths.join(', '), message: 'no check files found (files must end in .check.ts)' });
  }
  for (const absolute of found.files) {
    const file = relative(process.cwd(), absolute) || absolute;
    const bundled = await bundleCheckFile(absolute);
    problems.push(...bundled.problems);
    if (!bundled.code) continue;
    const imported = await importChecks(bundled.code, file, timeout);
    problems.push(...imported.problems);
    let shipped = bundled.code;
    if (imported.checks.some((check) => checkTypeTraits(check.type)?.script)) {
      // Checks with a script (browser checks) ship a bundle built under the agents' script policy.
      const strict = await bundleCheckFile(absolute, { browserImports: true });
      problems.push(...strict.problems);
      if (!strict.code) continue;
      shipped = strict.code;
    }
    for (const check of imported.checks) {
      const normalized = normalizeCheck(check, file, shipped, defaults);
      problems.push(...normalized.problems);
      if (!normalized.definition) continue;
      const id = normalized.definition.id;
      const earlier = seen.get(id);
      if (earlier) {
        problems.push({ file, checkId: id, field: 'id', message: `duplicate check id (also defined in ${earlier})` });
        continue;
      }
      seen.set(id, file);
      checks.push({ definition: normalized.definition, file, bundle: shipped });
    }
  }
  return { checks, problems, files: found.files, ...(project.config ? { config: project.config } : {}) };
}
