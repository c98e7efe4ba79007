import { describe, expect, it } from 'vitest';
import { HttpCheckDefinition } from '../../../checks/contract.ts';
import { executeRun, runCancelled, RunAbortError } from '../../../agent/runs/execute.ts';
import type { RunContext, RunReport, Runner } from '../../../agent/runners/types.ts';

const definition = HttpCheckDefinition.parse({
  type: 'http', id: 'c1', name: 'C1', regions: ['r1'], frequencyMs: 60_000, timeoutMs: 200, url: 'http://127.0.0.1:9/',
});

const passing = (startedAt: number): RunReport => ({
  startedAt, endedAt: Date.now(), outcome: 'pass', error: null, timings: null, assertions: [], statusCode: 200, responseBytes: 0,
});

/** Resolves when the run's signal fires, reporting the reason seen. */
function untilAborted(context: RunContext): Promise<unknown> {
  return new Promise((resolve) => context.signal.addEventListener('abort', () => resolve(context.signal.reason), { once: true }));
}

async function run(runner: Runner<HttpCheckDefinition>, controller = new AbortController(), graceMs = 300) {
  const startedAt = Date.now();
  const executed = await executeRun({ runner, definition, region: 'r1', agentId: 'a1', startedAt, controller, graceMs });
  return { ...executed, elapsed: Date.now() - startedAt };
}

describe('executeRun', () => {
  it('returns what a well-behaved runner reports, with the context it needs', async () => {
    let seen: RunContext | undefined;
    const { report, abandoned } = await run(async (_d, context) => { seen = context; return passing(Date.now()); });
    expect(report.outcome).toBe('pass');
    expect(abandoned).toBe(false);
    expect(seen).toMatchObject({ region: 'r1', agentId: 'a1' });
    expect(seen!.deadlineAt - Date.now()).toBeLessThanOrEqual(200);
  });

  it('aborts the signal at the deadline with a TIMEOUT reason, and keeps the runner\'s own report', async () => {
    const { report, elapsed } = await run(async (_d, context) => {
      const reason = await untilAborted(context);
      return {
        ...passing(Date.now()), outcome: 'fail', statusCode: null,
        error: { code: 'TIMEOUT', message: `stopped: ${(reason as RunAbortError).code}` },
      };
    });
    expect(report.error).toEqual({ code: 'TIMEOUT', message: 'stopped: TIMEOUT' });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1_000);
  });

  it('turns a runner that throws into AGENT_INTERNAL', async () => {
    const { report } = await run(async () => { throw Object.assign(new Error('boom'), { code: 'E_BUG' }); });
    expect(report).toMatchObject({ outcome: 'error', error: { code: 'AGENT_INTERNAL', message: 'runner failed: E_BUG: boom' }, timings: null });
  });

  it('abandons a runner that ignores its signal, grace after the deadline', async () => {
    const { report, abandoned, elapsed } = await run(() => new Promise<RunReport>(() => {}), new AbortController(), 150);
    expect(abandoned).toBe(true);
    expect(report.error?.code).toBe('AGENT_INTERNAL');
    expect(report.error?.message).toContain('ignored its abort signal');
    expect(elapsed).toBeGreaterThanOrEqual(340);
    expect(elapsed).toBeLessThan(1_200);
  });

  it('reports RUN_CANCELLED when the agent cancels, even if the runner calls it a timeout', async () => {
    const controller = new AbortController();
    const running = run(async (_d, context) => {
      const reason = await untilAborted(context);
      expect((reason as RunAbortError).code).toBe('RUN_CANCELLED');
      return { ...passing(Date.now()), outcome: 'fail', error: { code: 'TIMEOUT', message: 'aborted' } };
    }, controller);
    setImmediate(() => controller.abort(runCancelled()));
    const { report, elapsed } = await running;
    expect(report.error?.code).toBe('RUN_CANCELLED');
    expect(elapsed).toBeLessThan(150);
  });

  it('keeps a pass that arrives after a cancellation', async () => {
    const controller = new AbortController();
    const running = run(async (_d, context) => { await untilAborted(context); return passing(Date.now()); }, controller);
    setImmediate(() => controller.abort(runCancelled()));
    expect((await running).report.outcome).toBe('pass');
  });

  it('cancels a runner that ignores a cancellation after the grace period', async () => {
    const controller = new AbortController();
    const running = run(() => new Promise<RunReport>(() => {}), controller, 50);
    setImmediate(() => controller.abort(runCancelled()));
    const { report, abandoned, elapsed } = await running;
    expect({ code: report.error?.code, abandoned }).toEqual({ code: 'RUN_CANCELLED', abandoned: true });
    expect(elapsed).toBeLessThan(190);
  });
});
