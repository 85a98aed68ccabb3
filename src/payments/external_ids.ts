/**
 * external_id: a permanent business key per account and resource type. The same payload again
 * returns the existing object; a different payload is refused with 409 already_exists. While the
 * request that claimed it is still unfinished (its object mid-flight: a `processing` intent, a
 * `pending` refund), the same payload under another key is a transient 409 lock_timeout, saved
 * under no key, so every stored answer is a settled one.
 */
import type { Queryable } from '../store/db.ts';
import { ApiError, invalidRequest } from '../errors.ts';
import type { ObjectTable, StoredObject } from '../store/object_table.ts';
import { fingerprint } from '../idempotency/fingerprint.ts';
import { isKeyUnfinished } from '../idempotency/key_state.ts';

/** The parts of the parameters that define "the same payload" (presentation options excluded). */
export function payloadFingerprint(params: Record<string, unknown>): string {
  const { expand: _expand, ...rest } = params;
  return fingerprint('external_id', '', rest);
}

/**
 * Claims externalId for objectId inside the caller's transaction, on behalf of the request running
 * under idempotencyKey (ctx.idempotencyKey). Returns the id of the object that already owns it
 * when the payload matches and the request that claimed it has settled, undefined when this call
 * claimed it. When another key claimed it and has not finished, throws externalIdBusy (transient:
 * not stored under this key, a retry runs again).
 */
export async function claimExternalId(
  q: Queryable, accountId: string, resource: string, externalId: string, objectId: string, print: string, idempotencyKey: string,
): Promise<string | undefined> {
  const inserted = await q.query(
    `INSERT INTO external_ids (account_id, resource, external_id, object_id, fingerprint, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (account_id, resource, external_id) DO NOTHING`,
    [accountId, resource, externalId, objectId, print, idempotencyKey],
  );
  if (inserted.rowCount === 1) return undefined;
  const { rows } = await q.query<{ object_id: string; fingerprint: string; idempotency_key: string | null }>(
    'SELECT object_id, fingerprint, idempotency_key FROM external_ids WHERE account_id = $1 AND resource = $2 AND external_id = $3',
    [accountId, resource, externalId],
  );
  const existing = rows[0];
  if (existing.fingerprint !== print) {
    throw new ApiError(409, {
      type: 'invalid_request_error',
      code: 'already_exists',
      param: 'external_id',
      message: `A ${resource} with external_id '${externalId}' already exists (${existing.object_id}) and was created with different parameters.`,
      existing_id: existing.object_id,
    });
  }
  // Rows claimed before claims recorded their key have none: settled long ago. The same key is a
  // resume of the claiming request itself.
  const claimedBy = existing.idempotency_key;
  if (claimedBy !== null && claimedBy !== idempotencyKey && await isKeyUnfinished(q, accountId, claimedBy)) {
    throw externalIdBusy(resource, externalId, existing.object_id);
  }
  return existing.object_id;
}

/**
 * The object an external_id names is still being created by another request: answered like an
 * in-flight key (the shape of objectBusy), so the duplicate never answers, nor stores, a mid-flight
 * snapshot of it.
 */
function externalIdBusy(resource: string, externalId: string, objectId: string): ApiError {
  return new ApiError(409, {
    type: 'invalid_request_error',
    code: 'lock_timeout',
    param: 'external_id',
    message: `Another request is still creating the ${resource} with external_id '${externalId}' (${objectId}). Retry shortly: once it has finished, this request answers with that ${resource}.`,
  }, { 'Retry-After': '1', 'Stripe-Should-Retry': 'true' }, true);
}

/** The object an external_id already names, to answer with; a deleted one is gone, not replayed. */
export async function existingObject<T extends StoredObject & { deleted?: boolean }>(
  q: Queryable, accountId: string, table: ObjectTable<T>, id: string, externalId: string,
): Promise<T> {
  const obj = await table.get(q, accountId, id);
  if (obj.deleted) {
    throw invalidRequest(`The ${table.objectName} created with external_id '${externalId}' (${id}) has been deleted: use another external_id.`, 'external_id', 'resource_missing');
  }
  return obj;
}
