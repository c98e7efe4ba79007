/** `--canary-interval` / `LOOKOUT_CANARY_INTERVAL`: a duration, or `0` / `off` to disable canaries. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_COORDINATOR_CONFIG, coordinatorHelp, parseCoordinatorConfig } from '../../coordinator/config.ts';

const parse = (argv: string[], env: Record<string, string> = {}) => parseCoordinatorConfig(argv, env);

describe('canary interval option', () => {
  it.each([
    ['the default', [], {}, 10_000],
    ['a duration', ['--canary-interval', '200ms'], {}, 200],
    ['the = form', ['--canary-interval=1m'], {}, 60_000],
    ['"off"', ['--canary-interval', 'off'], {}, 0],
    ['"0"', ['--canary-interval', '0'], {}, 0],
    ['the environment', [], { LOOKOUT_CANARY_INTERVAL: 'off' }, 0],
    ['a flag over the environment', ['--canary-interval', '5s'], { LOOKOUT_CANARY_INTERVAL: 'off' }, 5_000],
  ])('reads %s', (_name, argv, env, expected) => {
    expect(parse(argv, env)).toEqual({ config: expect.objectContaining({ canaryIntervalMs: expected }) });
  });

  it.each([
    ['--canary-interval', ['--canary-interval', '10'], {}, '--canary-interval: expected 0, "off" or a duration like "10s" or "500ms", got "10"'],
    ['too short', ['--canary-interval', '50ms'], {}, '--canary-interval: expected 0, "off" or a duration from 100ms to 1h, got "50ms"'],
    ['from the environment', [], { LOOKOUT_CANARY_INTERVAL: 'never' }, '--canary-interval: expected 0, "off" or a duration like "10s" or "500ms", got "never" (from LOOKOUT_CANARY_INTERVAL)'],
  ])('refuses %s, naming where the value came from', (_name, argv, env, problem) => {
    expect(parse(argv, env)).toEqual({ errors: [problem] });
  });

  it('is documented in --help with its default', () => {
    expect(DEFAULT_COORDINATOR_CONFIG.canaryIntervalMs).toBe(10_000);
    expect(coordinatorHelp).toMatch(/--canary-interval <dur\|off>[\s\S]*default: 10s; env: LOOKOUT_CANARY_INTERVAL/);
  });
});
