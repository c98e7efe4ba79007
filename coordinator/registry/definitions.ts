/**
 * Validation of a deployment's check definitions, pure: every problem of every definition at once,
 * each with where it is (index in the list, check id when readable, field path).
 */
import { zodProblems } from '../../lib/zod-problems.ts';
import { CheckDefinition } from '../../checks/contract.ts';
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
export function validateDefinitions(input: readonly unknown[]): DefinitionsValidation {
  const problems: DefinitionProblem[] = [];
  const definitions: CheckDefinition[] = [];
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
      if (unknown.length === 0) definitions.push(parsed.data);
      return;
    }
    for (const { field, message } of zodProblems(parsed.error)) problems.push({ index, checkId, field: field === '' ? '(definition)' : field, message });
  });

  return problems.length > 0 ? { problems } : { definitions };
}
