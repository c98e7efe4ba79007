/**
 * The disk spool (agent/results/disk-spool.ts) on a real folder: oldest first, kept across a reopen (an
 * agent restarted while Redis is away), bounded by bytes and by age with every dropped result counted by
 * reason, lines that are not results counted and skipped, 0700/0600 permissions, and one agent per folder.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunResult } from '../../../checks/contract.ts';
import { openDiskSpool } from '../../../agent/results/disk-spool.ts';
import type { DropReason } from '../../../agent/results/spool.ts';
import { runResult } from '../../coordinator/support.ts';
import { slotProofFor } from '../../support/signing.ts';

let root: string;
let dir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'lookout-spool-'));
  dir = join(root, 'spool', 'eu-west');
});
afterEach(() => { rmSync(root, { recursive: true, force: true }); });

const result = (scheduledAt: number): RunResult => {
  const base = runResult({ checkId: 'shop', region: 'eu-west', scheduledAt });
  return { ...base, slot: slotProofFor(base) };
};

function open(options: { maxBytes?: number; maxAgeMs?: number; now?: () => number } = {}) {
  const drops: Array<[number, DropReason]> = [];
  const spool = openDiskSpool({ dir, onDrop: (count, reason) => drops.push([count, reason]), ...options });
  return { spool, drops };
}

const scheduled = async (spool: ReturnType<typeof open>['spool']): Promise<number[]> => {
  const out: number[] = [];
  for (let batch = await spool.oldest(); batch; batch = await spool.oldest()) {
    out.push(...batch.results.map((r) => r.scheduledAt));
    await spool.remove(batch);
  }
  return out;
};

describe('the disk spool', () => {
  it('hands out batches oldest first, and a batch stays until it is removed', async () => {
    const { spool } = open();
    await spool.add([result(1_000), result(2_000)]);
    await spool.add([result(3_000)]);
    expect(spool.size).toBe(3);
    const first = await spool.oldest();
    expect(first!.results.map((r) => r.scheduledAt)).toEqual([1_000, 2_000]);
    expect((await spool.oldest())!.id).toBe(first!.id);
    await spool.remove(first!);
    expect(await scheduled(spool)).toEqual([3_000]);
    expect(spool.size).toBe(0);
    await spool.close();
  });

  it('keeps its results across a close and a reopen, in order, and what a later agent adds goes behind them', async () => {
    const first = open();
    await first.spool.add([result(1_000)]);
    await first.spool.add([result(2_000)]);
    await first.spool.close();
    const second = open();
    expect(second.spool.size).toBe(2);
    await second.spool.add([result(3_000)]);
    expect(await scheduled(second.spool)).toEqual([1_000, 2_000, 3_000]);
    await second.spool.close();
  });

  it('keeps its folder private: 0700, and 0600 for each file and the lock', async () => {
    const { spool } = open();
    await spool.add([result(1_000)]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const name of readdirSync(dir)) expect([name, statSync(join(dir, name)).mode & 0o777]).toEqual([name, 0o600]);
    await spool.close();
  });

  it('past its byte bound drops the oldest batches, counting every result', async () => {
    const one = Buffer.byteLength(`${JSON.stringify(result(1_000))}\n`);
    const { spool, drops } = open({ maxBytes: 3 * one + 10 });
    await spool.add([result(1_000), result(2_000)]);
    await spool.add([result(3_000)]);
    await spool.add([result(4_000)]);
    expect(drops).toEqual([[2, 'bytes']]);
    expect(spool.bytes).toBeLessThanOrEqual(3 * one + 10);
    expect(await scheduled(spool)).toEqual([3_000, 4_000]);
    await spool.close();
  });

  it('drops what waited longer than its age bound, when adding, handing out and opening', async () => {
    let now = 1_000_000;
    const first = open({ maxAgeMs: 60_000, now: () => now });
    await first.spool.add([result(1)]);
    now += 30_000;
    await first.spool.add([result(2), result(3)]);
    now += 40_000;
    expect((await first.spool.oldest())!.results.map((r) => r.scheduledAt)).toEqual([2, 3]);
    expect(first.drops).toEqual([[1, 'age']]);
    await first.spool.close();
    now += 60_001;
    const second = open({ maxAgeMs: 60_000, now: () => now });
    expect(second.drops).toEqual([[2, 'age']]);
    expect(second.spool.size).toBe(0);
    await second.spool.close();
  });

  it('counts and skips lines that are not results; ignores files that are not its own; forgets half-written ones', async () => {
    const first = open();
    await first.spool.add([result(1_000)]);
    await first.spool.close();
    const [name] = readdirSync(dir).filter((n) => n.endsWith('.jsonl'));
    writeFileSync(join(dir, name!), `not json\n${JSON.stringify({ ...result(2_000), outcome: 'perhaps' })}\n${JSON.stringify(result(3_000))}\n`);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    writeFileSync(join(dir, '0000000000000009-0000000000000-1.jsonl.tmp'), '{"half');
    const second = open();
    // A flush that fails reads the same batch again: its unreadable lines are counted once.
    expect((await second.spool.oldest())!.results.map((r) => r.scheduledAt)).toEqual([3_000]);
    expect(await scheduled(second.spool)).toEqual([3_000]);
    expect(second.drops).toEqual([[2, 'unreadable']]);
    expect(readdirSync(dir).sort()).toEqual(['lock', 'notes.txt']);
    await second.spool.close();
  });

  it('is one agent\'s: a second one is refused while the first holds it, and takes over once it is released', async () => {
    const first = open();
    expect(() => open()).toThrow(expect.objectContaining({ code: 'SPOOL_LOCKED', message: expect.stringContaining(dir) }));
    await first.spool.close();
    const second = open();
    await second.spool.close();
  });

  it("takes over the lock of an agent that died without releasing it", async () => {
    const first = open();
    await first.spool.add([result(1_000)]);
    // As a SIGKILLed agent leaves it: the lock names a process that no longer runs.
    writeFileSync(join(dir, 'lock'), '2147483646:dead');
    const second = open();
    expect(second.spool.size).toBe(1);
    await second.spool.close();
  });

  it('takes over a lock naming its own pid that it does not hold (a container restarted after a crash)', async () => {
    const first = open();
    await first.spool.add([result(1_000)]);
    // The agent in a restarted container often gets the pid its crashed predecessor had.
    writeFileSync(join(dir, 'lock'), `${process.pid}:previous-life`);
    await first.spool.close(); // releases nothing: the lock is no longer its token
    const second = open();
    expect(second.spool.size).toBe(1);
    await second.spool.close();
  });

  it('says which folder it cannot use', () => {
    writeFileSync(join(root, 'file'), 'x');
    expect(() => openDiskSpool({ dir: join(root, 'file', 'spool'), onDrop: () => {} }))
      .toThrow(expect.objectContaining({ code: 'SPOOL_UNUSABLE', message: expect.stringContaining(join(root, 'file', 'spool')) }));
  });
});
