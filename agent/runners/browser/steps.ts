/**
 * `step(name, fn)` for browser scripts: times each step and remembers the first one that failed.
 * Nested steps are named `outer › inner` (tracked with AsyncLocalStorage, so steps run side by side
 * with Promise.all keep their own parents). Once the run is stopped, running steps are recorded as
 * failed, later steps refuse to start, and nothing more is recorded.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { BrowserRunDetails } from '../../../checks/contract.ts';
import { RunStoppedError } from './expect.ts';

export type StepRecord = BrowserRunDetails['steps'][number];

const MAX_STEPS = 200;
const MAX_NAME = 300;
const MAX_ERROR = 2000;

export class StepRecorder {
  readonly steps: StepRecord[] = [];
  #failedStep: string | null = null;
  #stopped = false;
  readonly #running = new Map<symbol, { name: string; startedAt: number }>();
  readonly #parent = new AsyncLocalStorage<string>();

  get failedStep(): string | null { return this.#failedStep; }
  get stopped(): boolean { return this.#stopped; }

  /** The function handed to scripts. */
  readonly step = async <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
    if (this.#stopped) throw new RunStoppedError(`step "${name}" not started: the run was stopped`);
    const parent = this.#parent.getStore();
    const full = (parent ? `${parent} › ${String(name)}` : String(name)).slice(0, MAX_NAME);
    const token = Symbol(full);
    const startedAt = performance.now();
    this.#running.set(token, { name: full, startedAt });
    try {
      const value = await this.#parent.run(full, fn);
      this.#record({ name: full, durationMs: performance.now() - startedAt, status: 'passed' }, token);
      return value;
    } catch (error) {
      this.#record({ name: full, durationMs: performance.now() - startedAt, status: 'failed', error: errorMessage(error) }, token);
      throw error;
    }
  };

  /** Stops recording; steps still running are recorded as failed with `reason` (dropped when null). */
  stop(reason: string | null): void {
    if (this.#stopped) return;
    if (reason === null) {
      this.#stopped = true;
      return;
    }
    const now = performance.now();
    // Innermost (latest started) first, so that it becomes the failed step.
    const running = [...this.#running.entries()].sort((a, b) => b[1].startedAt - a[1].startedAt);
    for (const [token, { name, startedAt }] of running) {
      this.#record({ name, durationMs: now - startedAt, status: 'failed', error: reason }, token);
    }
    this.#stopped = true;
  }

  #record(record: StepRecord, token: symbol): void {
    if (this.#stopped || !this.#running.delete(token)) return;
    if (record.status === 'failed' && this.#failedStep === null) this.#failedStep = record.name;
    if (this.steps.length < MAX_STEPS) this.steps.push({ ...record, durationMs: Math.round(record.durationMs * 10) / 10 });
  }
}

function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length <= MAX_ERROR ? text : `${text.slice(0, MAX_ERROR - 1)}…`;
}
