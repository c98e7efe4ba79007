/**
 * Stores a browser run's artifacts where the coordinator can serve them. Agents reach the coordinator
 * only through Redis, so each artifact is a Redis hash under `artifactKey(prefix, runId, name)` with an
 * expiry; the run's result lists what was stored.
 *
 * Redis runs with `noeviction`, so filling it would stop the queues: storage is bounded four ways, each
 * a skip with a note in the result rather than an error: a per-artifact cap, a per-run cap, at most one
 * run's artifacts per (check, region) per interval (a failing check repeats the same failure), and a
 * byte budget per hour shared by every agent.
 */
import type { Redis } from 'ioredis';
import type { ArtifactRef } from '../../checks/contract.ts';
import { artifactBytesKey, artifactGateKey, artifactIndexKey, artifactKey, regionOfRunId } from '../../checks/keys.ts';
import { planArtifacts, type Artifact, type ArtifactOwner, type ArtifactSink, type StoredArtifacts } from './sink.ts';

export interface RedisArtifactSinkOptions {
  /** BullMQ prefix of the deployment. */
  prefix: string;
  /** How long artifacts stay. @defaultValue 86400 (one day) */
  ttlSeconds?: number;
  /** Larger artifacts are skipped. @defaultValue 5242880 (5 MiB) */
  maxArtifactBytes?: number;
  /** Artifacts of one run beyond this total are skipped. @defaultValue 12582912 (12 MiB) */
  maxRunBytes?: number;
  /** Store artifacts of one (check, region) at most once per this many seconds. @defaultValue 300 */
  minIntervalSeconds?: number;
  /** Bytes all agents together may store per clock hour. @defaultValue 67108864 (64 MiB) */
  maxBytesPerHour?: number;
  /** Deadline of the whole store (Redis may be away). @defaultValue 3000 */
  timeoutMs?: number;
}

const MiB = 1024 * 1024;

export function createRedisArtifactSink(redis: Redis, options: RedisArtifactSinkOptions): ArtifactSink {
  const ttlSeconds = options.ttlSeconds ?? 86_400;
  const maxArtifactBytes = options.maxArtifactBytes ?? 5 * MiB;
  const maxRunBytes = options.maxRunBytes ?? 12 * MiB;
  const minIntervalSeconds = options.minIntervalSeconds ?? 300;
  const maxBytesPerHour = options.maxBytesPerHour ?? 64 * MiB;
  const timeoutMs = options.timeoutMs ?? 3_000;
  const { prefix } = options;

  async function store(owner: ArtifactOwner, artifacts: Artifact[]): Promise<StoredArtifacts> {
    const { keep, notes } = planArtifacts(artifacts, maxArtifactBytes, maxRunBytes);
    if (keep.length === 0) return { stored: [], notes };
    // The coordinator finds a run's artifacts by the region its id starts with (checks/keys.ts).
    if (regionOfRunId(owner.runId) !== owner.region) return { stored: [], notes: [...notes, `artifacts not stored: run id ${owner.runId} is not of region ${owner.region}`] };
    if (minIntervalSeconds > 0) {
      const gate = await redis.set(artifactGateKey(prefix, owner.region, owner.checkId), owner.runId, 'EX', minIntervalSeconds, 'NX');
      if (gate !== 'OK') return { stored: [], notes: [...notes, `artifacts not stored: this check stored some in ${owner.region} less than ${minIntervalSeconds}s ago`] };
    }
    const bytes = keep.reduce((sum, a) => sum + a.data.byteLength, 0);
    const hourKey = artifactBytesKey(prefix, owner.region, Math.floor(Date.now() / 3_600_000));
    const used = await redis.incrby(hourKey, bytes);
    await redis.expire(hourKey, 7_200);
    if (used > maxBytesPerHour) {
      await redis.decrby(hourKey, bytes);
      return { stored: [], notes: [...notes, `artifacts not stored: the hourly artifact budget of ${maxBytesPerHour} bytes is spent`] };
    }
    const createdAt = Date.now();
    const multi = redis.multi();
    const stored: ArtifactRef[] = [];
    for (const artifact of keep) {
      const key = artifactKey(prefix, owner.region, owner.runId, artifact.name);
      multi.hset(key, { data: artifact.data, contentType: artifact.contentType, bytes: String(artifact.data.byteLength), createdAt: String(createdAt) });
      multi.expire(key, ttlSeconds);
      multi.sadd(artifactIndexKey(prefix, owner.region, owner.runId), artifact.name);
      stored.push({ name: artifact.name, key, bytes: artifact.data.byteLength, contentType: artifact.contentType });
    }
    multi.expire(artifactIndexKey(prefix, owner.region, owner.runId), ttlSeconds);
    const replies = await multi.exec();
    const failed = replies?.find(([error]) => error !== null)?.[0];
    if (!replies || failed) throw new Error(`redis refused the artifacts: ${failed?.message ?? 'transaction aborted'}`);
    return { stored, notes };
  }

  return {
    async store(owner, artifacts) {
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          store(owner, artifacts),
          new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs}ms`)), timeoutMs); }),
        ]);
      } catch (error) {
        return { stored: [], notes: [`artifacts not stored: ${(error as Error).message}`] };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
