/**
 * Applies the agent's secrets to runs by wrapping every runner of a table: the placeholders in the
 * fields its check type lists (checks/check-types.ts: an HTTP check's url, header values and body) are
 * resolved just before the run from the secrets the definition lists (its `secrets`: no other name is
 * ever resolved), and every known value is scrubbed (→ `[secret:NAME]`) from what the run reports,
 * including the message of a runner that throws. A run that needs a secret the agent lacks, or one its
 * definition does not list, fails with `SECRET_MISSING`, naming that secret only, without contacting the
 * target. The listed secrets bound to origins go to the runner in its context (`boundSecrets`).
 */
import { checkTypeTraits } from '../../checks/check-types.ts';
import type { CheckDefinition } from '../../checks/contract.ts';
import { SECRET_ENV_PREFIX, createScrubber, resolveSecretFields, scrubDeep } from '../../checks/secrets.ts';
import type { RunReport, Runner, RunnerTable } from '../runners/types.ts';
import type { SecretOrigins, Secrets } from './load.ts';
import { boundSecrets } from './origins.ts';

/** The message of a `SECRET_MISSING` failure for a secret the check's definition does not list. */
export function unlistedSecretMessage(name: string): string {
  return `secret "${name}" is not among the secrets this check's definition lists (deploy the check again; a browser script that reads it by a computed name declares it in its "secrets" option)`;
}

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
export function withSecrets(runners: RunnerTable, secrets: Secrets, origins: SecretOrigins = {}): RunnerTable {
  const scrub = createScrubber(secrets);
  const guard = (type: string, runner: Runner<CheckDefinition>): Runner<CheckDefinition> => {
    const fields = checkTypeTraits(type)?.secrets.fields ?? [];
    return async (definition, context) => {
      const listed = definition.secrets ?? [];
      const available = Object.fromEntries(listed.filter((name) => Object.hasOwn(secrets, name)).map((name) => [name, secrets[name]!]));
      const prepared = resolveSecretFields(definition, fields, available);
      if ('missing' in prepared) {
        const now = Date.now();
        const unlisted = prepared.missing.find((name) => !listed.includes(name));
        const message = unlisted !== undefined ? unlistedSecretMessage(unlisted) : missingSecretsMessage(prepared.missing);
        return {
          startedAt: now, endedAt: now, outcome: 'fail', error: { code: 'SECRET_MISSING', message },
          timings: null, assertions: [], statusCode: null, responseBytes: null,
        } satisfies RunReport;
      }
      let report: RunReport;
      try {
        report = await runner(prepared.definition, { ...context, redact: scrub, boundSecrets: boundSecrets(listed, secrets, origins) });
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
