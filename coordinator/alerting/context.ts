/**
 * What the parts of alert delivery share (handoff.ts enqueues, sender.ts sends, delivery.ts composes and
 * stops them): the validated channels and routes, the connections, and the settings.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Agent } from 'undici';
import { CodedError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { ChannelConfig } from './channels/index.ts';
import type { DeliveryJobData, DeliveryResult } from './handoff.ts';
import type { Routes } from './routing.ts';
import type { DeliveryThreads } from './threads.ts';

/** Stable codes of the errors delivery throws (dead-letter errors come from dead-letters.ts). */
export type DeliveryErrorCode = 'INVALID_CHANNEL_CONFIG' | 'INVALID_ROUTES' | 'DELIVERY_STOPPED';

export class DeliveryError extends CodedError<DeliveryErrorCode> {
  /** Every problem found, for `INVALID_CHANNEL_CONFIG` and `INVALID_ROUTES`. */
  readonly problems: string[];
  constructor(code: DeliveryErrorCode, message: string, problems: string[] = []) {
    super(code, message);
    this.problems = problems;
  }
}

export type DeliveryOutcome = 'sent' | 'retry' | 'failed' | 'duplicate' | 'superseded';

export interface DeliveryContext {
  byName: ReadonlyMap<string, ChannelConfig>;
  routes: Routes;
  /** Whether any route matches on tags (only then are a check's tags looked up). */
  routesUseTags: boolean;
  checkTags: (checkId: string) => Promise<readonly string[]>;
  prefix: string;
  redis: Redis;
  queue: Queue<DeliveryJobData, DeliveryResult, string>;
  threads: DeliveryThreads;
  dispatcher: Agent;
  log: Logger;
  count: (channel: string, outcome: DeliveryOutcome) => void;
  sentTtlSeconds: number;
  deadLetterTtlSeconds: number;
  dashboardUrl: string | undefined;
  /** True once `stop()` was called. */
  stopping: () => boolean;
}
