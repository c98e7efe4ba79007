/** Process helpers for tests that must prove nothing was left running. */
import { readFileSync } from 'node:fs';

/** Whether `pid` is a live process (a zombie, dead but not yet reaped, counts as gone). */
export function isAlive(pid: number): boolean {
  let stat: string;
  try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return false; }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}
