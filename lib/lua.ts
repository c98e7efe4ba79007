/**
 * Lua scripts as named units. Each states its KEYS and ARGV by name; the script body then reads them
 * through generated locals (`local dedupe = KEYS[1]`), so the layout is written once, at the top, and
 * a caller passes a record by name instead of a positional list whose order must match by hand.
 * Scripts run with EVALSHA through ioredis' `defineCommand` (loaded once per connection).
 */
import type { Redis } from 'ioredis';

export interface LuaScriptSpec<K extends string, A extends string, R extends string> {
  /** Unique command name, e.g. `lookoutRecordRun`. */
  name: string;
  /** KEYS[1..n], in order. */
  keys: readonly K[];
  /** ARGV[1..n], in order. */
  args: readonly A[];
  /** A variable tail of ARGV after `args` (a Lua table `rest` of the remaining ARGV). @defaultValue none */
  rest?: R;
  /** The script body; it may use every name of `keys` and `args` as a local, and `rest` as a table. */
  body: string;
}

export type LuaScript<K extends string, A extends string, R extends string> = (
  redis: Redis,
  keys: Readonly<Record<K, string>>,
  args: Readonly<Record<A, string | number>> & ([R] extends [never] ? unknown : Readonly<Record<R, ReadonlyArray<string | number>>>),
) => Promise<unknown>;

/** Defines a script; the returned function runs it on any connection (defining it there on first use). */
export function luaScript<K extends string, A extends string, R extends string = never>(spec: LuaScriptSpec<K, A, R>): LuaScript<K, A, R> {
  for (const name of [...spec.keys, ...spec.args, ...(spec.rest ? [spec.rest] : [])]) {
    if (!/^[a-z][A-Za-z0-9]*$/.test(name)) throw new Error(`lua script ${spec.name}: "${name}" is not a Lua identifier`);
  }
  const header = [
    `-- ${spec.name}`,
    ...spec.keys.map((key, i) => `local ${key} = KEYS[${i + 1}]`),
    ...spec.args.map((arg, i) => `local ${arg} = ARGV[${i + 1}]`),
    ...(spec.rest ? [`local ${spec.rest} = { unpack(ARGV, ${spec.args.length + 1}) }`] : []),
  ].join('\n');
  const lua = `${header}\n${spec.body}`;
  type Command = (...values: Array<string | number>) => Promise<unknown>;
  return (redis, keys, args) => {
    const commands = redis as unknown as Record<string, Command | undefined>;
    if (!commands[spec.name]) redis.defineCommand(spec.name, { numberOfKeys: spec.keys.length, lua });
    const rest = spec.rest ? ((args as Record<string, ReadonlyArray<string | number>>)[spec.rest] ?? []) : [];
    return commands[spec.name]!.call(redis,
      ...spec.keys.map((key) => keys[key]),
      ...spec.args.map((arg) => (args as Record<string, string | number>)[arg]!),
      ...rest);
  };
}
