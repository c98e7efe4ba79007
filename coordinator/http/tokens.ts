/**
 * API tokens, kept in one Redis hash (`tokensKey`): id → record with the token's SHA-256, never the
 * token itself. A token is `lk_<id>_<secret>` with 256 random bits of secret, so a plain SHA-256 is
 * enough (no password-style stretching is needed for a value nobody chose). The token is shown once,
 * when created; revoking keeps the record (marked) so that listings and logs can still name it.
 *
 * Scopes nest: `admin` ⊇ `deploy` ⊇ `read`. `artifacts:read` stands apart: browser runs' screenshots,
 * traces and HARs show what a journey saw (account pages, personal data), so reading them takes that
 * scope (or `admin`), never `read` alone, and never `--public-read`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { CodedError } from '../../lib/errors.ts';
import { tokensKey } from '../../checks/keys.ts';

/** A token request that cannot be honoured (bad name or scope). */
export class TokenError extends CodedError<'INVALID_TOKEN_REQUEST'> {}

export const TOKEN_SCOPES = ['read', 'deploy', 'admin', 'artifacts:read'] as const;
export const TokenScope = z.enum(TOKEN_SCOPES);
export type TokenScope = z.infer<typeof TokenScope>;

/** The nested scopes' order; `artifacts:read` is outside it. */
const RANK: Partial<Record<TokenScope, number>> = { read: 1, deploy: 2, admin: 3 };

/** Whether a token holding `held` may use a route that needs `needed`. Pure. */
export function scopeAllows(held: readonly TokenScope[], needed: TokenScope): boolean {
  if (held.includes('admin') || held.includes(needed)) return true;
  const rank = RANK[needed];
  return rank !== undefined && held.some((scope) => (RANK[scope] ?? 0) >= rank);
}

export const TokenName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 _.@-]{0,63}$/, 'name must be 1-64 chars of letters, digits, " ", "_", ".", "@", "-"');

export const TokenRecord = z.object({
  id: z.string().regex(/^[a-f0-9]{12}$/),
  name: TokenName,
  scopes: z.array(TokenScope).min(1),
  /** Hex SHA-256 of the whole token. */
  hash: z.string().regex(/^[a-f0-9]{64}$/),
  createdAt: z.number().int().nonnegative(),
  revokedAt: z.number().int().nonnegative().nullable(),
});
export type TokenRecord = z.infer<typeof TokenRecord>;
/** A record as listed: everything but the hash. */
export type TokenInfo = Omit<TokenRecord, 'hash'>;

const TOKEN_FORMAT = /^lk_([a-f0-9]{12})_([A-Za-z0-9_-]{43})$/;

export type TokenCheck = { ok: true; token: TokenInfo } | { ok: false; code: 'TOKEN_INVALID' | 'TOKEN_REVOKED'; message: string };

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export class TokenStore {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #now: () => number;

  constructor(options: { redis: Redis; prefix: string; now?: () => number }) {
    this.#redis = options.redis;
    this.#key = tokensKey(options.prefix);
    this.#now = options.now ?? Date.now;
  }

  /** Creates a token; the returned `token` is the only copy there will ever be. Throws `INVALID_TOKEN_REQUEST`. */
  async create(input: { name: string; scopes: readonly string[] }): Promise<{ token: string; info: TokenInfo }> {
    const problems: string[] = [];
    const name = TokenName.safeParse(input.name);
    if (!name.success) problems.push(`name: ${name.error.issues[0]?.message}`);
    const scopes = z.array(TokenScope).min(1, 'at least one scope is needed').safeParse([...new Set(input.scopes)]);
    if (!scopes.success) problems.push(`scope: ${scopes.error.issues[0]?.message} (scopes: ${TOKEN_SCOPES.join(', ')})`);
    if (!name.success || !scopes.success) throw new TokenError('INVALID_TOKEN_REQUEST', problems.join('; '));
    for (;;) {
      const id = randomBytes(6).toString('hex');
      const token = `lk_${id}_${randomBytes(32).toString('base64url')}`;
      const record: TokenRecord = { id, name: name.data, scopes: scopes.data, hash: hashToken(token), createdAt: this.#now(), revokedAt: null };
      // HSETNX: a (vanishingly unlikely) id collision picks another id instead of replacing a token.
      if (await this.#redis.hsetnx(this.#key, id, JSON.stringify(record)) === 1) return { token, info: withoutHash(record) };
    }
  }

  /** Every token ever created, newest first, revoked ones included (marked). */
  async list(): Promise<TokenInfo[]> {
    const all = await this.#redis.hgetall(this.#key);
    return Object.values(all).flatMap((raw) => {
      const record = parseRecord(raw);
      return record ? [withoutHash(record)] : [];
    }).sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id));
  }

  /** Revokes a token: `revoked`, `already-revoked`, or `unknown`. */
  async revoke(id: string): Promise<'revoked' | 'already-revoked' | 'unknown'> {
    const raw = await this.#redis.hget(this.#key, id);
    const record = raw === null ? null : parseRecord(raw);
    if (!record) return 'unknown';
    if (record.revokedAt !== null) return 'already-revoked';
    await this.#redis.hset(this.#key, id, JSON.stringify({ ...record, revokedAt: this.#now() }));
    return 'revoked';
  }

  /** Checks a presented token: its format, that it exists, that its hash matches, that it is not revoked. */
  async verify(token: string): Promise<TokenCheck> {
    const match = TOKEN_FORMAT.exec(token);
    const invalid: TokenCheck = { ok: false, code: 'TOKEN_INVALID', message: 'the token is not valid' };
    if (!match) return invalid;
    const raw = await this.#redis.hget(this.#key, match[1]!);
    const record = raw === null ? null : parseRecord(raw);
    if (!record) return invalid;
    const presented = Buffer.from(hashToken(token), 'hex');
    if (!timingSafeEqual(presented, Buffer.from(record.hash, 'hex'))) return invalid;
    if (record.revokedAt !== null) return { ok: false, code: 'TOKEN_REVOKED', message: `the token "${record.name}" (${record.id}) was revoked` };
    return { ok: true, token: withoutHash(record) };
  }
}

function parseRecord(raw: string): TokenRecord | null {
  try {
    const parsed = TokenRecord.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function withoutHash(record: TokenRecord): TokenInfo {
  const { hash: _hash, ...info } = record;
  return info;
}
