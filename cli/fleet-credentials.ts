/**
 * The local fleet's credentials, made directly in its Redis with the admin URL, so that the fleet runs
 * the way production does (the default path is the secure path):
 * - an `admin` API token named `fleet` (earlier `fleet` tokens are revoked, so one stays active), used to
 *   deploy the examples and printed for the user's own `lookout deploy --token …` calls;
 * - each region's own Redis user (`lookout region add`), with a new password on every start (Redis
 *   keeps only hashes, so the last one cannot be read back), for that region's agent;
 * - the job verification key the agents need.
 */
import { DEFAULT_PREFIX } from '../checks/keys.ts';
import { TokenStore } from '../coordinator/http/tokens.ts';
import { RegionStore } from '../coordinator/regions/store.ts';
import { loadJobSigner } from '../coordinator/scheduling/signing-key.ts';
import { silentLogger } from '../lib/log.ts';
import { connectRedis } from '../lib/redis.ts';

export const FLEET_TOKEN_NAME = 'fleet';

export interface FleetCredentials {
  /** The fleet's admin API token. */
  token: string;
  /** Per region, the Redis URL of its agent (the region's own user). */
  agentRedisUrls: Map<string, string>;
  /** `LOOKOUT_JOB_PUBLIC_KEY` of the agents. */
  jobPublicKey: string;
}

export async function prepareFleetCredentials(adminUrl: string, regions: readonly string[], prefix = DEFAULT_PREFIX): Promise<FleetCredentials> {
  const redis = connectRedis(adminUrl, { name: 'lookout-fleet', logger: silentLogger });
  try {
    await redis.ping();
    const tokens = new TokenStore({ redis, prefix });
    for (const token of await tokens.list()) {
      if (token.name === FLEET_TOKEN_NAME && token.revokedAt === null) await tokens.revoke(token.id);
    }
    const { token } = await tokens.create({ name: FLEET_TOKEN_NAME, scopes: ['admin'] });
    const store = new RegionStore({ redis, prefix });
    const agentRedisUrls = new Map<string, string>();
    for (const region of regions) {
      if (await store.get(region)) await store.remove(region);
      const { record, password } = await store.add(region);
      const url = new URL(adminUrl);
      url.username = encodeURIComponent(record.user);
      url.password = encodeURIComponent(password);
      agentRedisUrls.set(region, url.toString());
    }
    const signer = await loadJobSigner(redis, prefix);
    return { token, agentRedisUrls, jobPublicKey: signer.publicKey };
  } finally {
    redis.disconnect();
  }
}
