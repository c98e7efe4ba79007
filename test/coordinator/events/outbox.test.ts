import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../../coordinator/events/events.ts';
import { outboxKey } from '../../../checks/keys.ts';
import { memoryLogger } from '../support.ts';
import { drainOutbox, outboxLength } from '../../../coordinator/events/outbox.ts';
import { redisForFile, uniquePrefix } from '../../support/redis.ts';

const shared = redisForFile();

const event = (n: number): AlertEvent => ({ id: `probe.offline:a${n}:${n}`, type: 'probe.offline', at: n, agent: { agentId: `a${n}`, region: 'us-east', lastSeenAt: n } });
/** Pushes as the state store does: LPUSH, so the oldest is at the tail. */
const push = async (prefix: string, ...entries: string[]) => { for (const e of entries) await shared.redis.lpush(outboxKey(prefix), e); };

describe('outbox', () => {
  it('delivers oldest first and removes each delivered event', async () => {
    const prefix = uniquePrefix('out');
    await push(prefix, JSON.stringify(event(1)), JSON.stringify(event(2)), JSON.stringify(event(3)));
    const seen: string[] = [];
    expect(await drainOutbox(shared.redis, prefix, async (e) => { seen.push(e.id); })).toBe(3);
    expect(seen).toEqual([event(1).id, event(2).id, event(3).id]);
    expect(await outboxLength(shared.redis, prefix)).toBe(0);
  });

  it('keeps an event whose delivery failed, and delivers it on the next drain', async () => {
    const prefix = uniquePrefix('out');
    await push(prefix, JSON.stringify(event(1)), JSON.stringify(event(2)));
    let fail = true;
    const seen: string[] = [];
    const deliver = async (e: AlertEvent) => {
      if (fail && e.id === event(2).id) throw new Error('queue down');
      seen.push(e.id);
    };
    await expect(drainOutbox(shared.redis, prefix, deliver)).rejects.toThrow('queue down');
    expect(await outboxLength(shared.redis, prefix)).toBe(1);
    fail = false;
    expect(await drainOutbox(shared.redis, prefix, deliver)).toBe(1);
    expect(seen).toEqual([event(1).id, event(2).id]);
  });

  it('drops and logs entries that are not events', async () => {
    const prefix = uniquePrefix('out');
    await push(prefix, 'not json', JSON.stringify({ no: 'id' }), JSON.stringify(event(7)));
    const { logger, lines } = memoryLogger();
    const seen: string[] = [];
    expect(await drainOutbox(shared.redis, prefix, async (e) => { seen.push(e.id); }, { logger })).toBe(1);
    expect(seen).toEqual([event(7).id]);
    expect(lines.filter((l) => l.msg === 'outbox.invalid_entry')).toHaveLength(2);
  });

  it('moves at most `max` events per call', async () => {
    const prefix = uniquePrefix('out');
    await push(prefix, ...[1, 2, 3, 4].map((n) => JSON.stringify(event(n))));
    expect(await drainOutbox(shared.redis, prefix, async () => {}, { max: 3 })).toBe(3);
    expect(await outboxLength(shared.redis, prefix)).toBe(1);
  });
});
