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

const SDK_ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'index.ts');

/**
 * Bundles one check file into ESM code, or reports its build errors with file and line.
 * `browserImports`: also refuse, at their line, imports that agents cannot satisfy (browser checks).
 */
export async function bundleCheckFile(file: string, options: { browserImports?: boolean } = {}): Promise<{ code?: string; problems: Diagnostic[] }> {
  try {
    const output = await build({
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
      plugins: options.browserImports ? [browserImportPolicy()] : [],
    });
    return { code: output.outputFiles[0]!.text, problems: [] };
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
