/**
 * Validation of a deployment's check definitions: every problem of every definition at once, each with
 * where it is (index in the list, check id when readable, field path). Besides the contract, it holds
 * what the API must not take on trust from whatever made the definitions: a browser check's bundle is
 * checked against the browser-script policy (checks/script-policy.ts; this is where code enters the
 * system), and a definition's `secrets` list must name every secret the check references (computed
 * here when the list is absent, as from clients that predate it).
 */
import { zodProblems } from '../../lib/zod-problems.ts';
import { checkTypeTraits } from '../../checks/check-types.ts';
import { CheckDefinition } from '../../checks/contract.ts';
import { formatDiagnostic } from '../../checks/diagnostics.ts';
import { checkScriptPolicy } from '../../checks/script-policy.ts';
import { referencedSecrets, unlistedSecrets } from '../../checks/secret-references.ts';
import { unknownFields } from '../../checks/unknown-fields.ts';

export interface DefinitionProblem {
  /** Position of the definition in the submitted list. */
  index: number;
  /** The definition's id when it has a readable one. */
  checkId: string | null;
  /** Dotted path of the offending field, or `(definition)` for the definition as a whole. */
  field: string;
  message: string;
}

export type DefinitionsValidation = { definitions: CheckDefinition[] } | { problems: DefinitionProblem[] };

/**
 * Validates each definition against the contract (applying its defaults) and refuses repeated ids and
 * fields the contract does not know (a misspelt option would otherwise silently take its default).
 */
export async function validateDefinitions(input: readonly unknown[]): Promise<DefinitionsValidation> {
  const problems: DefinitionProblem[] = [];
  const definitions: CheckDefinition[] = [];
  /** The input position of each entry of `definitions`. */
  const indexes: number[] = [];
  const firstIndexOfId = new Map<string, number>();

  input.forEach((raw, index) => {
    const rawId = raw !== null && typeof raw === 'object' ? (raw as { id?: unknown }).id : undefined;
    const checkId = typeof rawId === 'string' ? rawId : null;
    if (checkId !== null) {
      const first = firstIndexOfId.get(checkId);
      if (first !== undefined) {
        problems.push({ index, checkId, field: 'id', message: `duplicate id "${checkId}" (first used by the definition at index ${first})` });
      } else firstIndexOfId.set(checkId, index);
    }
    const parsed = CheckDefinition.safeParse(raw);
    const unknown = unknownFields(CheckDefinition, raw);
    for (const field of unknown) problems.push({ index, checkId, field, message: 'unknown field' });
    if (parsed.success) {
      const definition = parsed.data;
      const listed = raw !== null && typeof raw === 'object' && Object.hasOwn(raw, 'secrets');
      if (!listed) definition.secrets = referencedSecrets(definition);
      const unlisted = unlistedSecrets(definition);
      if (unlisted.length > 0) {
        problems.push({ index, checkId, field: 'secrets', message: `does not list ${unlisted.map((n) => `"${n}"`).join(', ')}, which the check references: the list must name every secret the check uses` });
      }
      if (unknown.length === 0) { definitions.push(definition); indexes.push(index); }
      return;
    }
    for (const { field, message } of zodProblems(parsed.error)) problems.push({ index, checkId, field: field === '' ? '(definition)' : field, message });
  });
  // The bundles of valid definitions, checked together (esbuild parses each; bounded by the contract's size cap).
  await Promise.all(definitions.map(async (definition, position) => {
    if (!checkTypeTraits(definition.type)?.script || !('script' in definition)) return;
    const found = await checkScriptPolicy(definition.script.bundle, definition.script.file);
    const index = indexes[position]!;
    for (const problem of found) problems.push({ index, checkId: definition.id, field: 'script.bundle', message: formatDiagnostic(problem) });
  }));

  return problems.length > 0 ? { problems: problems.sort((a, b) => a.index - b.index) } : { definitions };
}
