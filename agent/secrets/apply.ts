/**
 * Applies the agent's secrets to runs by wrapping every runner of a table: the placeholders in the
 * fields its check type lists (checks/check-types.ts: an HTTP check's url, header values and body) are
 * resolved just before the run, and every known value is scrubbed (→ `[secret:NAME]`) from what the run
 * reports, including the message of a runner that throws. A run that needs a secret the agent lacks
 * fails with `SECRET_MISSING`, naming it, without contacting the target.
 */
import { checkTypeTraits } from '../../checks/check-types.ts';
import type { CheckDefinition } from '../../checks/contract.ts';
import { SECRET_ENV_PREFIX, createScrubber, resolveSecretFields, scrubDeep } from '../../checks/secrets.ts';
import type { RunReport, Runner, RunnerTable } from '../runners/types.ts';
import type { Secrets } from './load.ts';

/** The message of a `SECRET_MISSING` failure: names the secrets and how to provide them. */
export function missingSecretsMessage(names: string[]): string {
  const list = names.map((n) => `"${n}"`).join(', ');
  const envs = names.map((n) => `${SECRET_ENV_PREFIX}${n}`).join(', ');
  return `secret${names.length > 1 ? 's' : ''} ${list} ${names.length > 1 ? 'are' : 'is'} not set on this agent (set ${envs} or add ${names.length > 1 ? 'them' : 'it'} to the agent's --secrets-file)`;
}

/**
 * Wraps every runner of `runners`, whatever its type: placeholders resolved before the run (a missing
 * secret fails the run with `SECRET_MISSING` before any request), and every report, and the message of
 * any error a runner throws, scrubbed of every secret value. Browser scripts get the values through
 * their `secrets` argument (given to the browser runner); their reports are scrubbed here all the same.
 */
export function withSecrets(runners: RunnerTable, secrets: Secrets): RunnerTable {
  const scrub = createScrubber(secrets);
  const guard = (type: string, runner: Runner<CheckDefinition>): Runner<CheckDefinition> => {
    const fields = checkTypeTraits(type)?.secrets.fields ?? [];
    return async (definition, context) => {
      const prepared = resolveSecretFields(definition, fields, secrets);
      if ('missing' in prepared) {
        const now = Date.now();
        return {
          startedAt: now, endedAt: now, outcome: 'fail', error: { code: 'SECRET_MISSING', message: missingSecretsMessage(prepared.missing) },
          timings: null, assertions: [], statusCode: null, responseBytes: null,
        } satisfies RunReport;
      }
      let report: RunReport;
      try {
        report = await runner(prepared.definition, { ...context, redact: scrub });
      } catch (error) {
        throw scrubbedError(error, scrub);
      }
      return scrubDeep(report, scrub);
    };
  };
  // Every key of the table, not a list of types: a runner added later cannot be left unwrapped.
  const entries = Object.entries(runners as Record<string, Runner<CheckDefinition>>);
  return Object.fromEntries(entries.map(([type, runner]) => [type, guard(type, runner)])) as RunnerTable;
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
