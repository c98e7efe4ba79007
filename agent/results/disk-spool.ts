/**
 * Results kept on disk while Redis is away, so that an agent restarted meanwhile (a deploy, a crash, the
 * host rebooting) still delivers them. A folder of its own (mode 0700) holds one file per batch (mode
 * 0600), written whole (temporary file, fsync, rename) so a crash never leaves half a batch: the name
 * carries its order, when it was written and how many results it holds
 * (`<seq>-<writtenAt>-<count>.jsonl`), so bounds are kept without reading files.
 *
 * Bounded by bytes and by age: past either, the oldest batches go, and every result that goes is counted
 * by reason (`bytes`, `age`; `unreadable` for a line that is not a result), never silently. The age bound is
 * also what keeps a flush from counting twice: coordinators remember a result for de-duplication for 24 h
 * (coordinator/results/ingest.ts `DEDUPE_TTL_MS`), so nothing older is ever sent.
 *
 * One agent at a time: a `lock` file names the process that holds the folder; another live process is
 * refused (`SPOOL_LOCKED`), a dead one's lock is taken over. What a run reports is scrubbed of secrets
 * before it gets here (agent/secrets/apply.ts), so the files hold nothing the results queue would not.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { RunResult } from '../../checks/contract.ts';
import { CodedError } from '../../lib/errors.ts';
import type { DropReason, ResultSpool, SpoolBatch } from './spool.ts';

export type DiskSpoolErrorCode = 'SPOOL_LOCKED' | 'SPOOL_UNUSABLE';
export class DiskSpoolError extends CodedError<DiskSpoolErrorCode> {}

/** 64 MiB. */
export const DEFAULT_SPOOL_MAX_BYTES = 64 * 1024 * 1024;
/** 24 h: no longer than coordinators remember a result for de-duplication. */
export const DEFAULT_SPOOL_MAX_AGE_MS = 24 * 3_600_000;
export const MAX_SPOOL_AGE_MS = DEFAULT_SPOOL_MAX_AGE_MS;

export interface DiskSpoolOptions {
  dir: string;
  /** @defaultValue {@link DEFAULT_SPOOL_MAX_BYTES} */
  maxBytes?: number;
  /** @defaultValue {@link DEFAULT_SPOOL_MAX_AGE_MS} */
  maxAgeMs?: number;
  /** Called for every result dropped, with how many and why. */
  onDrop: (count: number, reason: DropReason) => void;
  /** @defaultValue Date.now */
  now?: () => number;
}

interface BatchFile { name: string; seq: number; writtenAt: number; count: number; bytes: number }

const FILE_NAME = /^(\d{16})-(\d{13})-(\d{1,6})\.jsonl$/;
const LOCK = 'lock';

/** Opens (and locks) a spool folder, creating it; throws `SPOOL_LOCKED` or `SPOOL_UNUSABLE` naming the folder. */
export function openDiskSpool(options: DiskSpoolOptions): ResultSpool & { readonly dir: string } {
  const { dir, onDrop } = options;
  const maxBytes = options.maxBytes ?? DEFAULT_SPOOL_MAX_BYTES;
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_SPOOL_MAX_AGE_MS;
  const now = options.now ?? Date.now;
  const token = `${process.pid}:${randomBytes(6).toString('hex')}`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  } catch (error) {
    throw new DiskSpoolError('SPOOL_UNUSABLE', `--spool-dir ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  takeLock(dir, token);

  const files: BatchFile[] = [];
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.tmp')) { rmSync(join(dir, name), { force: true }); continue; }
    const match = FILE_NAME.exec(name);
    if (!match) continue;
    files.push({ name, seq: Number(match[1]), writtenAt: Number(match[2]), count: Number(match[3]), bytes: statSync(join(dir, name)).size });
  }
  files.sort((a, b) => a.seq - b.seq);
  let nextSeq = (files.at(-1)?.seq ?? 0) + 1;
  let closed = false;

  const drop = (file: BatchFile, reason: DropReason): void => {
    rmSync(join(dir, file.name), { force: true });
    files.splice(files.indexOf(file), 1);
    onDrop(file.count, reason);
  };
  const totalBytes = (): number => files.reduce((sum, file) => sum + file.bytes, 0);
  const dropExpired = (): void => {
    while (files.length > 0 && now() - files[0]!.writtenAt > maxAgeMs) drop(files[0]!, 'age');
  };
  dropExpired();

  return {
    dir,
    kind: 'disk',
    get size() { return files.reduce((sum, file) => sum + file.count, 0); },
    get bytes() { return totalBytes(); },
    async add(results) {
      if (closed || results.length === 0) return;
      dropExpired();
      const body = Buffer.from(results.map((result) => `${JSON.stringify(result)}\n`).join(''));
      if (body.length > maxBytes) { onDrop(results.length, 'bytes'); return; }
      while (files.length > 0 && totalBytes() + body.length > maxBytes) drop(files[0]!, 'bytes');
      const seq = nextSeq++;
      const writtenAt = now();
      const file: BatchFile = { name: batchFileName(seq, writtenAt, results.length), seq, writtenAt, count: results.length, bytes: body.length };
      writeWhole(join(dir, file.name), body);
      files.push(file);
    },
    async oldest() {
      dropExpired();
      for (;;) {
        const file = files[0];
        if (!file) return null;
        let text: string;
        try {
          text = readFileSync(join(dir, file.name), 'utf8');
        } catch {
          drop(file, 'unreadable');
          continue;
        }
        const results: RunResult[] = [];
        let unreadable = 0;
        for (const line of text.split('\n')) {
          if (line === '') continue;
          try {
            const parsed = RunResult.safeParse(JSON.parse(line));
            if (parsed.success) results.push(parsed.data); else unreadable++;
          } catch {
            unreadable++;
          }
        }
        if (results.length === 0) { rmSync(join(dir, file.name), { force: true }); files.shift(); onDrop(unreadable, 'unreadable'); continue; }
        if (unreadable > 0) {
          // Kept without its unreadable lines, so they are counted (and the spool's size corrected) once,
          // not again at every flush that fails and reads the file anew.
          const body = Buffer.from(results.map((result) => `${JSON.stringify(result)}\n`).join(''));
          const name = batchFileName(file.seq, file.writtenAt, results.length);
          writeWhole(join(dir, name), body);
          if (name !== file.name) rmSync(join(dir, file.name), { force: true });
          Object.assign(file, { name, count: results.length, bytes: body.length });
          onDrop(unreadable, 'unreadable');
        }
        return { results, id: file.name } satisfies SpoolBatch;
      }
    },
    async remove(batch) {
      const file = files.find((f) => f.name === batch.id);
      if (!file) return;
      rmSync(join(dir, file.name), { force: true });
      files.splice(files.indexOf(file), 1);
    },
    async close() {
      if (closed) return;
      closed = true;
      releaseLock(dir, token);
    },
  };
}

/** A batch's file name: its sequence, when it was written, and how many results it holds (see FILE_NAME). */
const batchFileName = (seq: number, writtenAt: number, count: number): string =>
  `${String(seq).padStart(16, '0')}-${String(writtenAt).padStart(13, '0')}-${count}.jsonl`;

/** Writes a file whole: a temporary file, fsync, then a rename over the final name. */
function writeWhole(path: string, body: Buffer): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, body);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Folders this process holds: a lock naming our own pid is ours only if listed here. */
const heldHere = new Set<string>();

function takeLock(dir: string, token: string): void {
  const path = join(dir, LOCK);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, token);
      closeSync(fd);
      heldHere.add(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new DiskSpoolError('SPOOL_UNUSABLE', `--spool-dir ${dir}: cannot create its lock: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
    }
    let holder = '';
    try { holder = readFileSync(path, 'utf8'); } catch { continue; }
    const pid = Number(holder.split(':')[0]);
    // Our own pid on a lock we do not hold is a previous life's: a container restarted after a crash starts
    // its agent with the same pid in a fresh pid namespace, and must not lock itself out of its spool.
    const held = pid === process.pid ? heldHere.has(dir) : Number.isInteger(pid) && pid > 0 && isAlive(pid);
    if (held) {
      throw new DiskSpoolError('SPOOL_LOCKED', `--spool-dir ${dir} is in use by process ${pid}; give each agent on this machine its own --spool-dir`);
    }
    // The holder is gone (it crashed): its results are ours to deliver.
    unlinkSync(path);
  }
  throw new DiskSpoolError('SPOOL_LOCKED', `--spool-dir ${dir}: could not take its lock`);
}

function releaseLock(dir: string, token: string): void {
  const path = join(dir, LOCK);
  try {
    if (readFileSync(path, 'utf8') === token) unlinkSync(path);
  } catch { /* already gone */ }
  heldHere.delete(dir);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
