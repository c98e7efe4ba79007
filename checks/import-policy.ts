/**
 * Which bare imports a browser check may use. A browser check's bundle runs on agents that have only
 * Lookout itself installed, so the check may import: its own files by relative path (inlined by the
 * bundler), the SDK (`lookout/checks`), and Node's built-in modules. Everything else is refused at
 * deploy time with the import's file and line, even a package esbuild could inline from the user's
 * node_modules: such packages may load files, native addons or code at run time that the bundle does not
 * carry, and a second Playwright would bypass the agent's browser limits.
 */
import type { Plugin } from 'esbuild';
import { builtinModules } from 'node:module';

const SDK_SPECIFIERS = new Set(['lookout', 'lookout/checks']);
const BUILTINS = new Set(builtinModules);

/** A specifier that is neither relative nor absolute, e.g. `dayjs`, `node:fs`, `@scope/pkg/sub`. */
export function isBareSpecifier(specifier: string): boolean {
  return !/^(\.{1,2}(\/|$)|\/|[A-Za-z]:[\\/]|file:|data:)/.test(specifier);
}

/** Whether an agent can satisfy this import from a browser check; `undefined` when it can, else why not. */
export function disallowedImportReason(specifier: string): string | undefined {
  if (!isBareSpecifier(specifier)) return undefined;
  if (SDK_SPECIFIERS.has(specifier)) return undefined;
  if (specifier.startsWith('node:') || BUILTINS.has(specifier) || BUILTINS.has(specifier.split('/')[0]!)) return undefined;
  if (specifier === 'playwright-core' || specifier === 'playwright' || specifier.startsWith('@playwright/')) {
    return `"${specifier}" cannot be imported by a browser check: use the page, context and expect the script receives (type-only imports are fine)`;
  }
  return `"${specifier}" is not available on agents: browser checks may import their own files by relative path, "lookout/checks" and Node built-ins`;
}

/** An esbuild plugin that fails the build, at each offending import, for imports agents cannot satisfy. */
export function browserImportPolicy(): Plugin {
  return {
    name: 'lookout-browser-imports',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return undefined;
        const reason = disallowedImportReason(args.path);
        return reason ? { errors: [{ text: reason }] } : undefined;
      });
    },
  };
}
