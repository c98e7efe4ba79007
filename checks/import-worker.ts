/**
 * Runs in a worker thread (see bundle.ts `importBundle`): imports one bundled check file and posts back
 * what it exports as plain data, functions replaced by a tag (a browser check's script runs only in
 * agents; the loader needs to know it is a function, not to call it). A file that loops or hangs at
 * import time then costs the worker, which the caller ends at its deadline, never the CLI.
 */
import { parentPort, workerData } from 'node:worker_threads';

/** Marks a function in the posted data; bundle.ts turns it back into a stand-in function. */
const FUNCTION_TAG = '__lookoutFunction';
const MAX_NODES = 100_000;

const { code } = workerData as { code: string };

/** Plain data for `value`: functions tagged, cycles and what cannot be cloned left out, size bounded. */
function plain(value: unknown, seen: Set<unknown>, budget: { nodes: number }): unknown {
  if (--budget.nodes < 0) return undefined;
  if (typeof value === 'function') return { [FUNCTION_TAG]: value.name || 'anonymous' };
  if (value === null || typeof value !== 'object') return typeof value === 'symbol' || typeof value === 'bigint' ? undefined : value;
  if (seen.has(value)) return undefined;
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => plain(item, seen, budget));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) out[key] = plain((value as Record<string, unknown>)[key], seen, budget);
    return out;
  } finally {
    seen.delete(value);
  }
}

try {
  const module = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`) as Record<string, unknown>;
  const budget = { nodes: MAX_NODES };
  const exported: Record<string, unknown> = {};
  for (const key of Object.keys(module)) exported[key] = plain(module[key], new Set(), budget);
  parentPort!.postMessage({ ok: true, module: exported });
} catch (error) {
  const err = error instanceof Error ? error : new Error(String(error));
  parentPort!.postMessage({ ok: false, message: err.message, stack: err.stack ?? '' });
}
