import { describe, expect, it } from 'vitest';
import { schedulingWithin } from '../../../coordinator/registry/api.ts';

describe('schedulingWithin', () => {
  it('answers with what the scheduler did when it finishes in time', async () => {
    await expect(schedulingWithin(Promise.resolve({ upserted: ['a@r1'] }), 1_000)).resolves.toEqual({ upserted: ['a@r1'] });
  });

  it('answers "applied, scheduling" when the scheduler takes longer than the wait, and never rejects for a late failure', async () => {
    let fail: (error: Error) => void = () => {};
    const slow = new Promise<unknown>((_resolve, reject) => { fail = reject; });
    const answer = await schedulingWithin(slow, 20);
    expect(answer).toEqual({ state: 'scheduling', message: expect.stringContaining('applied, scheduling') });
    fail(new Error('late'));
    await new Promise((resolve) => setImmediate(resolve));
  });
});
