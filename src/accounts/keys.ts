/**
 * Accounts and their keys: secret (`sk_test_`), restricted (`rk_test_`, with permissions) and
 * publishable (`pk_test_`). Secret and restricted keys are stored as SHA-256 hashes, never in
 * clear; publishable keys are public (as on Stripe) and kept whole as their hint.
 */
import { createHash } from 'node:crypto';
import type { Db, Queryable } from '../store/db.ts';
import { newId, nowSeconds, randomId } from '../ids.ts';
import { SECRET_KEY_PATTERN } from '../config.ts';
import type { Permissions } from './permissions.ts';

export type KeyKind = 'secret' | 'restricted' | 'publishable';

export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');
/**
 * What may be shown of a key: `sk_test_abcd...wxyz`. Short keys (some configured ones) show only
 * the `sk_test_` prefix and the last four characters, so a hint never gives away most of a key.
 */
export const keyHint = (key: string) => `${key.slice(0, key.length >= 32 ? 12 : 8)}...${key.slice(-4)}`;

export function generateSecretKey(): string {
  return `sk_test_${randomId(48)}`;
}

/** A key's kind, from its prefix; undefined for anything else. */
export function kindOfKey(key: string): KeyKind | undefined {
  if (key.startsWith('sk_test_')) return 'secret';
  if (key.startsWith('rk_test_')) return 'restricted';
  if (key.startsWith('pk_test_')) return 'publishable';
  return undefined;
}

/**
 * The publishable key an account gets with its first secret key: derived from it one way
 * (SHA-256), so a test that made up `sk_test_...` (any-key mode) can compute its publishable key,
 * and knowing the publishable key tells nothing about the secret one.
 */
export function publishableKeyFor(secretKey: string): string {
  return `pk_test_${createHash('sha256').update(`oncepay publishable key of ${secretKey}`).digest('hex').slice(0, 48)}`;
}

const hintOf = (key: string, kind: KeyKind) => (kind === 'publishable' ? key : keyHint(key));

function insertKey(q: Queryable, accountId: string, key: string, kind: KeyKind, permissions?: Permissions, onConflict = '') {
  return q.query(
    `INSERT INTO api_keys (account_id, key_hash, key_hint, created, kind, permissions) VALUES ($1, $2, $3, $4, $5, $6) ${onConflict}`,
    [accountId, hashKey(key), hintOf(key, kind), nowSeconds(), kind, permissions ? JSON.stringify(permissions) : null]);
}

/**
 * A new account with its secret key and its publishable key, in the caller's transaction;
 * returns the account id. `onConflict` (any-key mode) lets a concurrent creation of the same
 * key win: then nothing is inserted for the key and the caller rolls back.
 */
async function insertAccount(q: Queryable, key: string, opts: { yieldToConcurrent?: boolean } = {}): Promise<string | null> {
  const accountId = newId('acct');
  await q.query('INSERT INTO accounts (id, created) VALUES ($1, $2)', [accountId, nowSeconds()]);
  const { rows } = await insertKey(q, accountId, key, 'secret', undefined,
    opts.yieldToConcurrent ? 'ON CONFLICT (key_hash) DO NOTHING RETURNING account_id' : 'RETURNING account_id');
  if (rows.length === 0) return null;
  await insertKey(q, accountId, publishableKeyFor(key), 'publishable');
  return accountId;
}

/** Thrown inside the creating transaction when another request created the same key first. */
class CreatedConcurrently extends Error {}

/**
 * Any-key mode: the account of a well-formed secret key nobody has used yet, created on first
 * use. Two concurrent first requests race on the unique key hash (ON CONFLICT): the loser rolls
 * its account back and reads the winner's, so one key always ends in one account.
 */
export async function accountForNewKey(db: Db, key: string): Promise<string | null> {
  if (!SECRET_KEY_PATTERN.test(key)) return null;
  try {
    return await db.tx(async (q) => {
      const accountId = await insertAccount(q, key, { yieldToConcurrent: true });
      if (accountId === null) throw new CreatedConcurrently();
      return accountId;
    });
  } catch (err) {
    if (!(err instanceof CreatedConcurrently)) throw err;
    const { rows } = await db.query<{ account_id: string }>(
      "SELECT account_id FROM api_keys WHERE key_hash = $1 AND kind = 'secret' AND revoked_at IS NULL", [hashKey(key)]);
    return rows[0]?.account_id ?? null;
  }
}

/** Creates a new account owning `key` (generated when absent). */
export async function createAccount(db: Db, key = generateSecretKey()): Promise<{ accountId: string; key: string }> {
  const accountId = (await db.tx((q) => insertAccount(q, key)))!;
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
  const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM api_keys WHERE revoked_at IS NULL AND kind = 'secret'");
  return rows[0].n;
}

/** One API key as administration sees it: never a secret key itself, only its hint. */
export interface KeyRecord {
  accountId: string;
  kind: KeyKind;
  /** The whole key for a publishable key (it is public). */
  hint: string;
  /** A restricted key's permissions; null for other kinds. */
  permissions: Permissions | null;
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

interface KeyRow {
  account_id: string; key_hash: string; key_hint: string; created: number; revoked_at: number | null;
  kind: KeyKind; permissions: Permissions | string | null;
}
const KEY_COLUMNS = 'account_id, key_hash, key_hint, created, revoked_at, kind, permissions';

/** json columns come back parsed from node-postgres and PGlite alike; a string is parsed here in case. */
const permissionsOf = (p: KeyRow['permissions']): Permissions | null => (typeof p === 'string' ? JSON.parse(p) as Permissions : p);

const toRecord = (r: KeyRow): KeyRecord => ({
  accountId: r.account_id, kind: r.kind, hint: r.key_hint, permissions: permissionsOf(r.permissions), created: r.created, revokedAt: r.revoked_at,
});

/** Every key (active and revoked), oldest first; optionally of one account only. */
export async function listKeys(db: Queryable, opts: { accountId?: string } = {}): Promise<KeyRecord[]> {
  const { rows } = await db.query<KeyRow>(
    `SELECT ${KEY_COLUMNS} FROM api_keys
     ${opts.accountId ? 'WHERE account_id = $1' : ''} ORDER BY created, account_id, kind DESC, key_hint`,
    opts.accountId ? [opts.accountId] : [],
  );
  return rows.map(toRecord);
}

/** A new key for an existing account (generated when absent). Throws KeyAdminError no_such_account. */
export async function createKeyForAccount(db: Db, accountId: string, key = generateSecretKey()): Promise<{ accountId: string; key: string }> {
  await addKey(db, accountId, key, 'secret');
  return { accountId, key };
}

/** A new restricted key (`rk_test_...`) with these permissions for an existing account. */
export async function createRestrictedKey(db: Db, accountId: string, permissions: Permissions): Promise<{ accountId: string; key: string }> {
  const key = `rk_test_${randomId(48)}`;
  await addKey(db, accountId, key, 'restricted', permissions);
  return { accountId, key };
}

/** Another publishable key (`pk_test_...`) for an existing account (each account has one already). */
export async function createPublishableKey(db: Db, accountId: string): Promise<{ accountId: string; key: string }> {
  const key = `pk_test_${randomId(48)}`;
  await addKey(db, accountId, key, 'publishable');
  return { accountId, key };
}

async function addKey(db: Db, accountId: string, key: string, kind: KeyKind, permissions?: Permissions): Promise<void> {
  await db.tx(async (q) => {
    // FOR SHARE: the account cannot vanish between this check and the insert.
    const { rows } = await q.query('SELECT 1 FROM accounts WHERE id = $1 FOR SHARE', [accountId]);
    if (rows.length === 0) throw new KeyAdminError('no_such_account', `No such account: ${accountId}`);
    await insertKey(q, accountId, key, kind, permissions);
  });
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
      ? await q.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE key_hint = $1 ORDER BY created FOR UPDATE`, [given])
      : await q.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 FOR UPDATE`, [hashKey(given)]);
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

/** What a valid key is: whose, of which kind, and (restricted keys) allowed what. */
export interface ResolvedKey {
  accountId: string;
  kind: KeyKind;
  permissions: Permissions | null;
}

/**
 * Resolves a key to its account, with a short cache so the hot path does not hit the database.
 * With `acceptAnyKey` (any-key mode, test mode's default), a well-formed secret key nobody has
 * used gets its own new account on first use (`accountForNewKey`); a revoked key stays refused.
 */
export class KeyResolver {
  private cache = new Map<string, { key: ResolvedKey | null; until: number }>();
  private readonly ttlMs: number;
  private readonly acceptAnyKey: boolean;
  constructor(private readonly db: Db, opts: { ttlMs?: number; acceptAnyKey?: boolean } = {}) {
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.acceptAnyKey = opts.acceptAnyKey ?? false;
  }

  /** The key, or null when it is unknown or revoked; `create: false` never creates an account. */
  async resolve(key: string, opts: { create?: boolean } = {}): Promise<ResolvedKey | null> {
    const hash = hashKey(key);
    const hit = this.cache.get(hash);
    if (hit && hit.until > Date.now()) return hit.key;
    const { rows } = await this.db.query<Pick<KeyRow, 'account_id' | 'kind' | 'permissions' | 'revoked_at'>>(
      'SELECT account_id, kind, permissions, revoked_at FROM api_keys WHERE key_hash = $1', [hash]);
    const row = rows[0];
    let resolved: ResolvedKey | null = row && row.revoked_at === null
      ? { accountId: row.account_id, kind: row.kind, permissions: permissionsOf(row.permissions) } : null;
    if (!row && this.acceptAnyKey && opts.create !== false) {
      const accountId = await accountForNewKey(this.db, key);
      if (accountId) resolved = { accountId, kind: 'secret', permissions: null };
    }
    if (this.cache.size > 10_000) this.cache.clear();
    // Unknown keys are cached briefly too, so a flood of bad keys cannot hammer the database.
    if (resolved || opts.create !== false || !this.acceptAnyKey) {
      this.cache.set(hash, { key: resolved, until: Date.now() + (resolved ? this.ttlMs : 2_000) });
    }
    return resolved;
  }
}
