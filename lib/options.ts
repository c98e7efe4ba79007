/**
 * The one command-line parser of Lookout: the agent, the coordinator and every CLI command declare their
 * options in a table (flag, environment variables, help, default, parser) and get back typed values or
 * every problem at once, each naming the flag and where the bad value came from:
 *
 *   --concurrency: expected an integer from 1 to 1000, got "abc" (from LOOKOUT_CONCURRENCY)
 *
 * Precedence: a flag, then the first environment variable that is set (and not empty), then the default.
 * `--name value` and `--name=value` both work; a value may not start with `--` unless written with `=`.
 * Pure: argv and env come in as arguments.
 */

import { formatDuration, parseDuration } from '../checks/duration.ts';

/** What a parser says about one raw text: the value, or what is wrong with it (without the text). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };
export type Parser<T> = (text: string) => Parsed<T>;

export const accept = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const refuse = (problem: string): Parsed<never> => ({ ok: false, problem });

interface OptionBase {
  /** `--name`. */
  flag: `--${string}`;
  /** A one-letter alias, `-y`. */
  short?: `-${string}`;
  /** Environment variables, in order; the first one set wins. @defaultValue none */
  env?: readonly string[];
  /** One line for `--help`. */
  help: string;
}

/** An option that takes a value: `--port 8080`. */
export interface ValueOption<T> extends OptionBase {
  kind: 'value';
  parse: Parser<T>;
  /** The value when neither the flag nor an environment variable is given; absent means required. */
  default?: T;
  /** How `--help` shows the default (e.g. `10s` for 10000). @defaultValue `String(default)` */
  defaultText?: string;
  /** Not required, and no default: the value may be `undefined`. @defaultValue false */
  optional?: boolean;
  /** Placeholder in `--help`. @defaultValue `<value>` */
  placeholder?: string;
  /** Never echo the text in an error (only its length): it may be a credential. @defaultValue false */
  secret?: boolean;
}

/** An option that may be given several times, each time one or more comma-separated values. */
export interface ListOption<T> extends OptionBase {
  kind: 'list';
  parse: Parser<T>;
  placeholder?: string;
}

/** A switch: `--force`; `--force=false` and an environment variable set to `true`/`false` also work. */
export interface SwitchOption extends OptionBase {
  kind: 'switch';
}

export type OptionSpec = ValueOption<unknown> | ListOption<unknown> | SwitchOption;
export type OptionTable = Record<string, OptionSpec>;

export const value = <T>(spec: Omit<ValueOption<T>, 'kind'>): ValueOption<T> => ({ kind: 'value', ...spec });
export const list = <T>(spec: Omit<ListOption<T>, 'kind'>): ListOption<T> => ({ kind: 'list', ...spec });
export const toggle = (spec: Omit<SwitchOption, 'kind'>): SwitchOption => ({ kind: 'switch', ...spec });

type ValueOf<S> =
  S extends ValueOption<infer T> ? (S extends { default: unknown } ? T : S extends { optional: true } ? T | undefined : T)
  : S extends ListOption<infer T> ? T[]
  : S extends SwitchOption ? boolean
  : never;

export type OptionValues<Table extends OptionTable> = { [K in keyof Table]: ValueOf<Table[K]> };

export type ParseResult<Table extends OptionTable> =
  | { values: OptionValues<Table>; positionals: string[]; sources: Partial<Record<keyof Table, string>> }
  | { errors: string[] }
  | { help: true };

/**
 * Parses `argv` and `env` against `table`. `--help`/`-h` anywhere gives `{ help: true }`. Positional
 * arguments are refused unless `positionals` is true.
 */
export function parseOptions<Table extends OptionTable>(
  table: Table, argv: readonly string[], env: Readonly<Record<string, string | undefined>>, options: { positionals?: boolean } = {},
): ParseResult<Table> {
  const errors: string[] = [];
  const byFlag = new Map<string, keyof Table>();
  for (const [key, spec] of Object.entries(table)) {
    byFlag.set(spec.flag, key);
    if (spec.short) byFlag.set(spec.short, key);
  }
  const given = new Map<keyof Table, Array<{ text: string; from: string }>>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { help: true };
    if (arg === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (!arg.startsWith('-') || arg === '-') {
      if (options.positionals) positionals.push(arg);
      else errors.push(`${JSON.stringify(arg)}: unexpected argument (see --help)`);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const key = byFlag.get(flag);
    if (key === undefined) { errors.push(`${flag}: unknown option (see --help)`); continue; }
    const spec = table[key]!;
    let text: string | undefined;
    if (eq > 0) text = arg.slice(eq + 1);
    else if (spec.kind === 'switch') text = 'true';
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) text = argv[++i];
    if (text === undefined) { errors.push(`${spec.flag}: expected a value`); continue; }
    const list = given.get(key) ?? [];
    if (list.length > 0 && spec.kind !== 'list') { errors.push(`${spec.flag}: given more than once`); continue; }
    list.push({ text, from: spec.flag });
    given.set(key, list);
  }

  const values: Record<string, unknown> = {};
  const sources: Partial<Record<keyof Table, string>> = {};
  for (const [key, spec] of Object.entries(table)) {
    let raw = given.get(key);
    if (!raw && spec.env) {
      for (const name of spec.env) {
        const text = env[name];
        if (text !== undefined && text !== '') { raw = [{ text, from: name }]; break; }
      }
    }
    if (raw) sources[key as keyof Table] = raw[0]!.from;
    const report = (text: string, from: string, problem: string, secret = false): void => {
      const got = secret ? `${text.length} characters` : JSON.stringify(text);
      errors.push(`${spec.flag}: ${problem}, got ${got}${from === spec.flag || from === spec.short ? '' : ` (from ${from})`}`);
    };
    if (spec.kind === 'switch') {
      const text = raw?.[0];
      if (!text) { values[key] = false; continue; }
      if (text.text === 'true' || text.text === 'false') values[key] = text.text === 'true';
      else report(text.text, text.from, 'expected "true" or "false"');
      continue;
    }
    if (spec.kind === 'list') {
      const items: unknown[] = [];
      for (const { text, from } of raw ?? []) {
        for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
          const parsed = spec.parse(part);
          if (parsed.ok) items.push(parsed.value);
          else report(part, from, parsed.problem);
        }
      }
      values[key] = items;
      continue;
    }
    const text = raw?.[0];
    if (!text) {
      if ('default' in spec) values[key] = spec.default;
      else if (!spec.optional) errors.push(`${spec.flag}: required${spec.env?.length ? ` (or set ${spec.env.join(' or ')})` : ''}`);
      continue;
    }
    const parsed = spec.parse(text.text);
    if (parsed.ok) values[key] = parsed.value;
    else report(text.text, text.from, parsed.problem, spec.secret);
  }
  if (errors.length > 0) return { errors };
  return { values: values as OptionValues<Table>, positionals, sources };
}

/** The option lines of `--help`: flag and placeholder, help, default (or "required") and environment variables. */
export function optionsHelp(table: OptionTable, width = 31): string[] {
  const lines = Object.values(table).map((spec) => {
    const names = `${spec.short ? `${spec.short}, ` : ''}${spec.flag}`;
    const left = `  ${names}${spec.kind === 'switch' ? '' : ` ${spec.placeholder ?? '<value>'}`}`;
    const notes: string[] = [];
    if (spec.kind === 'value') {
      if ('default' in spec) notes.push(`default: ${spec.defaultText ?? String(spec.default)}`);
      else if (!spec.optional) notes.push('required');
    }
    if (spec.kind === 'list') notes.push('repeat or comma-separate');
    if (spec.env?.length) notes.push(`env: ${spec.env.join(', ')}`);
    const help = `${spec.help}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`;
    return left.length < width ? `${left.padEnd(width)}${help}` : `${left}\n${' '.repeat(width)}${help}`;
  });
  return [...lines, `  ${'-h, --help'.padEnd(width - 2)}Show this help`];
}

// Parsers shared by the commands.

/** An integer from `min` to `max`. */
export const integer = (min: number, max: number): Parser<number> => (text) =>
  /^-?\d+$/.test(text) && Number(text) >= min && Number(text) <= max ? accept(Number(text)) : refuse(`expected an integer from ${min} to ${max}`);

/** One of `choices`. */
export const oneOf = <T extends string>(choices: readonly T[]): Parser<T> => (text) =>
  (choices as readonly string[]).includes(text) ? accept(text as T) : refuse(`expected ${choices.map((c) => JSON.stringify(c)).join(' or ')}`);

/** `on` or `off`, as a boolean. */
export const onOff: Parser<boolean> = (text) => (text === 'on' || text === 'off' ? accept(text === 'on') : refuse('expected "on" or "off"'));

/** Any text that is not blank. */
export const nonEmpty = (what: string): Parser<string> => (text) => (text.trim() === '' ? refuse(`expected ${what}`) : accept(text));

/** A `redis://` or `rediss://` URL. */
export const redisUrl: Parser<string> = (text) => {
  try {
    const protocol = new URL(text).protocol;
    return protocol === 'redis:' || protocol === 'rediss:' ? accept(text) : refuse('expected a redis:// or rediss:// URL');
  } catch {
    return refuse('expected a URL like redis://host:6379');
  }
};

/**
 * The key prefix shared by agents, coordinators and the CLI. No `:` (Lookout's own separator, which
 * would make one prefix a part of another) and nothing a Redis key pattern treats specially.
 */
export const keyPrefix: Parser<string> = (text) =>
  /^[A-Za-z0-9_.{}-]{1,64}$/.test(text) ? accept(text) : refuse('expected 1-64 chars of letters, digits, "_", ".", "-", "{", "}"');

/** An `http://` or `https://` URL. */
export const httpUrl: Parser<string> = (text) => {
  try {
    return /^https?:$/.test(new URL(text).protocol) ? accept(text) : refuse('expected an http:// or https:// URL');
  } catch {
    return refuse('expected an http:// or https:// URL');
  }
};

/** A duration as people write it (`10s`, `500ms`, `1m30s`), in milliseconds from `minMs` to `maxMs`. */
export const duration = (minMs: number, maxMs: number): Parser<number> => (text) => {
  const parsed = parseDuration(text);
  if ('error' in parsed) return refuse('expected a duration like "10s" or "500ms"');
  return parsed.ms >= minMs && parsed.ms <= maxMs ? accept(parsed.ms) : refuse(`expected a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)}`);
};

/** A size in bytes: `65536`, `64KiB`, `64MiB`, `1GiB` (or kB/MB/GB as the same powers of 1024), from `min` to `max`. */
export const byteSize = (min: number, max: number): Parser<number> => (text) => {
  const match = /^(\d+)\s*(B|[KMG]i?B)?$/i.exec(text.trim());
  const unit = (match?.[2] ?? 'B').toUpperCase().replace('I', '');
  const factor = ({ B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 } as Record<string, number>)[unit];
  const bytes = match && factor ? Number(match[1]) * factor : Number.NaN;
  return Number.isSafeInteger(bytes) && bytes >= min && bytes <= max
    ? accept(bytes)
    : refuse(`expected a size like "64MiB" from ${min} to ${max} bytes`);
};

/** Whatever a zod schema accepts, with its first message as the problem. */
export const zodParser = <T>(schema: { safeParse(input: unknown): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<{ message: string }> } } }): Parser<T> => (text) => {
  const parsed = schema.safeParse(text);
  return parsed.success ? accept(parsed.data) : refuse(parsed.error.issues[0]?.message ?? 'invalid');
};
