/**
 * What `lookout region add` prints: the agent's settings as environment lines (standard output) and the
 * `docker run` line that starts an agent from them (standard error). Pure functions; the command itself
 * runs against a real, ACL'd Redis in test/e2e/trust.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { dockerRunLine, envLines } from '../../cli/region.ts';

describe('lookout region add output', () => {
  it.each([
    { tls: false, expected: 'docker run -d --name lookout-agent-eu-west --restart unless-stopped --env-file eu-west.env -v lookout-spool-eu-west:/var/lib/lookout lookout agent' },
    {
      tls: true,
      expected: 'docker run -d --name lookout-agent-eu-west --restart unless-stopped --env-file eu-west.env -v lookout-spool-eu-west:/var/lib/lookout -v "$PWD/ca.pem:/etc/lookout/ca.pem:ro" -e LOOKOUT_REDIS_CA=/etc/lookout/ca.pem lookout agent',
    },
  ])('prints the docker run line for the region (TLS: $tls)', ({ tls, expected }) => {
    expect(dockerRunLine('eu-west', tls)).toBe(expected);
  });

  it('gives the agent its own user at the agents\' address, lines docker --env-file and Node --env-file both read', () => {
    const lines = envLines({
      region: 'eu-west', user: 'lookout-agent-eu-west', password: 'p@ss/word', target: { url: 'redis://:admin@10.0.0.5:6379' },
      agentUrl: 'redis://redis.example.com:6380', prefix: 'lookout', publicKey: 'KEY',
    });
    expect(lines).toEqual([
      'LOOKOUT_REGION=eu-west',
      'LOOKOUT_REDIS_URL=redis://lookout-agent-eu-west:p%40ss%2Fword@redis.example.com:6380',
      'LOOKOUT_JOB_PUBLIC_KEY=KEY',
      expect.stringMatching(/^# lookout \d/),
    ]);
    // KEY=value with no spaces, quotes or export: the one format both readers agree on.
    for (const line of lines.filter((l) => !l.startsWith('#'))) expect(line).toMatch(/^[A-Z_]+=\S+$/);
  });
});
