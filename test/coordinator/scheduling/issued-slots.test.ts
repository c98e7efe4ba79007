/**
 * The stand-in for issuing scheduled runs: the slots it registers are the ones BullMQ's job schedulers
 * really make (checked against a real scheduler's next job), and each slot is registered once per tick window.
 */
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { StoredCheck } from '../../../checks/contract.ts';
import { latestSlot, slotsDue } from '../../../coordinator/scheduling/issued-slots.ts';
import { phaseOf, schedulerId } from '../../../coordinator/scheduling/scheduler.ts';
import { schedulerSlotOf } from '../../../agent/jobs/schedule.ts';
import { redisForFile, uniquePrefix } from '../../support/redis.ts';
import { httpCheck } from '../support.ts';

const shared = redisForFile();
const stored = (id: string, frequencyMs: number, regions = ['us-east', 'eu-west']): StoredCheck =>
  ({ definition: httpCheck(id, { frequencyMs, regions }), version: 1, updatedAt: 0 });

describe('latestSlot', () => {
  it.each([
    { now: 10_250, every: 1_000, offset: 250, expected: 10_250 },
    { now: 10_249, every: 1_000, offset: 250, expected: 9_250 },
    { now: 59_999, every: 60_000, offset: 1, expected: 1 },
  ])('k × $every + $offset at or before $now → $expected', ({ now, every, offset, expected }) => {
    expect(latestSlot(now, every, offset)).toBe(expected);
  });
});

describe('slotsDue', () => {
  it('names each (check, region) slot that came due in the window, once', () => {
    const check = stored('web', 10_000);
    const offsets = check.definition.regions.map((region) => phaseOf(schedulerId('web', region), 10_000));
    const base = 1_700_000_000_000;
    const all = slotsDue([check], base, base + 10_000);
    expect(all.map((s) => `${s.region}@${(s.scheduledAt - offsets[check.definition.regions.indexOf(s.region)]!) % 10_000}`)).toEqual(['us-east@0', 'eu-west@0']);
    expect(all.every((s) => s.trigger === 'schedule' && s.scheduledAt > base && s.scheduledAt <= base + 10_000)).toBe(true);
    // The next window (up to the same instant) holds none of them again.
    expect(slotsDue([check], base + 10_000, base + 10_000)).toEqual([]);
  });
});

it('matches the slot of the job a real BullMQ job scheduler makes', async () => {
  const prefix = uniquePrefix('slots');
  const queue = new Queue('checks.us-east', { connection: shared.redis, prefix });
  shared.onCleanup(() => queue.close());
  const every = 7_000;
  const id = schedulerId('web', 'us-east');
  await queue.upsertJobScheduler(id, { every, offset: phaseOf(id, every) }, { name: 'web', data: {} });
  const [job] = await queue.getDelayed(0, 10);
  const slot = schedulerSlotOf({ id: job!.id, repeatJobKey: job!.repeatJobKey });
  expect(slot).toBeDefined();
  expect(latestSlot(slot!, every, phaseOf(id, every))).toBe(slot);
  const due = slotsDue([stored('web', every, ['us-east'])], slot! - 1, slot!);
  expect(due).toEqual([{ checkId: 'web', region: 'us-east', scheduledAt: slot, trigger: 'schedule' }]);
});
