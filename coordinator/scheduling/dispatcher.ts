/**
 * Putting runs into regions' queues. Every run (scheduled, confirmation, manual) becomes one job of its
 * region's queue `checks.<region>`, signed (checks/signing.ts), added when it is due: agents' queues hold
 * no BullMQ delays, because BullMQ promotes delayed jobs by the clock of the worker that happens to
 * fetch, and an agent's clock must never move a schedule. A run due later (a confirmation after its
 * back-off) waits in a sorted set of the coordinators (`dueRunsKey`) until {@link RunDispatcher.flushDue}
 * moves it.
 *
 * Exactly once per slot, with any number of coordinators: before adding a run, a coordinator claims its
 * slot (a Lua script raises `issuedSlotsKey[pair]` only if the slot is newer), and only the winner adds
 * the job, whose id is deterministic besides. A run whose job already completed and was removed is
 * therefore never added again by a slower coordinator.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { CheckJob, SCHEMA_VERSION, type RunTrigger, type StoredCheck } from '../../checks/contract.ts';
import { checkQueueName, dueRunsKey, issuedSlotsKey } from '../../checks/keys.ts';
import { definitionDigest, type JobSigner } from '../../checks/signing.ts';
import type { Logger } from '../../lib/log.ts';
import { luaScript } from '../../lib/lua.ts';
import { describeZodError } from '../../lib/zod-problems.ts';
import { expiresAtFor, pairId, runJobId } from './slots.ts';

/** One run to put in a region's queue. */
export interface RunRequest {
  check: StoredCheck;
  region: string;
  scheduledAt: number;
  trigger: RunTrigger;
}

/**
 * Finished check jobs kept per queue: by count, and by bytes, since every job carries its check's
 * definition (a browser check's script is up to `MAX_SCRIPT_BYTES`). A job's own `removeOnComplete`
 * count trims the queue's finished set when it finishes, so a big job keeps few.
 */
export const FINISHED_JOBS_KEPT = 50;
export const FINISHED_JOB_BYTES_KEPT = 2 * 1024 * 1024;
const FINISHED_JOBS_AGE_S = 3_600;

/** Raises the newest issued slot of a claim field; 1 when this caller claimed `slot`, 0 when it was not newer. */
const claimSlot = luaScript({
  name: 'lookoutClaimSlot',
  keys: ['issued'],
  args: ['field', 'slot'],
  body: `
local current = tonumber(redis.call('HGET', issued, field) or '-1')
if current >= tonumber(slot) then return 0 end
redis.call('HSET', issued, field, slot)
return 1
`,
});

/** Takes the runs due by `now` (at most `limit`) out of the due set, returning them. */
const takeDueRuns = luaScript({
  name: 'lookoutTakeDueRuns',
  keys: ['due'],
  args: ['now', 'limit'],
  body: `
local runs = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, limit)
if #runs > 0 then redis.call('ZREM', due, unpack(runs)) end
return runs
`,
});

/** What a later run stores in the due set: enough to rebuild its request from the registry. */
interface DueRun {
  checkId: string;
  version: number;
  region: string;
  scheduledAt: number;
  trigger: RunTrigger;
}

export interface RunDispatcherOptions {
  redis: Redis;
  prefix: string;
  signer: JobSigner;
  logger: Logger;
  /** The current definition of a check (for runs taken from the due set). */
  lookUp: (checkId: string) => Promise<StoredCheck | null>;
  /** Told of the runs added to queues, after they were added; a failure is logged. @defaultValue nothing */
  onIssued?: (runs: IssuedRun[]) => Promise<unknown>;
}

/** A run added to its region's queue: what names its slot. */
export interface IssuedRun {
  checkId: string;
  region: string;
  scheduledAt: number;
  trigger: RunTrigger;
}

export class RunDispatcher {
  readonly #o: RunDispatcherOptions;
  readonly #queues = new Map<string, Queue>();

  constructor(options: RunDispatcherOptions) {
    this.#o = options;
  }

  /** The queue of one region (made on first use, on the coordinator's connection). */
  queue(region: string): Queue {
    let queue = this.#queues.get(region);
    if (!queue) {
      queue = new Queue(checkQueueName(region), { connection: this.#o.redis, prefix: this.#o.prefix });
      queue.on('error', (error) => this.#o.logger.warn('scheduler.queue_error', { region, error }));
      this.#queues.set(region, queue);
    }
    return queue;
  }

  /** The signed job of one run; null (logged) when the definition does not fit the contract. */
  jobFor(request: RunRequest): CheckJob | null {
    const { check, region, scheduledAt, trigger } = request;
    const digest = definitionDigest(check.definition);
    const expiresAt = expiresAtFor(scheduledAt, check.definition.frequencyMs);
    const signature = this.#o.signer.signRun({
      region, checkId: check.definition.id, checkVersion: check.version, trigger, scheduledAt, expiresAt, definitionDigest: digest,
    });
    const parsed = CheckJob.safeParse({
      schemaVersion: SCHEMA_VERSION, region, checkVersion: check.version, check: check.definition, trigger,
      scheduledAt, expiresAt, definitionDigest: digest, signature,
    });
    if (!parsed.success) {
      this.#o.logger.error('scheduler.invalid_job', { checkId: check.definition.id, region, problems: describeZodError(parsed.error) });
      return null;
    }
    return parsed.data;
  }

  /**
   * Adds runs now, each once: its slot is claimed first (see the module comment), and only claimed runs
   * are added. Returns the runs this coordinator added.
   */
  async dispatch(requests: readonly RunRequest[]): Promise<RunRequest[]> {
    const won = await this.claim(requests);
    await this.add(won);
    return won;
  }

  /** Claims the slots of runs (see the module comment); returns the runs this coordinator won, to {@link add}. */
  async claim(requests: readonly RunRequest[]): Promise<RunRequest[]> {
    if (requests.length === 0) return [];
    const claims = await Promise.all(requests.map((r) => claimSlot(this.#o.redis, { issued: issuedSlotsKey(this.#o.prefix) }, {
      field: claimField(r.check.definition.id, r.region, r.trigger), slot: r.scheduledAt,
    })));
    return requests.filter((_, i) => claims[i] === 1);
  }

  /**
   * Adds the jobs of runs whose slots this coordinator claimed. Safe to call again for the same runs (a
   * failed add, retried): job ids are deterministic.
   */
  async add(won: readonly RunRequest[]): Promise<void> {
    if (won.length === 0) return;
    const byRegion = new Map<string, RunRequest[]>();
    for (const request of won) byRegion.set(request.region, [...(byRegion.get(request.region) ?? []), request]);
    const added: RunRequest[] = [];
    await Promise.all([...byRegion.entries()].map(async ([region, runs]) => {
      const jobs = runs.flatMap((run) => {
        const data = this.jobFor(run);
        if (!data) return [];
        added.push(run);
        const kept = Math.max(1, Math.min(FINISHED_JOBS_KEPT, Math.floor(FINISHED_JOB_BYTES_KEPT / jobBytes(data))));
        return [{
          name: run.check.definition.id,
          data,
          opts: {
            jobId: runJobId(run.check.definition.id, region, run.scheduledAt, run.trigger),
            attempts: 1,
            removeOnComplete: { count: kept, age: FINISHED_JOBS_AGE_S },
            removeOnFail: { count: kept, age: FINISHED_JOBS_AGE_S },
          },
        }];
      });
      if (jobs.length > 0) await this.queue(region).addBulk(jobs);
    }));
    if (added.length > 0 && this.#o.onIssued) {
      const issued = added.map((r) => ({ checkId: r.check.definition.id, region: r.region, scheduledAt: r.scheduledAt, trigger: r.trigger }));
      await this.#o.onIssued(issued).catch((error: unknown) => this.#o.logger.warn('scheduler.on_issued_failed', { runs: issued.length, error }));
    }
  }

  /** Keeps runs due later (at `dueAt`, coordinators' Redis time) in the due set; each is added by {@link flushDue}. */
  async later(runs: ReadonlyArray<RunRequest & { dueAt: number }>): Promise<void> {
    if (runs.length === 0) return;
    const members = runs.flatMap((run) => {
      const due: DueRun = { checkId: run.check.definition.id, version: run.check.version, region: run.region, scheduledAt: run.scheduledAt, trigger: run.trigger };
      return [run.dueAt, JSON.stringify(due)];
    });
    await this.#o.redis.zadd(dueRunsKey(this.#o.prefix), ...members);
  }

  /**
   * Adds the runs due by `now`. A run of a check that was removed or changed version since it was
   * planned is dropped (its plan belonged to the old definition). Returns how many were added.
   */
  async flushDue(now: number, limit = 1_000): Promise<number> {
    const raw = await takeDueRuns(this.#o.redis, { due: dueRunsKey(this.#o.prefix) }, { now, limit }) as string[];
    const requests: RunRequest[] = [];
    for (const text of raw) {
      const due = parseDueRun(text);
      if (!due) { this.#o.logger.warn('scheduler.invalid_due_run', { run: text.slice(0, 200) }); continue; }
      const check = await this.#o.lookUp(due.checkId);
      if (!check || check.version !== due.version || !check.definition.regions.includes(due.region)) continue;
      requests.push({ check, region: due.region, scheduledAt: due.scheduledAt, trigger: due.trigger });
    }
    return (await this.dispatch(requests)).length;
  }

  /** Forgets the claims of pairs that no longer exist, so their fields do not pile up. */
  async forgetPairs(pairs: ReadonlyArray<{ checkId: string; region: string }>): Promise<void> {
    if (pairs.length === 0) return;
    const fields = pairs.flatMap(({ checkId, region }) => ['schedule', 'confirmation', 'manual'].map((t) => claimField(checkId, region, t)));
    await this.#o.redis.hdel(issuedSlotsKey(this.#o.prefix), ...fields);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
    this.#queues.clear();
  }
}

/** Each trigger claims its own slots: a confirmation does not stop the next scheduled run, nor the reverse. */
const claimField = (checkId: string, region: string, trigger: string): string =>
  trigger === 'schedule' ? pairId(checkId, region) : `${pairId(checkId, region)}#${trigger}`;

/** A job's size, roughly: its definition dominates. */
const jobBytes = (job: CheckJob): number => Math.max(1, Buffer.byteLength(JSON.stringify(job.check)) + 400);

function parseDueRun(text: string): DueRun | null {
  try {
    const value = JSON.parse(text) as Partial<DueRun>;
    const ok = typeof value.checkId === 'string' && Number.isInteger(value.version) && typeof value.region === 'string'
      && Number.isInteger(value.scheduledAt) && (value.trigger === 'confirmation' || value.trigger === 'schedule' || value.trigger === 'manual');
    return ok ? value as DueRun : null;
  } catch {
    return null;
  }
}
