/**
 * The agent's secrets: read once at start-up from its environment (`LOOKOUT_SECRET_<NAME>`) and an
 * optional secrets file (JSON object or dotenv lines), and applied to runs by wrapping the runner table:
 * placeholders in an HTTP check's url, header values and body are resolved just before the run, and
 * every known value is scrubbed (→ `[secret:NAME]`) from what the run reports, including the message
 * of a runner that throws. Values are never logged. A run that needs a secret the agent lacks fails
 * with `SECRET_MISSING`, naming it, without contacting the target.
 */
import { readFileSync } from 'node:fs';
import type { CheckDefinition, HttpCheckDefinition } from '../../checks/contract.ts';
import { SECRET_ENV_PREFIX, SECRET_NAME, createScrubber, resolveSecretsIn, scrubDeep } from '../../checks/secrets.ts';
import type { RunReport, Runner, RunnerTable } from '../runners/types.ts';

export type Secrets = Readonly<Record<string, string>>;

/** Error with every problem of the secrets configuration (code `SECRETS_INVALID`). */
export class SecretsConfigError extends Error {
  readonly code = 'SECRETS_INVALID';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid secrets configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'SecretsConfigError';
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

/**
 * The HTTP definition with its placeholders resolved, or the names of the secrets it needs and the
 * agent does not have. Pure.
 */
export function resolveHttpSecrets(definition: HttpCheckDefinition, secrets: Secrets): { definition: HttpCheckDefinition } | { missing: string[] } {
  const lookup = (name: string): string | undefined => (Object.hasOwn(secrets, name) ? secrets[name] : undefined);
  const missing = new Set<string>();
  const resolve = (text: string): string => {
    const out = resolveSecretsIn(text, lookup);
    if ('missing' in out) { for (const name of out.missing) missing.add(name); return text; }
    return out.text;
  };
  const resolved: HttpCheckDefinition = {
    ...definition,
    url: resolve(definition.url),
    headers: Object.fromEntries(Object.entries(definition.headers).map(([name, value]) => [name, resolve(value)])),
    ...(definition.body !== undefined ? { body: resolve(definition.body) } : {}),
  };
  return missing.size > 0 ? { missing: [...missing] } : { definition: resolved };
}

/** The message of a `SECRET_MISSING` failure: names the secrets and how to provide them. */
export function missingSecretsMessage(names: string[]): string {
  const list = names.map((n) => `"${n}"`).join(', ');
  const envs = names.map((n) => `${SECRET_ENV_PREFIX}${n}`).join(', ');
  return `secret${names.length > 1 ? 's' : ''} ${list} ${names.length > 1 ? 'are' : 'is'} not set on this agent (set ${envs} or add ${names.length > 1 ? 'them' : 'it'} to the agent's --secrets-file)`;
}

/**
 * Wraps every runner of `runners`: HTTP placeholders resolved before the run (a missing secret fails
 * the run with `SECRET_MISSING` before any request), and every report, and the message of any error a
 * runner throws, scrubbed of every secret value. Browser scripts get the values through their
 * `secrets` argument (given to the browser runner); their reports are scrubbed here all the same.
 */
export function withSecrets(runners: RunnerTable, secrets: Secrets): RunnerTable {
  const scrub = createScrubber(secrets);
  const guard = <D extends CheckDefinition>(runner: Runner<D>, prepare: (definition: D) => { definition: D } | { missing: string[] }): Runner<D> =>
    async (definition, context) => {
      const prepared = prepare(definition);
      if ('missing' in prepared) {
        const now = Date.now();
        return {
          startedAt: now, endedAt: now, outcome: 'fail', error: { code: 'SECRET_MISSING', message: missingSecretsMessage(prepared.missing) },
          timings: null, assertions: [], statusCode: null, responseBytes: null,
        } satisfies RunReport;
      }
      let report: RunReport;
      try {
        report = await runner(prepared.definition, context);
      } catch (error) {
        throw scrubbedError(error, scrub);
      }
      return scrubDeep(report, scrub);
    };
  return {
    ...runners,
    http: guard(runners.http, (definition) => resolveHttpSecrets(definition, secrets)),
    browser: guard(runners.browser, (definition) => ({ definition })),
  };
}

function scrubbedError(error: unknown, scrub: (text: string) => string): Error {
  if (!(error instanceof Error)) return new Error(scrub(String(error)));
  const copy = new Error(scrub(error.message));
  copy.name = error.name;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(copy, { code });
  if (error.stack) copy.stack = scrub(error.stack);
  return copy;
}
