/**
 * The browser-script policy, checked on a finished bundle: by the loader (`lookout deploy`, `lookout
 * test`), by the coordinator's deploy API (where code enters the system, whatever made it) and by an agent
 * before it runs a bundle. It refuses, with file and line (mapped through the bundle's inline source map
 * to the check's own files when it has one):
 * - imports agents cannot satisfy or that reach files, processes, threads or the network (import-policy.ts);
 * - dynamic `import()` and `require` of any kind: what they load is only known when they run;
 * - ways around the module system: `process.binding`, `_linkedBinding`, `dlopen`, `getBuiltinModule`,
 *   `createRequire`, `mainModule`; code built from strings (`eval`, `Function(…)`);
 * - reading `process.env` or `process.argv`: a script's process has neither (its secrets come as `secrets`).
 * A static check cannot see everything (a property name built at run time); the sandbox the agent runs
 * scripts in (no environment, Node's permission model, no code generation from strings) is the second
 * line. This module only reads text: it never runs the bundle.
 */
import { build, stop as stopBundler, type Message } from 'esbuild';
import { SourceMap } from 'node:module';
import { relative, resolve } from 'node:path';
import type { Diagnostic } from './diagnostics.ts';
import { browserImportPolicy } from './import-policy.ts';

interface Finding { index: number; message: string }

const SOURCE_MAP = /\n\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;

/** Patterns refused wherever they appear in the code (strings included: a false refusal names itself). */
const TEXT_RULES: ReadonlyArray<{ pattern: RegExp; message: (match: RegExpExecArray) => string }> = [
  // import('literal') is refused by the import rules, naming what it loads; any other import() here.
  { pattern: /\bimport\s*\((?!\s*['"`])/g, message: () => 'dynamic import() is not allowed in a browser check: import modules statically at the top of a file' },
  { pattern: /(?<![.\w$'"`])(?:__)?require\b/g, message: () => 'require is not allowed in a browser check: import modules statically at the top of a file' },
  {
    pattern: /(?:\.|\?\.|\[\s*['"`])\s*(binding|_linkedBinding|dlopen|getBuiltinModule|createRequire|mainModule)\b/g,
    message: (m) => `"${m[1]}" is not allowed in a browser check: it reaches around the module system`,
  },
  { pattern: /\bprocess\s*(?:\?\.|\.)\s*(env|argv|execArgv)\b/g, message: (m) => `process.${m[1]} is empty in a browser check's process: read secrets from the script's "secrets" argument` },
  { pattern: /(?<![.\w$])(?:eval|Function)\s*\(/g, message: () => 'code built from strings (eval, Function(…)) is not allowed in a browser check' },
];

/**
 * Every policy problem of `code` (a browser check's bundle), each with the file and line it comes from.
 * `file` names the bundle when its source map cannot place a problem. Never throws.
 */
export async function checkScriptPolicy(code: string, file: string): Promise<Diagnostic[]> {
  inFlight++;
  try {
    return await check(code, file);
  } finally {
    // esbuild keeps a helper process for later builds; a coordinator or agent checks bundles rarely, so
    // it is not kept (the next check starts it again).
    if (--inFlight === 0) await stopBundler();
  }
}

let inFlight = 0;

async function check(code: string, file: string): Promise<Diagnostic[]> {
  const mapMatch = SOURCE_MAP.exec(code);
  const body = mapMatch ? code.slice(0, mapMatch.index) : code;
  const locate = locator(body, mapMatch?.[1], file);
  const problems: Diagnostic[] = [];
  try {
    await build({
      stdin: { contents: body, sourcefile: file, loader: 'js' },
      bundle: true, write: false, format: 'esm', platform: 'node', logLevel: 'silent',
      plugins: [browserImportPolicy({ selfContained: true })],
    });
  } catch (error) {
    const messages: Message[] = (error as { errors?: Message[] }).errors ?? [];
    if (messages.length === 0) problems.push({ file, message: `could not check the bundle: ${(error as Error).message}` });
    for (const m of messages) problems.push(m.location ? locate.at(m.location.line - 1, m.location.column, m.text) : { file, message: m.text });
  }
  for (const finding of textFindings(body)) problems.push(locate.index(finding.index, finding.message));
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.file}:${p.line}:${p.column}:${p.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

/** Where each text rule matches `code`. Pure. */
export function textFindings(code: string): Finding[] {
  const findings: Finding[] = [];
  for (const rule of TEXT_RULES) {
    for (const match of code.matchAll(rule.pattern)) findings.push({ index: match.index, message: rule.message(match as RegExpExecArray) });
  }
  return findings.sort((a, b) => a.index - b.index);
}

/** Turns positions in the bundle into diagnostics at the original file and line, through the source map. */
function locator(code: string, mapBase64: string | undefined, file: string) {
  let map: SourceMap | undefined;
  if (mapBase64) {
    try { map = new SourceMap(JSON.parse(Buffer.from(mapBase64, 'base64').toString('utf8'))); } catch { map = undefined; }
  }
  const lineStarts = [0];
  for (let i = code.indexOf('\n'); i >= 0; i = code.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const at = (line: number, column: number, message: string): Diagnostic => {
    const entry = map?.findEntry(line, column) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
    if (entry?.originalSource !== undefined && entry.originalLine !== undefined) {
      const source = entry.originalSource.startsWith('file://') ? new URL(entry.originalSource).pathname : entry.originalSource;
      return { file: relative(process.cwd(), resolve(source)) || source, line: entry.originalLine + 1, column: (entry.originalColumn ?? 0) + 1, message };
    }
    return { file: `${file} (bundle)`, line: line + 1, column: column + 1, message };
  };
  const index = (offset: number, message: string): Diagnostic => {
    let low = 0;
    let high = lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (lineStarts[mid]! <= offset) low = mid; else high = mid - 1;
    }
    return at(low, offset - lineStarts[low]!, message);
  };
  return { at, index };
}
