/**
 * Which imports a browser check may use. A browser check's bundle runs on agents, in a sandboxed process
 * that has only Lookout itself installed, so the check may import: its own files by relative path
 * (inlined by the bundler), the SDK (`lookout/checks`), and the Node built-ins that reach neither files,
 * processes, threads nor the network (`node:crypto`, `node:url`, `node:util`, …), each with a static
 * `import` statement. Everything else is refused with the import's file and line, even a package esbuild
 * could inline from the user's node_modules: such packages may load files, native addons or code at run
 * time that the bundle does not carry, and a second Playwright would bypass the agent's browser limits.
 * Dynamic `import()` and `require()` of anything but a relative file are refused too: what they load is
 * only known when they run. The same rules are checked again on the finished bundle, where code enters
 * the system (the deploy API) and before an agent runs it (script-policy.ts).
 */
import type { Plugin } from 'esbuild';

const SDK_SPECIFIERS = new Set(['lookout', 'lookout/checks']);

/** Built-ins a browser check may import: computation, encodings, events, timers; no I/O, no processes. */
export const ALLOWED_BUILTINS: ReadonlySet<string> = new Set([
  'assert', 'assert/strict', 'buffer', 'crypto', 'events', 'path', 'path/posix', 'path/win32', 'perf_hooks',
  'querystring', 'stream', 'stream/promises', 'stream/web', 'string_decoder', 'timers', 'timers/promises',
  'url', 'util', 'util/types', 'zlib',
]);

/** A specifier that is neither relative nor absolute, e.g. `dayjs`, `node:fs`, `@scope/pkg/sub`. */
export function isBareSpecifier(specifier: string): boolean {
  return !/^(\.{1,2}(\/|$)|\/|[A-Za-z]:[\\/]|file:|data:)/.test(specifier);
}

/** The kinds of import esbuild reports that load code when they run, not when the bundle is built. */
const DYNAMIC_KINDS = new Set(['dynamic-import', 'require-call', 'require-resolve']);

/**
 * Whether an agent can satisfy this import from a browser check: `undefined` when it can, else why not.
 * `kind` is esbuild's (`import-statement`, `dynamic-import`, `require-call`, …).
 */
export function disallowedImportReason(specifier: string, kind = 'import-statement'): string | undefined {
  if (!isBareSpecifier(specifier)) return undefined;
  if (DYNAMIC_KINDS.has(kind)) {
    const how = kind === 'dynamic-import' ? 'dynamic import()' : 'require()';
    return `${how} of "${specifier}" is not allowed in a browser check: what it loads is only known when it runs (import the SDK and allowed built-ins statically)`;
  }
  if (SDK_SPECIFIERS.has(specifier)) return undefined;
  const builtin = specifier.startsWith('node:') ? specifier.slice('node:'.length) : specifier;
  if (ALLOWED_BUILTINS.has(builtin)) return undefined;
  if (specifier.startsWith('node:') || isNodeBuiltin(builtin)) {
    return `"${specifier}" cannot be imported by a browser check: its script runs without file, process, thread or network access (allowed built-ins: ${[...ALLOWED_BUILTINS].filter((b) => !b.includes('/')).join(', ')})`;
  }
  if (specifier === 'playwright-core' || specifier === 'playwright' || specifier.startsWith('@playwright/')) {
    return `"${specifier}" cannot be imported by a browser check: use the page, context and expect the script receives (type-only imports are fine)`;
  }
  return `"${specifier}" is not available on agents: browser checks may import their own files by relative path, "lookout/checks" and some Node built-ins`;
}

const NODE_BUILTINS = new Set(['child_process', 'cluster', 'dgram', 'diagnostics_channel', 'dns', 'domain', 'fs', 'http', 'http2', 'https',
  'inspector', 'module', 'net', 'os', 'process', 'punycode', 'readline', 'repl', 'sea', 'sqlite', 'test', 'tls', 'trace_events', 'tty',
  'v8', 'vm', 'wasi', 'worker_threads', 'async_hooks', 'constants', 'sys', 'console']);

function isNodeBuiltin(specifier: string): boolean {
  return NODE_BUILTINS.has(specifier.split('/')[0]!);
}

/**
 * An esbuild plugin that fails the build, at each offending import, for imports agents cannot satisfy.
 * `selfContained`: the input is a finished bundle, so a relative import (a file it does not carry) is
 * refused too, and every allowed import stays external.
 */
export function browserImportPolicy(options: { selfContained?: boolean } = {}): Plugin {
  return {
    name: 'lookout-browser-imports',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return undefined;
        if (options.selfContained && !isBareSpecifier(args.path)) {
          return { errors: [{ text: `"${args.path}" is not in the bundle: a browser check's bundle must carry every file it imports` }] };
        }
        const reason = disallowedImportReason(args.path, args.kind);
        if (reason) return { errors: [{ text: reason }] };
        return options.selfContained ? { path: args.path, external: true } : undefined;
      });
    },
  };
}
