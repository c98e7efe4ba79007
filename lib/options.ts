/** Flag parsing shared by the CLI commands: node's parseArgs, with its errors turned into one clear line. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export type ParsedArgs = ReturnType<typeof parseArgs<{ options: NonNullable<ParseArgsConfig['options']>; allowPositionals: true; strict: true }>>;

export function parseFlags(argv: string[], options: NonNullable<ParseArgsConfig['options']>): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } | { error: string } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | string[] | undefined>, positionals };
  } catch (error) {
    return { error: (error as Error).message };
  }
}
