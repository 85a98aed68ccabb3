/**
 * external_id: a permanent business key per account and resource type. The same payload again
 * returns the existing object; a different payload is refused with 409 already_exists.
 */
import type { Queryable } from '../store/db.ts';
import { ApiError, invalidRequest } from '../errors.ts';
import type { ObjectTable, StoredObject } from '../store/object_table.ts';
import { fingerprint } from '../idempotency/fingerprint.ts';

/** The parts of the parameters that define "the same payload" (presentation options excluded). */
export function payloadFingerprint(params: Record<string, unknown>): string {
  const { expand: _expand, ...rest } = params;
  return fingerprint('external_id', '', rest);
}

/**
 * Claims externalId for objectId inside the caller's transaction. Returns the id of the object
 * that already owns it when the payload matches, undefined when this call claimed it.
 */
export async function claimExternalId(
  q: Queryable, accountId: string, resource: string, externalId: string, objectId: string, print: string,
): Promise<string | undefined> {
  const inserted = await q.query(
    `INSERT INTO external_ids (account_id, resource, external_id, object_id, fingerprint) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (account_id, resource, external_id) DO NOTHING`,
    [accountId, resource, externalId, objectId, print],
  );
  if (inserted.rowCount === 1) return undefined;
  const { rows } = await q.query<{ object_id: string; fingerprint: string }>(
    'SELECT object_id, fingerprint FROM external_ids WHERE account_id = $1 AND resource = $2 AND external_id = $3',
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
  return existing.object_id;
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
