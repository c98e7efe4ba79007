/**
 * Browser checks for tests, made the way users make them: check files in a temporary project folder,
 * loaded (bundled and validated) by `loadChecks`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserCheckDefinition } from '../../checks/contract.ts';
import { formatDiagnostic } from '../../checks/diagnostics.ts';
import { loadChecks, type LoadResult } from '../../checks/loader.ts';

const made: string[] = [];

/** Removes every folder {@link writeProject} made (call in afterAll). */
export function removeProjects(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Writes `files` (path → text) into a new temporary folder and returns it. */
export function writeProject(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-browser-checks-'));
  made.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

export function loadProject(files: Record<string, string>): Promise<LoadResult> {
  return loadChecks([writeProject(files)]);
}

/**
 * One browser check from a script body: `body` is the inside of `async ({ page, step, expect, secrets, context }) => { … }`.
 */
export async function browserCheck(id: string, body: string, options: { timeout?: string; files?: Record<string, string>; header?: string } = {}): Promise<BrowserCheckDefinition> {
  const source = `import { defineBrowserCheck } from 'lookout/checks';
${options.header ?? ''}
export default defineBrowserCheck({
  id: ${JSON.stringify(id)}, name: ${JSON.stringify(id)}, regions: ['local'], frequency: '1m', timeout: ${JSON.stringify(options.timeout ?? '10s')},
  script: async ({ page, context, step, expect, secrets }) => {
${body}
  },
});
`;
  const loaded = await loadProject({ [`${id}.check.ts`]: source, ...options.files });
  if (loaded.problems.length > 0) throw new Error(`check did not load:\n${loaded.problems.map(formatDiagnostic).join('\n')}`);
  const definition = loaded.checks[0]!.definition;
  if (definition.type !== 'browser') throw new Error('not a browser check');
  return definition;
}
