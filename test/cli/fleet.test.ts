/**
 * The README's main command as a user runs it: `lookout fleet` starts Redis, a coordinator, three
 * agents and the demo service, deploys the examples, shows every region up, and on Ctrl-C (SIGINT)
 * stops every process it started and exits 0. Its agents serve browser
 * checks too, so the example journey runs in real Chromium.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/redis.ts';
import { waitUntil } from '../support/wait.ts';

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
const childrenOf = (pid: number): number[] => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

describe('lookout fleet', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'lookout-fleet-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('runs the example fleet with every region up, and Ctrl-C stops everything it started', async () => {
    const port = await freePort();
    const fleet = spawn('./lookout', ['fleet', '--port', String(port), '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let children: number[] = [];
    fleet.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    fleet.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    try {
      await waitUntil('the fleet to start', () => output.includes('Press Ctrl-C to stop.') || fleet.exitCode !== null, 60_000);
      expect(output, output).toContain(`Dashboard   http://127.0.0.1:${port}/`);
      children = childrenOf(fleet.pid!);
      expect(children.length).toBeGreaterThanOrEqual(5); // redis, coordinator, three agents

      let seen: string[] = [];
      const statuses = await waitUntil('every region of every example check up', async () => {
        const body = await (await fetch(`http://127.0.0.1:${port}/api/checks`)).json() as { checks: { id: string; regions: { region: string; status: string; lastError: unknown }[] }[] };
        const pairs = body.checks.flatMap((c) => c.regions.map((r) => ({ name: `${c.id}/${r.region}=${r.status}`, up: r.status === 'up', lastError: r.lastError })));
        seen = pairs.map((p) => `${p.name}${p.lastError ? ` (last error: ${JSON.stringify(p.lastError)})` : ''}`);
        return body.checks.length === 4 && pairs.every((p) => p.up) && pairs.map((p) => p.name);
        // Up to one interval of the slowest example (the journey, 1m) plus a margin: on a loaded machine a
        // browser run at deployment can end as an agent error (no data), and the next run comes a minute on.
      }, 75_000).catch((error: Error) => { throw new Error(`${error.message}; last seen:\n${seen.join('\n')}`); });
      expect(statuses).toHaveLength(12);
      await waitUntil('the summary to show it', () => /demo-homepage +us-east up +eu-west up +ap-south up/.test(output), 10_000);

      const exited = once(fleet, 'exit');
      fleet.kill('SIGINT');
      const [code] = await exited;
      expect(code, output).toBe(0);
      expect(output).toContain('stopped.');
      expect(children.filter(alive)).toEqual([]);
    } finally {
      // On a failure, stop the fleet as a user would; only if that hangs, kill it and what it started.
      if (fleet.exitCode === null) {
        const exited = once(fleet, 'exit');
        fleet.kill('SIGINT');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
        if (fleet.exitCode === null) fleet.kill('SIGKILL');
      }
      for (const pid of children.filter(alive)) process.kill(pid, 'SIGKILL');
    }
  }, 170_000);
});
