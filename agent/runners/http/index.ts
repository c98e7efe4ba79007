// Placeholder: the HTTP runner is being written; see agent/runner.ts for the contract.
import type { Runner } from '../../runner.ts';
import type { HttpCheckDefinition } from '../../../checks/contract.ts';
export const runHttpCheck: Runner<HttpCheckDefinition> = async () => { throw new Error('http runner not written yet'); };
