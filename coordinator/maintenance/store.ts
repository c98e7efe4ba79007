/**
 * Maintenance windows in Redis: one hash (id → JSON) and a revision counter bumped with every change in
 * the same MULTI, so that readers (every ingest and sweep asks "is this check in maintenance?") cache
 * the parsed windows and pay one small GET per question. Stored entries are validated on read; a bad one
 * is skipped (and logged), never trusted.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { maintenanceKey, maintenanceRevisionKey } from '../../checks/keys.ts';
import type { Logger } from '../../lib/log.ts';
import { StoredMaintenanceWindow, type MaintenanceInput, type MaintenanceWindow } from './maintenance.ts';

/** Most windows stored: a guard against a runaway client. */
export const MAX_MAINTENANCE_WINDOWS = 1_000;

export class MaintenanceStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #logger: Logger | null;
  readonly #now: () => number;
  #cache: { revision: number; windows: MaintenanceWindow[] } | null = null;

  constructor(options: { redis: Redis; prefix: string; logger?: Logger; now?: () => number }) {
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#logger = options.logger ?? null;
    this.#now = options.now ?? Date.now;
  }

  /** Every stored window (cached per revision), oldest first. */
  async list(): Promise<MaintenanceWindow[]> {
    return (await this.listAt()).windows;
  }

  /**
   * The windows as of the last read, without asking Redis (null before any read). They may be out of
   * date: a caller must confirm the revision where it acts on them (ingest fences its write on
   * {@link maintenanceRevisionKey} holding that revision, and reads again when it does not).
   */
  peek(): { revision: number; windows: MaintenanceWindow[] } | null {
    return this.#cache;
  }

  /** {@link list}, with the revision the windows belong to. */
  async listAt(): Promise<{ revision: number; windows: MaintenanceWindow[] }> {
    const revision = Number(await this.#redis.get(maintenanceRevisionKey(this.#prefix)) ?? 0);
    if (this.#cache?.revision === revision) return this.#cache;
    const replies = await this.#redis.multi().get(maintenanceRevisionKey(this.#prefix)).hgetall(maintenanceKey(this.#prefix)).exec();
    if (!replies || replies[0]![0] || replies[1]![0]) throw replies?.[0]?.[0] ?? replies?.[1]?.[0] ?? new Error('maintenance read aborted');
    const windows = Object.entries(replies[1]![1] as Record<string, string>).flatMap(([id, raw]) => this.#parse(id, raw))
      .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    const read = { revision: Number(replies[0]![1] ?? 0), windows };
    if (!this.#cache || read.revision >= this.#cache.revision) this.#cache = read;
    return read;
  }

  async get(id: string): Promise<MaintenanceWindow | null> {
    return (await this.list()).find((w) => w.id === id) ?? null;
  }

  /** Stores a validated input as a new window; null when the store is full. */
  async create(input: MaintenanceInput): Promise<MaintenanceWindow | null> {
    if (await this.#redis.hlen(maintenanceKey(this.#prefix)) >= MAX_MAINTENANCE_WINDOWS) return null;
    const now = this.#now();
    const window: MaintenanceWindow = { id: `mw-${now.toString(36)}-${randomBytes(3).toString('hex')}`, createdAt: now, ...input };
    await this.#redis.multi()
      .hset(maintenanceKey(this.#prefix), window.id, JSON.stringify(window))
      .incr(maintenanceRevisionKey(this.#prefix))
      .exec();
    return window;
  }

  /** Removes one window; false when there was none with that id. */
  async remove(id: string): Promise<boolean> {
    const replies = await this.#redis.multi().hdel(maintenanceKey(this.#prefix), id).incr(maintenanceRevisionKey(this.#prefix)).exec();
    return Number(replies?.[0]?.[1] ?? 0) > 0;
  }

  #parse(id: string, raw: string): MaintenanceWindow[] {
    let json: unknown;
    try { json = JSON.parse(raw); } catch { json = undefined; }
    const parsed = StoredMaintenanceWindow.safeParse(json);
    if (parsed.success && parsed.data.id === id) return [parsed.data];
    this.#logger?.error('maintenance.invalid_entry', { id });
    return [];
  }
}
