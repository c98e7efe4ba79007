/** The background loop of the sweeper, the unanswered-run watch and the canary sender (lib/repeat.ts). */
import { describe, expect, it } from 'vitest';
import { repeat } from '../../lib/repeat.ts';
import { waitUntil } from '../support/wait.ts';

describe('repeat', () => {
  it('runs at once, never two runs at a time, goes on after a run that throws, and stop waits for the run in flight', async () => {
    let running = 0;
    let mostAtOnce = 0;
    let runs = 0;
    const errors: string[] = [];
    let releaseLast: (() => void) | null = null;
    const loop = repeat(async () => {
      runs++;
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      try {
        if (runs === 2) throw new Error('second run fails');
        // The fourth run is held until the test lets it end, to see stop() wait for it.
        if (runs === 4) await new Promise<void>((resolve) => { releaseLast = resolve; });
        else await new Promise((resolve) => setImmediate(resolve));
      } finally {
        running--;
      }
    }, () => 1, (error) => errors.push((error as Error).message));

    await waitUntil('the fourth run in flight', () => releaseLast !== null, 5_000, 5);
    let stopped = false;
    const stopping = loop.stop().then(() => { stopped = true; });
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    releaseLast!();
    await stopping;
    expect({ runs, mostAtOnce, errors, running }).toEqual({ runs: 4, mostAtOnce: 1, errors: ['second run fails'], running: 0 });
  });
});
