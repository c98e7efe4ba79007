/** Soft assertions in the HTTP runner, against a real server on 127.0.0.1: a failed soft one does not fail the run. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHttpCheck } from '../../../../agent/runners/http/index.ts';
import { assertValidReport, httpCheck, runContext } from '../../../support/http-check.ts';
import { startHttpTarget, type TestTarget } from '../../../support/http-targets.ts';

let target: TestTarget;
beforeAll(async () => {
  target = await startHttpTarget((_req, res) => { res.setHeader('x-version', '1.2'); res.end('hello'); });
});
afterAll(async () => { await target.close(); });

describe('soft assertions', () => {
  it.each([
    { name: 'only a soft assertion fails: the run passes and reports it', soft: true, outcome: 'pass', code: null },
    { name: 'the same assertion, hard, fails the run', soft: false, outcome: 'fail', code: 'ASSERTION_FAILED' },
  ])('$name', async ({ soft, outcome, code }) => {
    const report = await runHttpCheck(httpCheck({
      url: target.url('/'),
      assertions: [{ type: 'status', op: 'equals', value: 200 }, { type: 'header', name: 'x-version', op: 'equals', value: '2.0', soft }],
    }), runContext(5_000));
    const result = assertValidReport(report);
    expect(result.outcome).toBe(outcome);
    expect(result.error?.code ?? null).toBe(code);
    expect(result.assertions.map((a) => a.passed)).toEqual([true, false]);
    expect(result.assertions[1]!.assertion).toMatchObject({ soft });
  });

  it('a failed hard assertion still fails the run when a soft one passes', async () => {
    const report = await runHttpCheck(httpCheck({
      url: target.url('/'),
      assertions: [{ type: 'status', op: 'equals', value: 204 }, { type: 'body', op: 'contains', value: 'hello', soft: true }],
    }), runContext(5_000));
    expect(assertValidReport(report)).toMatchObject({ outcome: 'fail', error: { code: 'ASSERTION_FAILED' } });
  });
});
