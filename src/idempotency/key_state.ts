/**
 * A small read of one key's state for the layers above (payments asks it whether the request
 * that claimed an external_id has settled). The engine keeps its own queries.
 */
import type { Queryable } from '../store/db.ts';

/**
 * True when the account's key exists and has not finished: its request is in flight, or it was
 * abandoned (its process died, or it failed unexpectedly) and waits for a retry or the completer.
 * A key never used, or finished (and perhaps reaped since), is false.
 */
export async function isKeyUnfinished(q: Queryable, accountId: string, key: string): Promise<boolean> {
  const { rows } = await q.query(
    'SELECT 1 FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND finished_at IS NULL',
    [accountId, key],
  );
  return rows.length > 0;
}
