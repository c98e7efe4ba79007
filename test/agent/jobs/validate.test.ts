import { describe, expect, it } from 'vitest';
import { parseCheckJob } from '../../../agent/jobs/validate.ts';
import { httpJob } from '../support.ts';

const good = httpJob('us-east', 'http://127.0.0.1:1/', { scheduledAt: 1_000 });

describe('parseCheckJob', () => {
  it('accepts a valid job and fills the definition defaults', () => {
    const parsed = parseCheckJob(good, 'us-east');
    if (!parsed.ok) throw new Error(parsed.message);
    expect(parsed.job.check).toMatchObject({ id: 'homepage', method: 'GET', followRedirects: true });
    expect(parsed.job.scheduledAt).toBe(1_000);
  });

  const cases: Array<{ name: string; data: unknown; message: string; identity: object | null }> = [
    { name: 'not an object', data: 'hello', message: 'job data must be an object, got string', identity: null },
    { name: 'null', data: null, message: 'job data must be an object, got null', identity: null },
    { name: 'an array', data: [good], message: 'job data must be an object, got an array', identity: null },
    {
      name: 'another region', data: { ...good, region: 'eu-west' },
      message: 'region: job is for region "eu-west" but this agent serves "us-east"', identity: null,
    },
    {
      name: 'a newer schema version', data: { ...good, schemaVersion: 2 },
      message: 'schemaVersion: this agent understands version 1, got 2',
      identity: { checkId: 'homepage', checkVersion: 3, trigger: 'manual', scheduledAt: 1_000 },
    },
    {
      name: 'no schema version and no check', data: { region: 'us-east' },
      message: 'schemaVersion: this agent understands version 1, got nothing', identity: null,
    },
    {
      name: 'bad fields, named with their paths', data: { ...good, checkVersion: 0, check: { ...good.check, url: 'ftp://x', timeoutMs: 10 } },
      message: 'checkVersion: Too small: expected number to be >0; check.timeoutMs: Too small: expected number to be >=100; check.url: url must be http:// or https://',
      identity: null,
    },
    {
      name: 'a readable check with a bad url', data: { ...good, trigger: 'bogus', check: { ...good.check, url: 'not a url' } },
      message: 'check.url: Invalid URL; trigger: Invalid option: expected one of "schedule"|"confirmation"|"manual"',
      identity: { checkId: 'homepage', checkVersion: 3, trigger: 'schedule', scheduledAt: 1_000 },
    },
  ];
  it.each(cases)('rejects $name', ({ data, message, identity }) => {
    expect(parseCheckJob(data, 'us-east')).toEqual({ ok: false, message, identity });
  });
});
