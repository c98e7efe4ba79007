/**
 * Bundling with esbuild, shared by the check loader (loader.ts) and the project loader
 * (project-loader.ts): a check file or `lookout.config.ts` becomes one self-contained ESM module (its
 * relative imports and the SDK inlined), imported from memory. Problems are diagnostics with file and
 * line, never exceptions.
 */
import { build, stop as stopBundler, type Message } from 'esbuild';
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

/** Imports bundled code from memory; `file` names it in the problem when it throws while loading. */
export async function importBundle(code: string, file: string): Promise<{ module: Record<string, unknown> } | { problem: Diagnostic }> {
  try {
    return { module: await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`) as Record<string, unknown> };
  } catch (error) {
    return { problem: { file, message: `failed while loading: ${(error as Error).message}` } };
  }
}

/**
 * Ends esbuild's helper process. Loading starts it and keeps it for later builds; a long-running
 * caller (the fleet) releases it once it has loaded its checks, so it leaves no process behind.
 */
export async function releaseBundler(): Promise<void> {
  await stopBundler();
}
