/**
 * The runner table and what is derived from it: the types an agent serves, the runners started for
 * them, the refusal of every other type, and the secrets around every runner whatever its type.
 */
import { describe, expect, it } from 'vitest';
import { CHECK_TYPE_NAMES } from '../../../checks/check-types.ts';
import type { CheckDefinition } from '../../../checks/contract.ts';
import { CHECK_TYPE_RUNNERS, agentCheckTypes, runnerTable, startRunners } from '../../../agent/runners/index.ts';
import type { Runner, RunnerTable } from '../../../agent/runners/types.ts';
import { withSecrets } from '../../../agent/secrets/apply.ts';
import { assertValidReport, httpCheck, runContext } from '../../support/http-check.ts';
import { agentConfig } from '../support.ts';

const browserDefinition = {
  type: 'browser', id: 'journey', name: 'Journey', regions: ['r1'], frequencyMs: 60_000, timeoutMs: 5_000, failureThreshold: 2,
  successThreshold: 2, tags: [], secrets: [], script: { bundle: 'export {}', file: 'journey.check.ts' },
} satisfies CheckDefinition;

describe('the types an agent serves', () => {
  it('follow its configuration: HTTP always, browser checks only when they are on', () => {
    const off = agentCheckTypes(agentConfig('redis://127.0.0.1:1', { browserChecks: false }));
    const on = agentCheckTypes(agentConfig('redis://127.0.0.1:1', { browserChecks: true }));
    expect(off).toContain('http');
    expect(off).not.toContain('browser');
    expect(new Set(on)).toEqual(new Set([...off, 'browser']));
  });

  it('come from a table with an entry for every check type', () => {
    expect(Object.keys(CHECK_TYPE_RUNNERS)).toEqual(CHECK_TYPE_NAMES);
  });
});

describe('startRunners', () => {
  it('starts the types asked for and makes every other type refuse its runs as an agent error', async () => {
    const started = await startRunners(['http']);
    expect(started.served).toEqual(['http']);
    expect(started.resources).toEqual([]);
    const report = await started.runners.browser(browserDefinition, runContext(5_000));
    assertValidReport(report);
    expect(report).toMatchObject({ outcome: 'error', error: { code: 'UNSUPPORTED_CHECK_TYPE', message: 'browser checks are not enabled on this agent' } });
  });

  it('applies the secrets to what it starts: a missing one fails the run before any request', async () => {
    const started = await startRunners(['http'], { secrets: { PRESENT: 'x' } });
    const report = await started.runners.http(httpCheck({ url: 'http://127.0.0.1:9/{{secret:ABSENT}}' }), runContext(5_000));
    expect(report).toMatchObject({ outcome: 'fail', statusCode: null, error: { code: 'SECRET_MISSING' } });
  });
});

describe('withSecrets over the whole table', () => {
  it('scrubs the reports of every type, not a list of them', async () => {
    const leaking: Runner<CheckDefinition> = async () => {
      const now = Date.now();
      return {
        startedAt: now, endedAt: now, outcome: 'fail', error: { code: 'SCRIPT_ERROR', message: 'saw hunter2 in the page' },
        timings: null, assertions: [], statusCode: null, responseBytes: null,
      };
    };
    const table = withSecrets(runnerTable(Object.fromEntries(CHECK_TYPE_NAMES.map((type) => [type, leaking])) as Partial<RunnerTable>), { PASSWORD: 'hunter2' });
    // The leaking runner does not read its definition: any definition without placeholders will do.
    const definition = httpCheck({ url: 'http://127.0.0.1:9/' });
    for (const type of CHECK_TYPE_NAMES) {
      const report = await (table[type] as Runner<CheckDefinition>)(definition, runContext(1_000));
      expect(report.error, type).toEqual({ code: 'SCRIPT_ERROR', message: 'saw [secret:PASSWORD] in the page' });
    }
  });
});
