/**
 * Dead letters: deliveries that failed for good (a permanent rejection, or every attempt used). They
 * are the failed jobs of the `alerts` queue, kept for `deadLetterTtlSeconds`; listing them and sending
 * one again needs only the queue, so any coordinator's API can do it, with or without channels of its
 * own (a retried delivery is sent by whichever coordinator's worker takes it).
 */
import type { Queue } from 'bullmq';
import { z } from 'zod';
import { parseAlertEvent } from '../events/catalog.ts';
import { summarize } from '../events/catalog.ts';
import { CodedError } from '../../lib/errors.ts';

/** A delivery that failed for good, as shown by the API. */
export interface DeadLetter {
  deliveryId: string;
  channel: string;
  eventId: string;
  eventType: string;
  /** One-line summary of the event, as the channel would have shown it. */
  summary: string;
  attemptsMade: number;
  /** `CODE: message` of the last attempt, e.g. `RECEIVER_REJECTED: receiver answered 400 Bad Request: ...`. */
  lastError: string;
  /** Epoch ms of the last attempt. */
  failedAt: number | null;
}

export type DeadLetterErrorCode = 'DEAD_LETTER_NOT_FOUND' | 'NOT_A_DEAD_LETTER';

export class DeadLetterError extends CodedError<DeadLetterErrorCode> {}

const JobShape = z.object({ channel: z.string(), event: z.unknown() });

/** Dead letters, newest first, `start`..`end` inclusive (0-based). */
export async function listDeadLetters(queue: Queue, { start = 0, end = 99 }: { start?: number; end?: number } = {}): Promise<DeadLetter[]> {
  const jobs = await queue.getFailed(start, end);
  return jobs.filter((job) => job !== undefined).map((job) => {
    const shape = JobShape.safeParse(job.data);
    const event = shape.success ? parseAlertEvent(shape.data.event) : null;
    return {
      deliveryId: job.id ?? '',
      channel: shape.success ? shape.data.channel : String((job.data as { channel?: unknown } | null)?.channel ?? 'unknown'),
      eventId: event?.success ? event.data.id : 'unknown',
      eventType: event?.success ? event.data.type : 'unknown',
      summary: event?.success ? summarize(event.data) : 'unreadable event',
      attemptsMade: job.attemptsMade,
      lastError: job.failedReason ?? '',
      failedAt: job.finishedOn ?? null,
    };
  });
}

/**
 * Queues a dead letter again with a fresh set of attempts. Throws `DEAD_LETTER_NOT_FOUND` for an
 * unknown id and `NOT_A_DEAD_LETTER` for a delivery that is not failed (sent, queued, or retried by
 * someone else a moment ago).
 */
export async function retryDeadLetter(queue: Queue, deliveryId: string): Promise<void> {
  const job = await queue.getJob(deliveryId);
  if (!job) throw new DeadLetterError('DEAD_LETTER_NOT_FOUND', `no delivery with id "${deliveryId}"`);
  const state = await job.getState();
  if (state !== 'failed') throw new DeadLetterError('NOT_A_DEAD_LETTER', `delivery "${deliveryId}" is ${state}, not failed`);
  try {
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
  } catch (error) {
    // Lost a race with another retry: the job is no longer failed.
    throw new DeadLetterError('NOT_A_DEAD_LETTER', `delivery "${deliveryId}" could not be retried: ${(error as Error).message}`);
  }
}
