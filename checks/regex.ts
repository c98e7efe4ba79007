/**
 * Users' regular expressions (`header(...).matches()`, `body.matches()`) run on a target's response,
 * which the target controls: on V8's backtracking engine, `^(a|aa)+$` against 35 bytes of a header took a
 * second, and longer input froze an agent's event loop. So every user pattern runs on V8's linear-time
 * engine (the `l` flag, behind `--enable-experimental-regexp-engine`, set below for this process): time
 * grows with pattern × input length, never exponentially. Validation (the SDK's and the deploy API's)
 * compiles patterns here too, so a pattern the engine cannot run is refused at deploy, never at run time.
 *
 * The engine has no `i` flag, no lookahead, no backreferences and no repetition count above 16. This
 * module gives back what users need most of that, by rewriting the pattern:
 * - a whole pattern wrapped as `(?i:…)` (what the SDK makes of `/…/i`) matches case-insensitively: the
 *   pattern's letters and the input are lower-cased (length-preserving, so match positions hold);
 * - `x{n,m}` with counts above 16 is spelled out as `x{16}x{16}…` (counts up to 1,000, as RE2 allows).
 * Lookahead, backreferences and other inline flags are refused with a message that says so.
 *
 * Why not RE2: the npm packages are a native addon (needs a C++ toolchain or a download from GitHub,
 * neither available on a fresh machine here) or WebAssembly builds (`re2-wasm`, `@adguard/re2-wasm`)
 * with a fixed 16 MiB heap that never frees compiled patterns: both aborted the whole process after
 * 20,000 compilations in our test, and an input larger than the heap would too.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--enable-experimental-regexp-engine');

/** Highest repetition count the linear engine takes as one quantifier. */
const ENGINE_MAX_REPEAT = 16;
/** Highest repetition count a pattern may ask for (RE2's bound). */
export const MAX_REPEAT = 1_000;
/** Longest pattern after repetitions are spelled out. */
const MAX_EXPANDED_LENGTH = 16 * 1024;

export interface LinearSource {
  /** The pattern for `new RegExp(source, 'l')`. */
  source: string;
  /** Match against the lower-cased input (the pattern was `(?i:…)`). */
  foldCase: boolean;
}

/** A compiled user pattern: where it first matches, or null. */
export interface UserRegex {
  readonly pattern: string;
  /**
   * Estimated states of the engine's automaton: matching costs up to ~30 ns × states × input characters
   * (measured: `(.*a){12}` on 1 MiB of `a` took 735 ms), so callers bound the input by it.
   */
  readonly states: number;
  exec(text: string): { index: number; length: number } | null;
  test(text: string): boolean;
}

/** Rewrites a user pattern for the linear engine (see the module comment), or says why it cannot run there. Pure. */
export function toLinearSource(pattern: string): LinearSource | { error: string } {
  let body = pattern;
  let foldCase = false;
  if (pattern.startsWith('(?i:') && closingParen(pattern, 0) === pattern.length - 1) {
    body = pattern.slice(4, -1);
    foldCase = true;
  }
  const out: string[] = [];
  /** Index in `out` where the last quantifiable atom starts; -1 when there is none. */
  let atomStart = -1;
  const groups: number[] = [];
  const fold = (text: string): string => (foldCase ? foldText(text) : text);
  for (let i = 0; i < body.length;) {
    const c = body[i]!;
    if (c === '\\') {
      const escape = readEscape(body, i);
      if ('error' in escape) return escape;
      atomStart = out.length;
      out.push(foldCase ? foldEscape(escape.text) : escape.text);
      i += escape.text.length;
    } else if (c === '[') {
      const end = classEnd(body, i);
      if (end < 0) return { error: 'unterminated character class "["' };
      atomStart = out.length;
      out.push(foldCase ? foldClass(body.slice(i, end + 1)) : body.slice(i, end + 1));
      i = end + 1;
    } else if (c === '(') {
      const opener = groupOpener(body, i);
      if ('error' in opener) return opener;
      groups.push(out.length);
      out.push(opener.text);
      atomStart = -1;
      i += opener.text.length;
    } else if (c === ')') {
      const start = groups.pop();
      if (start === undefined) return { error: 'unmatched ")"' };
      out.push(')');
      atomStart = start;
      i++;
    } else if (c === '{' && readBraces(body, i) !== null) {
      const braces = readBraces(body, i)!;
      const lazy = body[i + braces.text.length] === '?' ? '?' : '';
      i += braces.text.length + lazy.length;
      if (braces.min > MAX_REPEAT || braces.max > MAX_REPEAT && braces.max !== Infinity) return { error: `repetition count above ${MAX_REPEAT}: ${braces.text}` };
      if (braces.max < braces.min) return { error: `repetition ${braces.text}: the numbers are out of order` };
      if (atomStart < 0) return { error: `nothing to repeat before ${braces.text}` };
      if (braces.min <= ENGINE_MAX_REPEAT && (braces.max <= ENGINE_MAX_REPEAT || braces.max === Infinity)) {
        out.push(braces.text + lazy);
      } else {
        const atom = out.splice(atomStart).join('');
        out.push(spellOut(atom, braces.min, braces.max, lazy));
      }
      atomStart = -1;
    } else if (c === '*' || c === '+' || c === '?') {
      out.push(c);
      if (body[i + 1] === '?') { out.push('?'); i++; }
      atomStart = -1;
      i++;
    } else if (c === '|') {
      out.push(c);
      atomStart = -1;
      i++;
    } else {
      atomStart = c === '^' || c === '$' ? -1 : out.length;
      out.push(fold(c));
      i++;
    }
  }
  if (groups.length > 0) return { error: 'unterminated group "("' };
  const source = out.join('');
  if (source.length > MAX_EXPANDED_LENGTH) return { error: `pattern is too large once its repetitions are spelled out (${source.length} characters; at most ${MAX_EXPANDED_LENGTH})` };
  return { source, foldCase };
}

const compiled = new Map<string, UserRegex | { error: string }>();
const MAX_COMPILED = 1_000;

/** Compiles a user pattern for the linear engine (cached), or says why it cannot run. */
export function compileUserRegex(pattern: string): UserRegex | { error: string } {
  const cached = compiled.get(pattern);
  if (cached !== undefined) return cached;
  const made = compile(pattern);
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(pattern, made);
  return made;
}

/** The problem with `pattern` for validation, or null when it compiles. */
export function userRegexProblem(pattern: string): string | null {
  const made = compileUserRegex(pattern);
  return 'error' in made ? made.error : null;
}

function compile(pattern: string): UserRegex | { error: string } {
  try {
    new RegExp(pattern);
  } catch (error) {
    return { error: `not a valid regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, '')}` };
  }
  const linear = toLinearSource(pattern);
  if ('error' in linear) return { error: `cannot run in linear time: ${linear.error}` };
  let regex: RegExp;
  try {
    regex = new RegExp(linear.source, 'l');
  } catch {
    return { error: 'cannot run in linear time (nested repetitions multiply past 16, or a feature the linear engine lacks)' };
  }
  const run = (text: string): RegExpExecArray | null => {
    regex.lastIndex = 0;
    return regex.exec(linear.foldCase ? foldText(text) : text);
  };
  return {
    pattern,
    states: estimateStates(linear.source),
    exec(text) {
      const match = run(text);
      return match === null ? null : { index: match.index, length: match[0].length };
    },
    test: (text) => run(text) !== null,
  };
}

/**
 * States of the automaton for a linear source, over-estimated: each atom is one, a group the sum of
 * its parts (alternatives included), a quantifier multiplies its atom by its largest count (the lower
 * count plus one when unbounded).
 */
export function estimateStates(source: string): number {
  const levels: number[][] = [[]];
  for (let i = 0; i < source.length;) {
    const c = source[i]!;
    const level = levels[levels.length - 1]!;
    if (c === '\\') { level.push(1); i += readEscapeLength(source, i); continue; }
    if (c === '[') { level.push(1); i = Math.max(classEnd(source, i), i) + 1; continue; }
    if (c === '(') { levels.push([]); i += source[i + 1] === '?' ? (/^\(\?(<[=!]|[:=!])/.exec(source.slice(i))?.[0].length ?? 3) : 1; continue; }
    if (c === ')') {
      const inner = levels.length > 1 ? levels.pop()! : [];
      levels[levels.length - 1]!.push(Math.max(1, inner.reduce((a, b) => a + b, 0)));
      i++;
      continue;
    }
    const braces = c === '{' ? readBraces(source, i) : null;
    if (braces || c === '*' || c === '+' || c === '?') {
      const factor = braces ? (braces.max === Infinity ? braces.min + 1 : braces.max) : 2;
      if (level.length > 0) level[level.length - 1]! *= Math.max(1, factor);
      i += braces ? braces.text.length : 1;
      if (source[i] === '?') i++;
      continue;
    }
    if (c !== '|' && c !== '^' && c !== '$') level.push(1);
    i++;
  }
  return Math.max(1, levels.flat().reduce((a, b) => a + b, 0));
}

function readEscapeLength(body: string, at: number): number {
  const escape = readEscape(body, at);
  return 'error' in escape ? 2 : escape.text.length;
}

/** Lower-cases `text` keeping its length (a character whose lower case is longer stays as it is). */
export function foldText(text: string): string {
  const lower = text.toLowerCase();
  if (lower.length === text.length) return lower;
  let out = '';
  for (const c of text) {
    const l = c.toLowerCase();
    out += l.length === c.length ? l : c;
  }
  return out;
}

function readEscape(body: string, at: number): { text: string } | { error: string } {
  const next = body[at + 1];
  if (next === undefined) return { error: 'pattern ends with "\\"' };
  if (/[1-9]/.test(next) || next === 'k' && body[at + 2] === '<') return { error: 'backreferences are not supported' };
  if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(at + 2, at + 4))) return { text: body.slice(at, at + 4) };
  if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(body.slice(at + 2, at + 6))) return { text: body.slice(at, at + 6) };
  if (next === 'c' && /[A-Za-z]/.test(body[at + 2] ?? '')) return { text: body.slice(at, at + 3) };
  return { text: body.slice(at, at + 2) };
}

/** `\x41` → `\x61` and the like: an escaped upper-case letter, lower-cased. Other escapes stay. */
function foldEscape(escape: string): string {
  const hex = /^\\(x|u)([0-9a-fA-F]+)$/.exec(escape);
  if (!hex) return escape;
  const lower = String.fromCharCode(parseInt(hex[2]!, 16)).toLowerCase();
  if (lower.length !== 1) return escape;
  return `\\${hex[1]}${lower.charCodeAt(0).toString(16).padStart(hex[1] === 'x' ? 2 : 4, '0')}`;
}

/** Index of the `]` closing the class opened at `at`, or -1. In JavaScript `[]` is empty and `[^]` any. */
function classEnd(body: string, at: number): number {
  let i = at + 1;
  if (body[i] === '^') i++;
  for (; i < body.length; i++) {
    if (body[i] === '\\') i++;
    else if (body[i] === ']') return i;
  }
  return -1;
}

function foldClass(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') {
      const escape = readEscape(text, i);
      const piece = 'error' in escape ? text.slice(i, i + 2) : escape.text;
      out += foldEscape(piece);
      i += piece.length - 1;
    } else out += foldText(text[i]!);
  }
  return out;
}

function groupOpener(body: string, at: number): { text: string } | { error: string } {
  if (body[at + 1] !== '?') return { text: '(' };
  const rest = body.slice(at, at + 4);
  if (rest.startsWith('(?:') ) return { text: '(?:' };
  if (rest.startsWith('(?<=') || rest.startsWith('(?<!')) return { text: rest };
  if (rest.startsWith('(?=') || rest.startsWith('(?!')) return { error: 'lookahead ((?= and (?!) is not supported' };
  const named = /^\(\?<[A-Za-z_$][\w$]*>/.exec(body.slice(at));
  if (named) return { text: named[0] };
  return { error: 'inline flags are supported only as (?i:…) around the whole pattern' };
}

/** Index of the `)` closing the group opened at `at`, or -1. */
function closingParen(body: string, at: number): number {
  let depth = 0;
  for (let i = at; i < body.length; i++) {
    const c = body[i];
    if (c === '\\') i++;
    else if (c === '[') {
      const end = classEnd(body, i);
      if (end < 0) return -1;
      i = end;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

function readBraces(body: string, at: number): { text: string; min: number; max: number } | null {
  const match = /^\{(\d+)(,(\d*))?\}/.exec(body.slice(at, at + 16));
  if (!match) return null;
  const min = Number(match[1]);
  const max = match[2] === undefined ? min : match[3] === '' ? Infinity : Number(match[3]);
  return { text: match[0], min, max };
}

/** `atom` with its capture groups (named or not) made non-capturing, so that copies of it do not clash. */
function uncaptured(atom: string): string {
  let out = '';
  for (let i = 0; i < atom.length; i++) {
    const c = atom[i]!;
    if (c === '\\') { out += atom.slice(i, i + 2); i++; }
    else if (c === '[') { const end = Math.max(classEnd(atom, i), i); out += atom.slice(i, end + 1); i = end; }
    else if (c === '(' && atom[i + 1] !== '?') out += '(?:';
    else if (c === '(') {
      const named = /^\(\?<[A-Za-z_$][\w$]*>/.exec(atom.slice(i));
      if (named) { out += '(?:'; i += named[0].length - 1; } else out += c;
    } else out += c;
  }
  return out;
}

/** `atom{min,max}` as quantifiers of at most 16 each; capture groups inside become non-capturing. */
function spellOut(atom: string, min: number, max: number, lazy: string): string {
  const unit = `(?:${uncaptured(atom)})`;
  const parts: string[] = [];
  for (let left = min; left > 0; left -= ENGINE_MAX_REPEAT) parts.push(`${unit}{${Math.min(left, ENGINE_MAX_REPEAT)}}`);
  if (max === Infinity) parts.push(`${unit}*${lazy}`);
  else for (let left = max - min; left > 0; left -= ENGINE_MAX_REPEAT) parts.push(`${unit}{0,${Math.min(left, ENGINE_MAX_REPEAT)}}${lazy}`);
  return parts.join('');
}
