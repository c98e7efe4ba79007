import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, type Heartbeat } from '../../../checks/contract.ts';
import { decideAgent, heldOnline, parseHeartbeat, type StoredAgent } from '../../../coordinator/liveness/agents.ts';
import { MAX_HEARTBEAT_BYTES } from '../../../checks/limits.ts';

const hb = (sentAt: number, region = 'us-east'): Heartbeat => ({
  schemaVersion: SCHEMA_VERSION, agentId: 'a1', region, version: '1', hostname: 'h', pid: 1, concurrency: 2, inFlight: 0,
  capabilities: ['http'], startedAt: 0, sentAt,
});
const stored = (status: 'online' | 'offline', lastSeenAt: number | null, changedAt: number): StoredAgent =>
  ({ agentId: 'a1', region: 'us-east', status, lastSeenAt, changedAt, heartbeat: lastSeenAt === null ? null : hb(lastSeenAt) });
const DAY = 86_400_000;

describe('decideAgent', () => {
  const cases: Array<{ name: string; stored: StoredAgent | null; heartbeat: Heartbeat | null; now: number; expected: string }> = [
    { name: 'first heartbeat: online, quietly', stored: null, heartbeat: hb(100), now: 200, expected: 'write online -' },
    { name: 'new heartbeat while online: refresh, no event', stored: stored('online', 100, 50), heartbeat: hb(150), now: 200, expected: 'write online -' },
    { name: 'same heartbeat while online: nothing', stored: stored('online', 150, 50), heartbeat: hb(150), now: 200, expected: 'none' },
    { name: 'heartbeat gone while online: offline with probe.offline', stored: stored('online', 150, 50), heartbeat: null, now: 9_000, expected: 'write offline probe.offline' },
    { name: 'still gone while offline: nothing', stored: stored('offline', 150, 9_000), heartbeat: null, now: 10_000, expected: 'none' },
    { name: 'back while offline: online with probe.online', stored: stored('offline', 150, 9_000), heartbeat: hb(10_000), now: 10_001, expected: 'write online probe.online' },
    { name: 'listed but never seen alive: offline, quietly', stored: null, heartbeat: null, now: 5, expected: 'write offline -' },
    { name: 'offline longer than the retention: forgotten', stored: stored('offline', 150, 1_000), heartbeat: null, now: 1_000 + DAY + 1, expected: 'forget' },
    { name: 'offline exactly the retention: kept', stored: stored('offline', 150, 1_000), heartbeat: null, now: 1_000 + DAY, expected: 'none' },
  ];
  it.each(cases)('$name', ({ stored: s, heartbeat, now, expected }) => {
    const d = decideAgent('a1', s, heartbeat, now, DAY);
    const text = d.kind === 'write' ? `write ${d.agent.status} ${d.event?.type ?? '-'}` : d.kind;
    expect(text).toBe(expected);
  });

  // After the control plane was away (Redis restarted, failed over, or the coordinator lost it), a
  // heartbeat key that expired meanwhile is not news until a heartbeat lifetime has passed since.
  const awayCases: Array<{ name: string; stored: StoredAgent | null; heartbeat: Heartbeat | null; now: number; judgedFrom: number; expected: string; held: boolean }> = [
    { name: 'gone just after the return: held online, nothing written', stored: stored('online', 150, 50), heartbeat: null, now: 20_000, judgedFrom: 19_000, expected: 'none', held: true },
    { name: 'gone a heartbeat lifetime after the return: offline', stored: stored('online', 150, 50), heartbeat: null, now: 26_000, judgedFrom: 19_000, expected: 'write offline probe.offline', held: false },
    { name: 'beating again after the return: online, nothing to tell', stored: stored('online', 150, 50), heartbeat: hb(19_500), now: 20_000, judgedFrom: 19_000, expected: 'write online -', held: false },
    { name: 'an agent offline before stays offline, quietly', stored: stored('offline', 150, 9_000), heartbeat: null, now: 20_000, judgedFrom: 19_000, expected: 'none', held: false },
  ];
  it.each(awayCases)('after the control plane was away: $name', ({ stored: s, heartbeat, now, judgedFrom, expected, held }) => {
    const d = decideAgent('a1', s, heartbeat, now, DAY, judgedFrom);
    expect(d.kind === 'write' ? `write ${d.agent.status} ${d.event?.type ?? '-'}` : d.kind).toBe(expected);
    expect(heldOnline(s, heartbeat, now, judgedFrom)).toBe(held);
  });

  it('describes the transition in the event, with a deterministic id', () => {
    const d = decideAgent('a1', stored('online', 150, 50), null, 9_000, DAY);
    expect(d).toMatchObject({ kind: 'write', event: { id: 'probe.offline:a1:9000', type: 'probe.offline', at: 9_000, agent: { agentId: 'a1', region: 'us-east', lastSeenAt: 150 } } });
    expect(d.kind === 'write' && d.agent.changedAt).toBe(9_000);
  });

  it('treats a heartbeat that breaks the contract as absent', () => {
    expect(parseHeartbeat(JSON.stringify({ ...hb(1), schemaVersion: 99 }))).toBeNull();
    expect(parseHeartbeat('{')).toBeNull();
    expect(parseHeartbeat(JSON.stringify(hb(1)))).toMatchObject({ agentId: 'a1' });
  });

  it('ignores a heartbeat over MAX_HEARTBEAT_BYTES without parsing it', () => {
    const padded = JSON.stringify({ ...hb(1), hostname: 'h'.repeat(200) });
    expect(parseHeartbeat(padded)).not.toBeNull();
    expect(parseHeartbeat(`${padded}${' '.repeat(MAX_HEARTBEAT_BYTES)}`)).toBeNull();
  });
});
