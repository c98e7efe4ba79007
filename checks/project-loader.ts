/**
 * Finds and loads `lookout.config.ts`: looked for in the folder of the first path given and its parents,
 * up to the git root (a folder holding `.git`) or the working directory, whichever comes first. The file
 * is bundled like a check file (so it may import helpers and `lookout/checks`) and validated.
 */
import { zodProblems } from '../lib/zod-problems.ts';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { RegionName } from './contract.ts';
import { MAX_REGIONS_PER_CHECK, MAX_TAGS_PER_CHECK, MAX_TAG_LENGTH, atMost } from './limits.ts';
import type { Diagnostic } from './diagnostics.ts';
import { parseDuration } from './duration.ts';
import { bundleCheckFile, importBundle } from './bundle.ts';
import { CONFIG_FILE_NAMES, CONFIG_MARKER, DEFAULT_MAX_DELETE_PERCENT, isConfig, type CheckDefaults, type ResolvedProjectConfig } from './project.ts';

/** The config file that governs `path` (a file or folder), or null. */
export function findConfigFile(path: string, cwd = process.cwd()): string | null {
  let dir = resolve(path);
  try { if (!statSync(dir).isDirectory()) dir = dirname(dir); } catch { dir = dirname(dir); }
  const stopAt = resolve(cwd);
  for (;;) {
    for (const name of CONFIG_FILE_NAMES) {
      const candidate = join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
    if (dir === stopAt || existsSync(join(dir, '.git'))) return null;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** Bundles, imports and validates one config file; every problem is a diagnostic naming the file. */
export async function loadProjectConfig(file: string, options: { timeoutMs?: number } = {}): Promise<{ config?: ResolvedProjectConfig; problems: Diagnostic[] }> {
  const absolute = resolve(file);
  const shown = relative(process.cwd(), absolute) || absolute;
  const bundled = await bundleCheckFile(absolute);
  if (!bundled.code) return { problems: bundled.problems };
  const imported = await importBundle(bundled.code, shown, options);
  if ('problem' in imported) return { problems: [imported.problem] };
  return validateProjectConfig(imported.module.default, shown, dirname(absolute));
}

const duration = z.string().refine((v) => 'ms' in parseDuration(v), { message: 'expected a duration like "30s", "500ms" or "1m"' });

/** The defaults Lookout knows; other keys pass through and are validated with each check that inherits them. */
const KnownDefaults = {
  regions: z.array(RegionName).min(1, 'regions must not be empty').max(MAX_REGIONS_PER_CHECK, atMost(MAX_REGIONS_PER_CHECK, 'regions per check', 'MAX_REGIONS_PER_CHECK'))
    .refine((r) => new Set(r).size === r.length, 'regions must not repeat'),
  frequency: duration,
  timeout: duration,
  failureThreshold: z.number().int().min(1).max(100),
  successThreshold: z.number().int().min(1).max(100),
  tags: z.array(z.string().min(1).max(MAX_TAG_LENGTH)).max(MAX_TAGS_PER_CHECK, atMost(MAX_TAGS_PER_CHECK, 'tags per check', 'MAX_TAGS_PER_CHECK')),
} as const;

const ConfigShape = z.object({
  checks: z.array(z.string().min(1)).min(1).optional(),
  defaults: z.record(z.string(), z.unknown()).optional(),
  deploy: z.object({
    coordinator: z.string().refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'expected an http:// or https:// URL').optional(),
    maxDeletePercent: z.number().min(0).max(100).optional(),
  }).strict().optional(),
}).strict();

/**
 * Validates what `lookout.config.ts` exported. Every problem names the config file and the field
 * (`defaults.frequency`); defaults that are invalid are left out so that checks do not repeat the problem.
 */
export function validateProjectConfig(value: unknown, file: string, dir: string): { config?: ResolvedProjectConfig; problems: Diagnostic[] } {
  if (!isConfig(value)) {
    return { problems: [{ file, message: 'must default-export defineConfig({ ... }) (import { defineConfig } from \'lookout/checks\')' }] };
  }
  const raw: Record<string, unknown> = { ...value };
  delete raw[CONFIG_MARKER];
  const problems: Diagnostic[] = [];
  const parsed = ConfigShape.safeParse(raw);
  if (!parsed.success) {
    for (const { field, message } of zodProblems(parsed.error, { unknownKeyNoun: 'option' })) problems.push({ file, ...(field ? { field } : {}), message });
  }
  const defaults: Record<string, unknown> = {};
  const rawDefaults = raw.defaults;
  if (rawDefaults !== null && typeof rawDefaults === 'object' && !Array.isArray(rawDefaults)) {
    for (const [key, item] of Object.entries(rawDefaults)) {
      if (item === undefined) continue;
      if (key === 'id' || key === 'name') {
        problems.push({ file, field: `defaults.${key}`, message: `${key} cannot have a default: every check sets its own` });
        continue;
      }
      const schema = (KnownDefaults as Record<string, z.ZodType | undefined>)[key];
      const checked = schema?.safeParse(item);
      if (checked && !checked.success) {
        for (const { field, message } of zodProblems(checked.error, { at: `defaults.${key}` })) problems.push({ file, field, message });
        continue;
      }
      defaults[key] = item;
    }
    if (typeof defaults.frequency === 'string' && typeof defaults.timeout === 'string') {
      const f = parseDuration(defaults.frequency);
      const t = parseDuration(defaults.timeout);
      if ('ms' in f && 'ms' in t && t.ms > f.ms) {
        problems.push({ file, field: 'defaults.timeout', message: 'timeout must not exceed frequency' });
        delete defaults.timeout;
      }
    }
  }
  const deploy = parsed.success ? parsed.data.deploy ?? {} : {};
  return {
    config: {
      file, dir,
      checks: parsed.success && parsed.data.checks ? parsed.data.checks : ['.'],
      defaults: defaults as CheckDefaults,
      deploy: { ...(deploy.coordinator ? { coordinator: deploy.coordinator } : {}), maxDeletePercent: deploy.maxDeletePercent ?? DEFAULT_MAX_DELETE_PERCENT },
    },
    problems,
  };
}
