/**
 * Test-mode reset: deletes everything an account owns. The tables are found in the schema
 * itself — every base table with an `account_id` column — so a table added later is covered
 * without touching this file; only the account row (`accounts` has no account_id) and its API
 * keys stay. The running request keeps its own idempotency key and request log row, so its
 * answer is stored (and replayed) like any POST's.
 */
import type { Queryable } from '../store/db.ts';

/** Kept whatever happens: the account's keys. */
const KEPT_TABLES = new Set(['api_keys']);

/** The tables keyed by account, in a fixed (code point) order. */
export async function accountTables(q: Queryable): Promise<string[]> {
  const { rows } = await q.query<{ table_name: string }>(
    `SELECT c.table_name FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.column_name = 'account_id' AND c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'`);
  return rows.map((r) => r.table_name).filter((t) => !KEPT_TABLES.has(t)).sort();
}

/** What the running request keeps: its idempotency key and its request log row. */
export interface ResetKeep {
  idempotencyKey: string;
  requestId: string;
}

const KEEP_CONDITION: Record<string, (k: ResetKeep) => [string, string]> = {
  idempotency_keys: (k) => ['key', k.idempotencyKey],
  request_logs: (k) => ['id', k.requestId],
};

/**
 * Deletes the account's rows from every table keyed by account, in the caller's transaction;
 * returns how many rows each table lost. A table whose rows a trigger writes while another is
 * emptied (the running balances) is emptied again by the next pass, until a pass deletes nothing.
 */
export async function resetAccount(q: Queryable, accountId: string, keep: ResetKeep): Promise<Record<string, number>> {
  const tables = await accountTables(q);
  const deleted: Record<string, number> = Object.fromEntries(tables.map((t) => [t, 0]));
  for (let pass = 0; pass < 5; pass++) {
    let any = false;
    for (const table of tables) {
      const kept = KEEP_CONDITION[table]?.(keep);
      const { rows } = await q.query<{ n: number }>(
        `WITH d AS (DELETE FROM ${table} WHERE account_id = $1${kept ? ` AND ${kept[0]} <> $2` : ''} RETURNING 1)
         SELECT count(*)::int AS n FROM d`,
        kept ? [accountId, kept[1]] : [accountId]);
      deleted[table] += rows[0].n;
      any ||= rows[0].n > 0;
    }
    if (!any) return deleted;
  }
  throw new Error('reset: rows kept reappearing after 5 passes (a trigger writing back into an account table?)');
}
