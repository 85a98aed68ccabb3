/**
 * Idempotency key inspection: everything Oncepay knows about one key of one account, for
 * debugging a retry storm. Read-only; secrets in the stored response are masked like logs.
 */
import type { Queryable } from '../store/db.ts';
import { resourceMissing } from '../errors.ts';
import { redact } from '../logs/redact.ts';
import { requestLogs, type RequestLog } from '../logs/request_log.ts';

export interface IdempotencyKeyView {
  id: string;
  object: 'idempotency_key';
  created: number;
  livemode: false;
  client_supplied: boolean;
  method: string;
  path: string;
  request_fingerprint: string;
  /** in_progress: a live request holds it; abandoned: unfinished and unheld, the completer will finish it. */
  state: 'in_progress' | 'abandoned' | 'finished';
  locked: boolean;
  locked_at: number | null;
  recovery_point: string;
  attempts: number;
  replay_count: number;
  original_request: string;
  finished_at: number | null;
  expires_at: number | null;
  response: { status: number; body: unknown } | null;
  objects: { object: string; id: string; created: boolean }[];
  request_logs: { object: 'list'; data: RequestLog[]; has_more: boolean; url: string };
}

/** Event types that mean "this object came into existence" (charges are born with their outcome). */
const isCreation = (type: string) => type.endsWith('.created') || /^charge\.(succeeded|failed|pending)$/.test(type);

export async function inspectKey(
  q: Queryable, accountId: string, key: string, opts: { lockTimeoutMs: number; retentionMs: number },
): Promise<IdempotencyKeyView> {
  const { rows } = await q.query(
    `SELECT key, client_supplied, method, path, fingerprint, request_id, recovery_point, attempts,
            response_status, response_body, lock_token IS NOT NULL AS locked,
            (lock_token IS NOT NULL AND locked_at >= now() - make_interval(secs => $3)) AS lock_fresh,
            floor(extract(epoch FROM created_at))::bigint AS created,
            floor(extract(epoch FROM locked_at))::bigint AS locked_at,
            floor(extract(epoch FROM finished_at))::bigint AS finished_at
       FROM idempotency_keys WHERE account_id = $1 AND key = $2`,
    [accountId, key, opts.lockTimeoutMs / 1000],
  );
  const row = rows[0];
  if (!row) throw resourceMissing('idempotency key', key);

  const [replays, emitted, logs] = await Promise.all([
    q.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM request_logs WHERE account_id = $1 AND idempotency_key = $2 AND outcome = 'replayed'`,
      [accountId, key],
    ),
    q.query<{ object: string; id: string; type: string }>(
      `SELECT data->'data'->'object'->>'object' AS object, data->'data'->'object'->>'id' AS id, data->>'type' AS type
         FROM events WHERE account_id = $1 AND (data->'request'->>'id') = $2 ORDER BY seq`,
      [accountId, row.request_id],
    ),
    row.client_supplied
      ? requestLogs.list(q, accountId, { limit: 100, where: { idempotency_key: key } })
      : requestLogs.find(q, accountId, row.request_id).then((l) => ({ data: l ? [l] : [], hasMore: false })),
  ]);

  const objects = new Map<string, { object: string; id: string; created: boolean }>();
  for (const e of emitted.rows) {
    const k = `${e.object}/${e.id}`;
    const seen = objects.get(k) ?? { object: e.object, id: e.id, created: false };
    seen.created ||= isCreation(e.type);
    objects.set(k, seen);
  }
  const finished = row.finished_at === null ? null : Number(row.finished_at);
  return {
    id: row.key,
    object: 'idempotency_key',
    created: Number(row.created),
    livemode: false,
    client_supplied: row.client_supplied,
    method: row.method,
    path: row.path,
    request_fingerprint: row.fingerprint,
    state: finished !== null ? 'finished' : row.lock_fresh ? 'in_progress' : 'abandoned',
    locked: row.locked,
    locked_at: row.locked_at === null ? null : Number(row.locked_at),
    recovery_point: row.recovery_point,
    attempts: row.attempts,
    replay_count: replays.rows[0].n,
    original_request: row.request_id,
    finished_at: finished,
    expires_at: finished === null ? null : finished + Math.floor(opts.retentionMs / 1000),
    response: row.response_status === null ? null : { status: row.response_status, body: redact(JSON.parse(row.response_body)) },
    objects: [...objects.values()],
    request_logs: {
      object: 'list', data: logs.data, has_more: logs.hasMore,
      url: `/v1/request_logs?idempotency_key=${encodeURIComponent(key)}`,
    },
  };
}
