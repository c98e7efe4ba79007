/**
 * Applies the agent's secrets to runs by wrapping the runner table: placeholders in an HTTP check's url,
 * header values and body are resolved just before the run, and every known value is scrubbed
 * (→ `[secret:NAME]`) from what the run reports, including the message of a runner that throws. A run
 * that needs a secret the agent lacks fails with `SECRET_MISSING`, naming it, without contacting the
 * target.
 */
import type { CheckDefinition, HttpCheckDefinition } from '../../checks/contract.ts';
import { SECRET_ENV_PREFIX, createScrubber, resolveSecretsIn, scrubDeep } from '../../checks/secrets.ts';
import type { RunReport, Runner, RunnerTable } from '../runners/types.ts';
import type { Secrets } from './load.ts';

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
