/**
 * The agent's secrets, read once at start-up from its environment (`LOOKOUT_SECRET_<NAME>`) and an
 * optional secrets file (JSON object or dotenv lines). Problems name the file, line or variable, never
 * a value. How they reach runs is apply.ts; how they stay out of stored artifacts, artifacts.ts.
 */
import { readFileSync } from 'node:fs';
import { SECRET_ENV_PREFIX, SECRET_NAME } from '../../checks/secrets.ts';
import { CodedError } from '../../lib/errors.ts';

export type Secrets = Readonly<Record<string, string>>;

/** Error with every problem of the secrets configuration (code `SECRETS_INVALID`). */
export class SecretsConfigError extends CodedError<'SECRETS_INVALID'> {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('SECRETS_INVALID', `invalid secrets configuration:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

/**
 * Parses a secrets file: a JSON object of name → string value, or dotenv lines (`NAME=value`,
 * `export NAME=value`, `#` comments, values optionally in single or double quotes; `\n` is
 * unescaped in double quotes). Pure; problems name the file and line, never a value.
 */
export function parseSecretsFile(text: string, file: string): { secrets: Record<string, string>; problems: string[] } {
  const secrets: Record<string, string> = {};
  const problems: string[] = [];
  const add = (name: string, value: unknown, where: string): void => {
    if (!SECRET_NAME.test(name)) problems.push(`${where}: ${JSON.stringify(name)} is not a valid secret name (letters, digits and "_", not starting with a digit)`);
    else if (typeof value !== 'string') problems.push(`${where}: the value of ${name} must be a string`);
    else secrets[name] = value;
  };
  if (text.trimStart().startsWith('{')) {
    let json: unknown;
    try { json = JSON.parse(text); } catch (error) {
      return { secrets, problems: [`${file}: not valid JSON (${(error as Error).message.replace(/ in JSON.*$/, '')})`] };
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) return { secrets, problems: [`${file}: expected a JSON object of name → value`] };
    for (const [name, value] of Object.entries(json)) add(name, value, file);
    return { secrets, problems };
  }
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${file}:${index + 1}`;
    const match = /^(?:export\s+)?([^=\s]+)\s*=\s*(.*)$/.exec(line);
    if (!match) { problems.push(`${where}: expected NAME=value`); return; }
    const [, name, rest] = match as unknown as [string, string, string];
    let value = rest;
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote)) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    } else if (quote === '"' || quote === "'") {
      problems.push(`${where}: unterminated quote in the value of ${name}`);
      return;
    } else value = value.replace(/\s+#.*$/, '');
    add(name, value, where);
  });
  return { secrets, problems };
}

/** Secrets from the environment: `LOOKOUT_SECRET_STRIPE_KEY=…` → `STRIPE_KEY`. */
export function secretsFromEnv(env: Readonly<Record<string, string | undefined>>): { secrets: Record<string, string>; problems: string[] } {
  const secrets: Record<string, string> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(SECRET_ENV_PREFIX) || value === undefined) continue;
    const name = key.slice(SECRET_ENV_PREFIX.length);
    if (!SECRET_NAME.test(name)) problems.push(`${key}: "${name}" is not a valid secret name`);
    else secrets[name] = value;
  }
  return { secrets, problems };
}

/**
 * The secrets of this process: the file's, then the environment's (an environment variable wins over
 * the file for the same name). Throws {@link SecretsConfigError} listing every problem.
 */
export function loadSecrets(options: { env: Readonly<Record<string, string | undefined>>; file?: string | null }): Secrets {
  const problems: string[] = [];
  let fromFile: Record<string, string> = {};
  if (options.file) {
    let text: string | null = null;
    try { text = readFileSync(options.file, 'utf8'); } catch (error) {
      problems.push(`${options.file}: cannot read the secrets file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    if (text !== null) {
      const parsed = parseSecretsFile(text, options.file);
      problems.push(...parsed.problems);
      fromFile = parsed.secrets;
    }
  }
  const fromEnv = secretsFromEnv(options.env);
  problems.push(...fromEnv.problems);
  if (problems.length > 0) throw new SecretsConfigError(problems);
  return Object.freeze({ ...fromFile, ...fromEnv.secrets });
}
