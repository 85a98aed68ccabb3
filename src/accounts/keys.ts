/** Accounts and their secret keys. Keys are stored as SHA-256 hashes, never in clear. */
import { createHash } from 'node:crypto';
import type { Db, Queryable } from '../store/db.ts';
import { newId, nowSeconds, randomId } from '../ids.ts';

export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');
/**
 * What may be shown of a key: `sk_test_abcd...wxyz`. Short keys (some configured ones) show only
 * the `sk_test_` prefix and the last four characters, so a hint never gives away most of a key.
 */
export const keyHint = (key: string) => `${key.slice(0, key.length >= 32 ? 12 : 8)}...${key.slice(-4)}`;

export function generateSecretKey(): string {
  return `sk_test_${randomId(48)}`;
}

/** A new account and its key, in the caller's transaction; returns the account id. */
async function insertAccount(q: Queryable, key: string): Promise<string> {
  const accountId = newId('acct');
  await q.query('INSERT INTO accounts (id, created) VALUES ($1, $2)', [accountId, nowSeconds()]);
  await q.query('INSERT INTO api_keys (account_id, key_hash, key_hint, created) VALUES ($1, $2, $3, $4)',
    [accountId, hashKey(key), keyHint(key), nowSeconds()]);
  return accountId;
}

/** Creates a new account owning `key` (generated when absent). */
export async function createAccount(db: Db, key = generateSecretKey()): Promise<{ accountId: string; key: string }> {
  const accountId = await db.tx((q) => insertAccount(q, key));
  return { accountId, key };
}

/** Makes sure each configured key exists, each with its own account. Safe to run from several processes. */
export async function ensureKeys(db: Db, keys: string[]): Promise<void> {
  for (const key of keys) {
    await db.tx(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [hashKey(key)]);
      const { rows } = await q.query('SELECT 1 FROM api_keys WHERE key_hash = $1', [hashKey(key)]);
      if (rows.length === 0) await insertAccount(q, key);
    });
  }
}

export async function countKeys(db: Db): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM api_keys WHERE revoked_at IS NULL');
  return rows[0].n;
}

/** One API key as administration sees it: never the key itself, only its hint. */
export interface KeyRecord {
  accountId: string;
  hint: string;
  /** Unix seconds. */
  created: number;
  /** Unix seconds; null while the key is active. */
  revokedAt: number | null;
}

/** A key administration request that cannot be carried out (the message says why). */
export class KeyAdminError extends Error {
  constructor(
    readonly code: 'no_such_account' | 'no_such_key' | 'ambiguous_hint',
    message: string,
    /** For ambiguous_hint: the active keys the hint matches. */
    readonly candidates: KeyRecord[] = [],
  ) {
    super(message);
    this.name = 'KeyAdminError';
  }
}

interface KeyRow { account_id: string; key_hash: string; key_hint: string; created: number; revoked_at: number | null }

const toRecord = (r: KeyRow): KeyRecord => ({ accountId: r.account_id, hint: r.key_hint, created: r.created, revokedAt: r.revoked_at });

/** Every key (active and revoked), oldest first; optionally of one account only. */
export async function listKeys(db: Queryable, opts: { accountId?: string } = {}): Promise<KeyRecord[]> {
  const { rows } = await db.query<KeyRow>(
    `SELECT account_id, key_hash, key_hint, created, revoked_at FROM api_keys
     ${opts.accountId ? 'WHERE account_id = $1' : ''} ORDER BY created, account_id, key_hint`,
    opts.accountId ? [opts.accountId] : [],
  );
  return rows.map(toRecord);
}

/** A new key for an existing account (generated when absent). Throws KeyAdminError no_such_account. */
export async function createKeyForAccount(db: Db, accountId: string, key = generateSecretKey()): Promise<{ accountId: string; key: string }> {
  await db.tx(async (q) => {
    // FOR SHARE: the account cannot vanish between this check and the insert.
    const { rows } = await q.query('SELECT 1 FROM accounts WHERE id = $1 FOR SHARE', [accountId]);
    if (rows.length === 0) throw new KeyAdminError('no_such_account', `No such account: ${accountId}`);
    await q.query('INSERT INTO api_keys (account_id, key_hash, key_hint, created) VALUES ($1, $2, $3, $4)',
      [accountId, hashKey(key), keyHint(key), nowSeconds()]);
  });
  return { accountId, key };
}

/** A full key (`sk_...` without `...`) or, otherwise, a hint as `listKeys` shows it. */
const looksLikeHint = (s: string) => s.includes('...');

/**
 * Revokes one key, given in full or by its hint (exactly as `listKeys` shows it; `…` is read as
 * `...`). A hint matching several active keys is refused (KeyAdminError ambiguous_hint): pass
 * the full key then. Revoking a revoked key changes nothing and says so (`alreadyRevoked`).
 * Servers notice within their key cache time (KeyResolver, 30 s).
 */
export async function revokeKey(db: Db, keyOrHint: string, now = nowSeconds()): Promise<{ key: KeyRecord; alreadyRevoked: boolean }> {
  const given = keyOrHint.trim().replace(/\u2026/g, '...');
  if (!given) throw new KeyAdminError('no_such_key', 'Give a key or a key hint (as `keys list` shows it).');
  return db.tx(async (q) => {
    const { rows } = looksLikeHint(given)
      ? await q.query<KeyRow>('SELECT account_id, key_hash, key_hint, created, revoked_at FROM api_keys WHERE key_hint = $1 ORDER BY created FOR UPDATE', [given])
      : await q.query<KeyRow>('SELECT account_id, key_hash, key_hint, created, revoked_at FROM api_keys WHERE key_hash = $1 FOR UPDATE', [hashKey(given)]);
    const active = rows.filter((r) => r.revoked_at === null);
    if (active.length > 1) {
      throw new KeyAdminError('ambiguous_hint',
        `The hint ${given} matches ${active.length} active keys (accounts ${active.map((r) => r.account_id).join(', ')}): give the full key instead.`,
        active.map(toRecord));
    }
    if (active.length === 0) {
      if (rows.length > 0) return { key: toRecord(rows[0]), alreadyRevoked: true };
      throw new KeyAdminError('no_such_key', looksLikeHint(given) ? `No key has the hint ${given}.` : `No such key (ending in ${given.slice(-4)}).`);
    }
    const row = active[0];
    await q.query('UPDATE api_keys SET revoked_at = $1 WHERE key_hash = $2 AND revoked_at IS NULL', [now, row.key_hash]);
    return { key: { ...toRecord(row), revokedAt: now }, alreadyRevoked: false };
  });
}

/** Resolves a key to its account, with a short cache so the hot path does not hit the database. */
export class KeyResolver {
  private cache = new Map<string, { accountId: string | null; until: number }>();
  constructor(private readonly db: Db, private readonly ttlMs = 30_000) {}

  async resolve(key: string): Promise<string | null> {
    const hash = hashKey(key);
    const hit = this.cache.get(hash);
    if (hit && hit.until > Date.now()) return hit.accountId;
    const { rows } = await this.db.query<{ account_id: string }>(
      'SELECT account_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL', [hash]);
    const accountId = rows[0]?.account_id ?? null;
    if (this.cache.size > 10_000) this.cache.clear();
    // Unknown keys are cached briefly too, so a flood of bad keys cannot hammer the database.
    this.cache.set(hash, { accountId, until: Date.now() + (accountId ? this.ttlMs : 2_000) });
    return accountId;
  }
}
