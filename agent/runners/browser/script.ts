/**
 * Finds a browser check's script in its bundle. The bundle (self-contained ESM made by the loader) is
 * imported once per content hash; ESM modules cannot be unloaded, so a bundle stays in memory for the life
 * of the process that imported it: a sandbox process, which serves one check's bundle (sandbox/pool.ts), so
 * the agent itself never holds them.
 */
import { createHash } from 'node:crypto';
import type { BrowserScript } from '../../../checks/browser.ts';
import type { BrowserCheckDefinition } from '../../../checks/contract.ts';
import { CHECK_MARKER } from '../../../checks/sdk.ts';

const modules = new Map<string, Promise<Record<string, unknown>>>();

export type ScriptLookup =
  | { ok: true; script: BrowserScript }
  /** `invalid`: the job is broken (agent error); `threw`: the user's module threw while loading (target-side script error). */
  | { ok: false; kind: 'invalid' | 'threw'; message: string };

export async function loadBrowserScript(definition: Pick<BrowserCheckDefinition, 'id' | 'script'>): Promise<ScriptLookup> {
  const hash = createHash('sha256').update(definition.script.bundle).digest('hex');
  let loading = modules.get(hash);
  if (!loading) {
    loading = import(`data:text/javascript;base64,${Buffer.from(definition.script.bundle).toString('base64')}`) as Promise<Record<string, unknown>>;
    modules.set(hash, loading);
  }
  let module: Record<string, unknown>;
  try {
    module = await loading;
  } catch (error) {
    const message = `${definition.script.file}: ${(error as Error).message ?? String(error)}`;
    if (error instanceof SyntaxError) return { ok: false, kind: 'invalid', message: `bundle does not parse: ${message}` };
    return { ok: false, kind: 'threw', message: `check module threw while loading: ${message}` };
  }
  for (const value of Object.values(module)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      const check = item as Record<string, unknown> | null;
      if (check && typeof check === 'object' && check[CHECK_MARKER] === true && check.type === 'browser' && check.id === definition.id) {
        if (typeof check.script !== 'function') return { ok: false, kind: 'invalid', message: `check "${definition.id}" has no script function` };
        return { ok: true, script: check.script as BrowserScript };
      }
    }
  }
  return { ok: false, kind: 'invalid', message: `bundle of ${definition.script.file} exports no browser check with id "${definition.id}"` };
}

/** How many distinct bundles this process imported (for metrics and tests). */
export function loadedBundleCount(): number {
  return modules.size;
}
