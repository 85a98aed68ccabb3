/** Accounts and their secret keys. Keys are stored as SHA-256 hashes, never in clear. */
import { createHash } from 'node:crypto';
import type { Db, Queryable } from '../store/db.ts';
import { newId, nowSeconds, randomId } from '../ids.ts';

export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');
export const keyHint = (key: string) => `${key.slice(0, 8)}...${key.slice(-4)}`;

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
