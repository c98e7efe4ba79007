/**
 * Bundling with esbuild, shared by the check loader (loader.ts) and the project loader
 * (project-loader.ts): a check file or `lookout.config.ts` becomes one self-contained ESM module (its
 * relative imports and the SDK inlined), imported from memory. Problems are diagnostics with file and
 * line, never exceptions.
 */
import { build, stop as stopBundler, type Message } from 'esbuild';
import { SourceMap } from 'node:module';
import { Worker } from 'node:worker_threads';
import { DEFAULT_IMPORT_TIMEOUT_MS } from './limits.ts';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from './diagnostics.ts';
import { browserImportPolicy } from './import-policy.ts';
import { checkScriptPolicy } from './script-policy.ts';

const SDK_ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'index.ts');

/**
 * Bundles one check file into ESM code, or reports its build errors with file and line.
 * `browserImports`: also refuse, at their line, imports that agents cannot satisfy and what else the
 * browser-script policy refuses (script-policy.ts), for checks whose bundle agents run. Such a bundle runs
 * in a process without environment, so each `process.env.NAME` it reads is fixed at bundle time to this
 * process's value (as everything an HTTP check's file computes is): the code ships with the value.
 */
export async function bundleCheckFile(file: string, options: { browserImports?: boolean } = {}): Promise<{ code?: string; problems: Diagnostic[] }> {
  try {
    let output = await bundleOnce(file, options.browserImports === true, {});
    const names = options.browserImports ? [...new Set([...output.outputFiles[0]!.text.matchAll(ENV_READ)].map((m) => m[1]!))] : [];
    if (names.length > 0) {
      const define = Object.fromEntries(names.map((name) => [`process.env.${name}`, process.env[name] === undefined ? 'undefined' : JSON.stringify(process.env[name])]));
      output = await bundleOnce(file, true, define);
    }
    const code = output.outputFiles[0]!.text;
    if (!options.browserImports) return { code, problems: [] };
    const problems = await checkScriptPolicy(code, relative(process.cwd(), file) || file);
    return problems.length > 0 ? { problems } : { code, problems };
  } catch (error) {
    const messages: Message[] = (error as { errors?: Message[] }).errors ?? [];
    if (messages.length === 0) return { problems: [{ file, message: `could not bundle: ${(error as Error).message}` }] };
    return {
      problems: messages.map((m) => ({
        file: m.location ? relative(process.cwd(), resolve(m.location.file)) || m.location.file : file,
        line: m.location?.line,
        column: m.location ? m.location.column + 1 : undefined,
        message: m.text,
      })),
    };
  }
}

/** `process.env.NAME` read by a script's code. */
const ENV_READ = /\bprocess\.env\.([A-Za-z_][A-Za-z0-9_]*)\b/g;

function bundleOnce(file: string, browserImports: boolean, define: Record<string, string>) {
  return build({
      entryPoints: [file],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'node22',
      logLevel: 'silent',
      sourcemap: 'inline',
      sourcesContent: false,
      alias: { 'lookout/checks': SDK_ENTRY, lookout: SDK_ENTRY },
      define,
      plugins: browserImports ? [browserImportPolicy()] : [],
    });
}

/**
 * Imports bundled code in a worker thread with a deadline (`timeoutMs`, `--import-timeout`): a check file
 * that loops at import time (`while (!ready) {}`) or never settles its top-level await is stopped there,
 * and reported as `IMPORT_TIMEOUT` naming the file, instead of hanging `lookout deploy` and `lookout test`
 * with no output. A throw at import is reported with the file and the line it came from (through the
 * bundle's inline source map). Functions a module exports come back as stand-ins (see import-worker.ts).
 */
export async function importBundle(code: string, file: string, options: { timeoutMs?: number } = {}): Promise<{ module: Record<string, unknown> } | { problem: Diagnostic }> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_IMPORT_TIMEOUT_MS;
  const worker = new Worker(WORKER_ENTRY, { workerData: { code }, resourceLimits: { maxOldGenerationSizeMb: 512 }, stdout: false, stderr: false });
  let timer: NodeJS.Timeout | undefined;
  try {
    const outcome = await new Promise<WorkerAnswer | { timeout: true } | { unsettled: true } | { crashed: string }>((resolve) => {
      timer = setTimeout(() => resolve({ timeout: true }), timeoutMs);
      worker.once('message', (message: WorkerAnswer) => resolve(message));
      worker.once('error', (error) => resolve({ crashed: error.message }));
      // 13: Node's "unsettled top-level await", a wait that can never end (the worker has nothing else to do).
      worker.once('exit', (exitCode) => resolve(exitCode === 13 ? { unsettled: true } : { crashed: `the file ended the process while loading (exit code ${exitCode})` }));
    });
    if ('timeout' in outcome) {
      return { problem: { file, code: 'IMPORT_TIMEOUT', message: `IMPORT_TIMEOUT: did not finish loading within ${timeoutMs} ms (a loop or a wait at import time?); raise --import-timeout if it is only slow` } };
    }
    if ('unsettled' in outcome) {
      return { problem: { file, code: 'IMPORT_TIMEOUT', message: 'IMPORT_TIMEOUT: never finished loading: a top-level await that can never settle' } };
    }
    if ('crashed' in outcome) return { problem: { file, message: `failed while loading: ${outcome.crashed}` } };
    if (!outcome.ok) {
      const at = throwLocation(outcome.stack, code);
      return { problem: { file: at?.file ?? file, ...(at ? { line: at.line, column: at.column } : {}), message: `failed while loading: ${outcome.message}` } };
    }
    return { module: revive(outcome.module) as Record<string, unknown> };
  } finally {
    clearTimeout(timer);
    await worker.terminate();
  }
}

type WorkerAnswer = { ok: true; module: Record<string, unknown> } | { ok: false; message: string; stack: string };

const WORKER_ENTRY = new URL('./import-worker.ts', import.meta.url);
const FUNCTION_TAG = '__lookoutFunction';

/** Posted data back to values: each function tag becomes a function that says it cannot run here. */
function revive(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(revive);
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  if (typeof record[FUNCTION_TAG] === 'string') {
    const name = record[FUNCTION_TAG];
    return Object.defineProperty(() => { throw new Error(`${name}: a check file's functions run in agents, not while loading`); }, 'name', { value: name });
  }
  return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, revive(item)]));
}

/**
 * Where a throw at import came from, in the user's file: the first stack frame in the bundle (a
 * `data:` URL), mapped through the bundle's inline source map. Null when it cannot be told.
 */
export function throwLocation(stack: string, code: string): { file: string; line: number; column: number } | null {
  const frame = /data:text\/javascript;base64,[A-Za-z0-9+/=]*:(\d+):(\d+)/.exec(stack);
  const map = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/.exec(code);
  if (!frame || !map) return null;
  try {
    const entry = new SourceMap(JSON.parse(Buffer.from(map[1]!, 'base64').toString('utf8'))).findEntry(Number(frame[1]) - 1, Number(frame[2]) - 1);
    if (!('originalSource' in entry) || typeof entry.originalSource !== 'string') return null;
    const source = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : resolve(entry.originalSource);
    return { file: relative(process.cwd(), source) || source, line: entry.originalLine + 1, column: entry.originalColumn + 1 };
  } catch {
    return null;
  }
}

/**
 * Ends esbuild's helper process. Loading starts it and keeps it for later builds; a long-running
 * caller (the fleet) releases it once it has loaded its checks, so it leaves no process behind.
 */
export async function releaseBundler(): Promise<void> {
  await stopBundler();
}
