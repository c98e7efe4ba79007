import { describeZodError } from '../../lib/zod-problems.ts';
import { signedJob } from '../support/signing.ts';
import { describe, expect, it } from 'vitest';
import { CheckJob, HttpCheckDefinition, RunResult, SCHEMA_VERSION } from '../../checks/contract.ts';

const definition = {
  type: 'http', id: 'api', name: 'API', url: 'https://example.test/health', regions: ['us-east'], frequencyMs: 30_000, timeoutMs: 5_000,
};

const result = {
  schemaVersion: SCHEMA_VERSION, checkId: 'api', checkVersion: 1, region: 'us-east', agentId: 'a1', trigger: 'schedule',
  scheduledAt: 1, startedAt: 2, endedAt: 3, outcome: 'pass', error: null,
  timings: { dnsMs: null, connectMs: 1, tlsMs: null, firstByteMs: 2, downloadMs: 0.1, totalMs: 3 },
  assertions: [], statusCode: 200, responseBytes: 10, slot: null,
};

describe('HttpCheckDefinition', () => {
  it('fills defaults', () => {
    const parsed = HttpCheckDefinition.parse(definition);
    expect(parsed).toMatchObject({ method: 'GET', failureThreshold: 2, successThreshold: 2, followRedirects: true, maxRedirects: 5, maxBodyBytes: 1_048_576, tags: [] });
    expect(parsed.assertions).toEqual([{ type: 'status', op: 'between', min: 200, max: 399 }]);
  });
  it.each([
    [{ url: 'ftp://x/' }, 'url'],
    [{ regions: [] }, 'regions'],
    [{ regions: ['EU West'] }, 'regions.0'],
    [{ id: 'has space' }, 'id'],
    [{ timeoutMs: 60_000 }, 'timeoutMs'],
    [{ frequencyMs: 10 }, 'frequencyMs'],
    [{ headers: { 'bad header': 'x' } }, 'headers.bad header'],
    [{ assertions: [{ type: 'status', op: 'between', min: 500, max: 200 }] }, 'assertions.0'],
    [{ assertions: [{ type: 'header', name: 'x', op: 'equals' }] }, 'assertions.0.value'],
    [{ assertions: [{ type: 'jsonPath', path: 'a b', op: 'exists' }] }, 'assertions.0.path'],
  ])('rejects %j at %s', (patch, path) => {
    const parsed = HttpCheckDefinition.safeParse({ ...definition, ...patch });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.path.join('.'))).toContain(path);
  });
});

describe('CheckJob', () => {
  it('accepts a job with a valid check and rejects another schema version', () => {
    const job = signedJob(HttpCheckDefinition.parse(definition), 'us-east', { version: 3, trigger: 'schedule' });
    expect(CheckJob.parse(job).trigger).toBe('schedule');
    expect(CheckJob.safeParse({ ...job, signature: 'forged' }).success).toBe(false);
    const wrong = CheckJob.safeParse({ ...job, schemaVersion: 99 });
    expect(describeZodError(wrong.error!, 'job')).toEqual([expect.stringMatching(/^job\.schemaVersion: /)]);
  });
});

describe('RunResult', () => {
  it('accepts a pass without error', () => {
    expect(RunResult.safeParse(result).success).toBe(true);
  });
  it.each([
    [{ outcome: 'fail', error: null }, 'a failure needs an error'],
    [{ outcome: 'pass', error: { code: 'TIMEOUT', message: 'x' } }, 'a pass has no error'],
    [{ outcome: 'error', error: { code: 'TIMEOUT', message: 'x' } }, 'agent errors need agent codes'],
    [{ outcome: 'fail', error: { code: 'AGENT_INTERNAL', message: 'x' } }, 'target failures need target codes'],
    [{ outcome: 'fail', error: { code: 'MADE_UP', message: 'x' } }, 'codes are a closed set'],
  ])('rejects %j (%s)', (patch, _why) => {
    expect(RunResult.safeParse({ ...result, ...patch }).success).toBe(false);
  });
});
