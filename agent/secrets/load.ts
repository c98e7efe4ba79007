/**
 * The agent's secrets, read once at start-up from its environment (`LOOKOUT_SECRET_<NAME>`) and an
 * optional secrets file (JSON object or dotenv lines). In the JSON form a secret may be bound to origins
 * (`{ "STRIPE_KEY": { "value": "…", "origins": ["https://api.stripe.com"] } }`): a request that carries
 * it to any other origin, on any redirect hop, is refused (`SECRET_ORIGIN_DENIED`, see origins.ts).
 * Problems name the file, line or variable, never a value. How they reach runs is apply.ts; how they
 * stay out of stored artifacts, artifacts.ts.
 */
import { readFileSync } from 'node:fs';
import { SECRET_ENV_PREFIX, SECRET_NAME } from '../../checks/secrets.ts';
import { CodedError } from '../../lib/errors.ts';

export type Secrets = Readonly<Record<string, string>>;
/** Per secret, the origins (`https://host[:port]`) it may be sent to; a secret not listed may go anywhere. */
export type SecretOrigins = Readonly<Record<string, readonly string[]>>;

/** What an agent's secrets configuration holds: the values, and the origins some are bound to. */
export interface LoadedSecrets {
  values: Secrets;
  origins: SecretOrigins;
}

/** Error with every problem of the secrets configuration (code `SECRETS_INVALID`). */
export class SecretsConfigError extends CodedError<'SECRETS_INVALID'> {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('SECRETS_INVALID', `invalid secrets configuration:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

/**
 * Parses a secrets file: a JSON object of name → string value or `{ "value": "…", "origins": [...] }`,
 * or dotenv lines (`NAME=value`, `export NAME=value`, `#` comments, values optionally in single or double
 * quotes; `\n` is unescaped in double quotes). Pure; problems name the file and line, never a value.
 */
export function parseSecretsFile(text: string, file: string): { secrets: Record<string, string>; origins: Record<string, string[]>; problems: string[] } {
  const secrets: Record<string, string> = {};
  const origins: Record<string, string[]> = {};
  const problems: string[] = [];
  const add = (name: string, value: unknown, where: string): void => {
    if (!SECRET_NAME.test(name)) problems.push(`${where}: ${JSON.stringify(name)} is not a valid secret name (letters, digits and "_", not starting with a digit)`);
    else if (typeof value === 'string') secrets[name] = value;
    else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const entry = value as Record<string, unknown>;
      const unknown = Object.keys(entry).filter((key) => key !== 'value' && key !== 'origins');
      if (unknown.length > 0) problems.push(`${where}: ${name} has unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (expected "value" and optional "origins")`);
      if (typeof entry.value !== 'string') problems.push(`${where}: ${name}.value must be a string`);
      else secrets[name] = entry.value;
      if (entry.origins !== undefined && typeof entry.value === 'string') {
        const parsed = parseOrigins(entry.origins);
        if ('problem' in parsed) problems.push(`${where}: ${name}.origins ${parsed.problem}`);
        else origins[name] = parsed.origins;
      }
    } else problems.push(`${where}: the value of ${name} must be a string or { "value": "…", "origins": [...] }`);
  };
  if (text.trimStart().startsWith('{')) {
    let json: unknown;
    try { json = JSON.parse(text); } catch (error) {
      return { secrets, origins, problems: [`${file}: not valid JSON (${(error as Error).message.replace(/ in JSON.*$/, '')})`] };
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) return { secrets, origins, problems: [`${file}: expected a JSON object of name → value`] };
    for (const [name, value] of Object.entries(json)) add(name, value, file);
    return { secrets, origins, problems };
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
  return { secrets, origins, problems };
}

/** `["https://api.stripe.com", …]` → the origins, each exactly as `new URL(o).origin` writes it. Pure. */
export function parseOrigins(value: unknown): { origins: string[] } | { problem: string } {
  if (!Array.isArray(value) || value.length === 0) return { problem: 'must be a non-empty array of origins such as "https://api.example.com"' };
  const origins: string[] = [];
  for (const item of value) {
    const url = typeof item === 'string' && URL.canParse(item) ? new URL(item) : undefined;
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== item.replace(/\/$/, '')) {
      return { problem: `has ${JSON.stringify(item)}, which is not an origin (scheme://host[:port], http or https, no path)` };
    }
    origins.push(url.origin);
  }
  return { origins: [...new Set(origins)] };
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
 * the file for the same name; origins come from the file only and still bind that name). Throws
 * {@link SecretsConfigError} listing every problem.
 */
export function loadSecrets(options: { env: Readonly<Record<string, string | undefined>>; file?: string | null }): LoadedSecrets {
  const problems: string[] = [];
  let fromFile: Record<string, string> = {};
  let origins: Record<string, string[]> = {};
  if (options.file) {
    let text: string | null = null;
    try { text = readFileSync(options.file, 'utf8'); } catch (error) {
      problems.push(`${options.file}: cannot read the secrets file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    if (text !== null) {
      const parsed = parseSecretsFile(text, options.file);
      problems.push(...parsed.problems);
      fromFile = parsed.secrets;
      origins = parsed.origins;
    }
  }
  const fromEnv = secretsFromEnv(options.env);
  problems.push(...fromEnv.problems);
  if (problems.length > 0) throw new SecretsConfigError(problems);
  return { values: Object.freeze({ ...fromFile, ...fromEnv.secrets }), origins: Object.freeze(origins) };
}
