import type { RunnerTable } from '../runner.ts';
import { runHttpCheck } from './http/index.ts';

/** Every check type's runner. */
export const runners: RunnerTable = {
  http: runHttpCheck,
};
