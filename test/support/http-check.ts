/** Building blocks for runner tests: a valid HTTP check, a run context, and a contract check of reports. */
import { HttpCheckDefinition, RunResult, SCHEMA_VERSION } from '../../checks/contract.ts';
import { referencedSecrets } from '../../checks/secret-references.ts';
import type { RunContext, RunReport } from '../../agent/runners/types.ts';

export const TEST_REGION = 'test-region';

/**
 * A check as the agent gets it: parsed by the contract, so defaults are filled in as on the wire, and
 * listing the secrets it references as the loader lists them (unless `secrets` is given).
 */
export function httpCheck(fields: Partial<Record<keyof HttpCheckDefinition, unknown>> & { url: string }): HttpCheckDefinition {
  const definition = HttpCheckDefinition.parse({
    type: 'http', id: 'runner-test', name: 'runner test', regions: [TEST_REGION], frequencyMs: 60_000, timeoutMs: 5_000, ...fields,
  });
  return fields.secrets === undefined ? { ...definition, secrets: referencedSecrets(definition) } : definition;
}

/** A context whose signal fires at `timeoutMs` like the worker's, or the given signal. */
export function runContext(timeoutMs: number, signal: AbortSignal = AbortSignal.timeout(timeoutMs)): RunContext {
  return { region: TEST_REGION, agentId: 'agent-test', signal, deadlineAt: Date.now() + timeoutMs };
}

/** Throws unless the report, completed as the worker completes it, is a valid `RunResult`. */
export function assertValidReport(report: RunReport): RunResult {
  return RunResult.parse({
    schemaVersion: SCHEMA_VERSION, checkId: 'runner-test', checkVersion: 1, region: TEST_REGION, agentId: 'agent-test',
    trigger: 'manual', scheduledAt: report.startedAt, slot: null, ...report,
  });
}
