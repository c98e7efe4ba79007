/**
 * {@link CanarySender}: every canary interval, one `CanaryJob` into each region's queue (regions with
 * checks or live agents). The job id is deterministic per (region, slot), so several coordinators add
 * one; a BullMQ deduplication id per region keeps at most one canary waiting, so a region nobody
 * consumes holds one canary, not one per slot. Canaries go to the head of the queue (`lifo`): they
 * measure whether the region's workers fetch at all, not how long its backlog is. What the answers mean
 * is decided in canary.ts; canary-store.ts keeps the regions' state.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { CANARY_JOB_NAME, CanaryJob, SCHEMA_VERSION } from '../../checks/contract.ts';
import { canarySentKey } from '../../checks/keys.ts';
import { describeZodError } from '../../lib/zod-problems.ts';
import type { Logger } from '../../lib/log.ts';
import type { JobSigner } from '../../checks/signing.ts';
import { stallWindowMs, type CanarySent } from './canary.ts';
import { repeat, type Repeating } from '../../lib/repeat.ts';

/** Finished canaries are kept only a little: enough for a late coordinator's add of the same slot to find its job. */
export const CANARY_JOB_OPTIONS = {
  removeOnComplete: { count: 10 },
  removeOnFail: { count: 10 },
  attempts: 1,
  lifo: true,
} as const;

export const canaryJobId = (region: string, slot: number): string => `canary.${region}.${slot}`;
/** BullMQ deduplication id: while one canary of the region is unfinished, adding another adds nothing. */
export const canaryDeduplicationId = (region: string): string => `canary.${region}`;

export interface CanarySenderOptions {
  redis: Redis;
  prefix: string;
  /** Canary interval; must be positive (0, "off", means no sender is started). */
  intervalMs: number;
  /** The queue of one region (the scheduler's, so that no extra connections are opened). */
  queueFor: (region: string) => Queue;
  /** Regions to send to: the regions the coordinators watch that have live agents. */
  regions: () => Promise<Iterable<string>>;
  /** Signs each canary: agents answer only canaries a coordinator signed. */
  signer: JobSigner;
  logger: Logger;
  now?: () => number;
}

export class CanarySender {
  readonly #o: CanarySenderOptions;
  readonly #now: () => number;
  #loop: Repeating | null = null;
  #failing = false;

  constructor(options: CanarySenderOptions) {
    if (!(options.intervalMs > 0)) throw new RangeError(`canary interval must be positive, got ${options.intervalMs}`);
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Sends now, then at the start of every following slot, until {@link stop}. */
  start(): void {
    const { intervalMs } = this.#o;
    this.#loop ??= repeat(
      async () => {
        await this.sendOnce();
        if (this.#failing) this.#o.logger.info('canary.send_recovered');
        this.#failing = false;
      },
      () => intervalMs - (this.#now() % intervalMs),
      (error) => {
        // One line per failure streak: an outage would otherwise log every interval.
        if (!this.#failing) this.#o.logger.warn('canary.send_failed', { error });
        this.#failing = true;
      },
    );
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  /** Sends this slot's canary to every region; returns the regions sent to. */
  async sendOnce(): Promise<string[]> {
    const { redis, prefix, intervalMs } = this.#o;
    const now = this.#now();
    const slot = now - (now % intervalMs);
    const regions = [...new Set(await this.#o.regions())].sort();
    const sent: string[] = [];
    for (const region of regions) {
      const signature = this.#o.signer.signCanary({ region, slot, intervalMs });
      const parsed = CanaryJob.safeParse({ schemaVersion: SCHEMA_VERSION, kind: 'canary', region, slot, intervalMs, sentAt: now, signature });
      if (!parsed.success) {
        this.#o.logger.error('canary.invalid_job', { region, problems: describeZodError(parsed.error) });
        continue;
      }
      await this.#o.queueFor(region).add(CANARY_JOB_NAME, parsed.data, {
        ...CANARY_JOB_OPTIONS, jobId: canaryJobId(region, slot), deduplication: { id: canaryDeduplicationId(region) },
      });
      // Written after the add: "canaries are being sent" must never be claimed for one that was not.
      const record: CanarySent = { intervalMs, slot, sentAt: now };
      await redis.set(canarySentKey(prefix, region), JSON.stringify(record), 'PX', stallWindowMs(intervalMs));
      sent.push(region);
    }
    return sent;
  }
}
