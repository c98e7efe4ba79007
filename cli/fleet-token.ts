/**
 * The local fleet's own API token: an `admin` token named `fleet`, made directly in the fleet's Redis
 * (earlier `fleet` tokens are revoked, so one stays active), used to deploy the examples and printed
 * for the user's own `lookout deploy --token …` calls.
 */
import { Redis } from 'ioredis';
import { DEFAULT_PREFIX } from '../checks/keys.ts';
import { TokenStore } from '../coordinator/http/tokens.ts';

export const FLEET_TOKEN_NAME = 'fleet';

export async function createFleetToken(redisUrl: string, prefix = DEFAULT_PREFIX): Promise<string> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5_000 });
  redis.on('error', () => { /* the failing command reports it */ });
  try {
    await redis.connect();
    const store = new TokenStore({ redis, prefix });
    for (const token of await store.list()) {
      if (token.name === FLEET_TOKEN_NAME && token.revokedAt === null) await store.revoke(token.id);
    }
    return (await store.create({ name: FLEET_TOKEN_NAME, scopes: ['admin'] })).token;
  } finally {
    redis.disconnect();
  }
}
