import { describe, expect, it } from 'vitest';
import { parseCheckJob } from '../../../agent/jobs/validate.ts';
import { JobSigner, JobVerifier, generateSigningKey } from '../../../checks/signing.ts';
import { TEST_JOB_PUBLIC_KEY } from '../../support/signing.ts';
import { httpJob } from '../support.ts';

const verifier = new JobVerifier(TEST_JOB_PUBLIC_KEY);
const good = httpJob('us-east', 'http://127.0.0.1:1/', { scheduledAt: 1_000 });

describe('parseCheckJob', () => {
  it('accepts a job a coordinator signed, and fills the definition defaults', () => {
    const parsed = parseCheckJob(good, 'us-east', verifier);
    if (!parsed.ok) throw new Error(parsed.message);
    expect(parsed.job.check).toMatchObject({ id: 'homepage', method: 'GET', followRedirects: true });
    expect(parsed.job.scheduledAt).toBe(1_000);
  });

  const otherKey = new JobSigner(generateSigningKey());
  const { signature: _signature, ...unsigned } = good;
  const cases: Array<{ name: string; data: unknown; code: string; message: string | RegExp }> = [
    { name: 'not an object', data: 'hello', code: 'INVALID_JOB', message: 'job data must be an object, got string' },
    { name: 'null', data: null, code: 'INVALID_JOB', message: 'job data must be an object, got null' },
    { name: 'an array', data: [good], code: 'INVALID_JOB', message: 'job data must be an object, got an array' },
    { name: 'another schema version', data: { ...good, schemaVersion: 1 }, code: 'INVALID_JOB', message: 'schemaVersion: this agent understands version 2, got 1' },
    { name: 'no schema version', data: { region: 'us-east' }, code: 'INVALID_JOB', message: 'schemaVersion: this agent understands version 2, got nothing' },
    {
      name: 'bad fields, named with their paths', data: { ...good, checkVersion: 0, check: { ...good.check, url: 'ftp://x', timeoutMs: 10 } }, code: 'INVALID_JOB',
      message: 'checkVersion: Too small: expected number to be >0; check.timeoutMs: Too small: expected number to be >=100; check.url: url must be http:// or https://',
    },
    { name: 'an unsigned job', data: unsigned, code: 'INVALID_JOB', message: /^signature: / },
    { name: 'a job signed by another key', data: httpJobSignedBy(otherKey), code: 'INVALID_JOB_SIGNATURE', message: /not signed by a coordinator/ },
    { name: 'another region\'s job', data: httpJob('eu-west', 'http://127.0.0.1:1/'), code: 'INVALID_JOB_SIGNATURE', message: 'region: job is for region "eu-west" but this agent serves "us-east"' },
    { name: 'a job moved to this region', data: { ...httpJob('eu-west', 'http://127.0.0.1:1/'), region: 'us-east' }, code: 'INVALID_JOB_SIGNATURE', message: /not signed by a coordinator/ },
    { name: 'an altered definition', data: { ...good, check: { ...good.check, url: 'http://203.0.113.9/steal' } }, code: 'INVALID_JOB_SIGNATURE', message: /definition is not the one its signature covers/ },
    { name: 'an altered digest as well', data: { ...good, check: { ...good.check, url: 'http://203.0.113.9/' }, definitionDigest: 'f'.repeat(64) }, code: 'INVALID_JOB_SIGNATURE', message: /not signed by a coordinator/ },
    { name: 'a moved slot', data: { ...good, scheduledAt: good.scheduledAt + 60_000 }, code: 'INVALID_JOB_SIGNATURE', message: /not signed by a coordinator/ },
    { name: 'a prolonged expiry', data: { ...good, expiresAt: good.expiresAt + 3_600_000 }, code: 'INVALID_JOB_SIGNATURE', message: /not signed by a coordinator/ },
    { name: 'another trigger', data: { ...good, trigger: 'schedule' }, code: 'INVALID_JOB_SIGNATURE', message: /not signed by a coordinator/ },
  ];
  it.each(cases)('refuses $name', ({ data, code, message }) => {
    const parsed = parseCheckJob(data, 'us-east', verifier);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.code).toBe(code);
    if (typeof message === 'string') expect(parsed.message).toBe(message);
    else expect(parsed.message).toMatch(message);
  });
});

function httpJobSignedBy(signer: JobSigner) {
  const job = httpJob('us-east', 'http://127.0.0.1:1/');
  const { region, check, checkVersion, trigger, scheduledAt, expiresAt, definitionDigest } = job;
  return { ...job, signature: signer.signRun({ region, checkId: check.id, checkVersion, trigger, scheduledAt, expiresAt, definitionDigest }) };
}
