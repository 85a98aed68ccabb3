/**
 * Request logs: one `request_log` per API request of a known account.
 *
 * Durability follows what the request did. A command's first phase writes a pending row in its
 * own transaction (see `insertPending`), so any request whose effects committed has its row even
 * if the process dies before answering; every row is then completed (or, for reads and
 * refusals, written) by the batched `RequestLogWriter` after the response is sent.
 */
import type { Logger } from 'pino';
import type { Db, Queryable, Tx } from '../store/db.ts';
import { ObjectTable } from '../store/object_table.ts';
import { redact, redactString } from './redact.ts';

export type RequestOutcome = 'executed' | 'replayed' | 'conflict' | 'mismatch' | 'rejected';

export interface RequestLog {
  id: string;
  object: 'request_log';
  created: number;
  livemode: false;
  method: string;
  path: string;
  query: Record<string, unknown> | null;
  /** Null while the request has not answered (or its process died first). */
  status: number | null;
  outcome: RequestOutcome;
  idempotency_key: string | null;
  /** For a replay: the request that first ran the key. */
  original_request: string | null;
  duration_ms: number | null;
  ip_address: string | null;
  user_agent: string | null;
  stripe_version: string | null;
  request_body: Record<string, unknown> | null;
  response_body: Record<string, unknown> | null;
}

/**
 * Listed by when the request arrived (`started_us`), not by insertion: a read's row is written
 * after the command that followed it had already inserted its own.
 */
export const requestLogs = new ObjectTable<RequestLog>('request_logs', 'request_log', {}, 'started_us');

/** Wall-clock microseconds: the order of request logs (ties broken by id). */
export const nowMicros = () => Math.floor((performance.timeOrigin + performance.now()) * 1000);

/** Response bodies above this size are logged as a note instead (a 100-item list is large). */
export const MAX_LOGGED_BODY = 32 * 1024;

export interface RequestFacts {
  id: string;
  /** When the request arrived, in wall-clock microseconds. */
  startedUs: number;
  method: string;
  path: string;
  query: Record<string, unknown> | null;
  body: Record<string, unknown> | null;
  idempotencyKey: string | null;
  ip: string | null;
  userAgent: string | null;
  stripeVersion: string | null;
}

/** The log of a request that has not answered yet; secrets are already masked. */
export function pendingLog(f: RequestFacts): RequestLog {
  const nonEmpty = (o: Record<string, unknown> | null) => (o && Object.keys(o).length > 0 ? (redact(o) as Record<string, unknown>) : null);
  return {
    id: f.id,
    object: 'request_log',
    created: Math.floor(f.startedUs / 1_000_000),
    livemode: false,
    method: f.method,
    path: loggedPath(f.path),
    query: nonEmpty(f.query),
    status: null,
    outcome: 'executed',
    idempotency_key: f.idempotencyKey,
    original_request: null,
    duration_ms: null,
    ip_address: f.ip,
    user_agent: f.userAgent,
    stripe_version: f.stripeVersion,
    request_body: nonEmpty(f.body),
  response_body: null,
  };
}

/** The path as routed (percent-decoded, so an encoded card number is caught too), masked. */
export function loggedPath(raw: string): string {
  let path = raw;
  try { path = decodeURIComponent(raw); } catch { /* malformed escapes: keep the raw text */ }
  return redactString(path);
}

/** The finished log: status, outcome, timing and the (masked) response. */
export function completedLog(
  pending: RequestLog,
  done: { status: number; outcome: RequestOutcome; durationMs: number; payload: string | null; originalRequest: string | null },
): RequestLog {
  return {
    ...pending,
    status: done.status,
    outcome: done.outcome,
    duration_ms: Math.round(done.durationMs * 10) / 10,
    original_request: done.originalRequest,
    response_body: loggedBody(done.payload),
  };
}

function loggedBody(payload: string | null): Record<string, unknown> | null {
  if (payload === null || payload === '') return null;
  if (payload.length > MAX_LOGGED_BODY) {
    return { omitted: `The response body (${payload.length} bytes) is larger than the ${MAX_LOGGED_BODY}-byte request log limit.` };
  }
  try {
    const parsed = JSON.parse(payload);
    return typeof parsed === 'object' && parsed !== null ? (redact(parsed) as Record<string, unknown>) : { value: redact(parsed) };
  } catch {
    return { text: redactString(payload.slice(0, 1000)) };
  }
}

/** Written by a command's first phase, in its transaction: the row exists if any effect does. */
export function insertPending(q: Tx, accountId: string, log: RequestLog, startedUs: number): void {
  q.write(
    `INSERT INTO request_logs (account_id, id, started_us, created, data, method, path, status, outcome, idempotency_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9) ON CONFLICT (account_id, id) DO NOTHING`,
    [accountId, log.id, startedUs, log.created, JSON.stringify(log), log.method, log.path, log.outcome, log.idempotency_key],
  );
}

const UPSERT = `
INSERT INTO request_logs (account_id, id, started_us, created, data, method, path, status, outcome, idempotency_key)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[]::json[], $6::text[], $7::text[], $8::int[], $9::text[], $10::text[])
ON CONFLICT (account_id, id) DO UPDATE
  SET data = EXCLUDED.data, status = EXCLUDED.status, outcome = EXCLUDED.outcome`;

/**
 * Writes finished logs in batches (one statement per batch, off the request's path). Logs of
 * requests that changed nothing may be lost in a crash; a command's row already exists by then.
 */
export class RequestLogWriter {
  private buffer: { accountId: string; log: RequestLog; startedUs: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** Logs dropped because the database refused them or the buffer was full. */
  dropped = 0;
  written = 0;

  constructor(
    private readonly db: Db,
    private readonly opts: { logger?: Logger; onDropped?: (n: number) => void; maxBatch?: number; delayMs?: number; maxBuffered?: number } = {},
  ) {}

  add(accountId: string, log: RequestLog, startedUs: number): void {
    if (this.buffer.length >= (this.opts.maxBuffered ?? 50_000)) {
      this.dropped++;
      this.opts.onDropped?.(1);
      return;
    }
    this.buffer.push({ accountId, log, startedUs });
    if (this.buffer.length >= (this.opts.maxBatch ?? 500)) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.opts.delayMs ?? 20);
  }

  /**
   * Writes everything buffered so far (only one account's rows, given `accountId`); resolves
   * when they, and every batch already on its way, are stored. Reads of request logs call it
   * first, so a client sees the log of every request of its own that was already answered.
   */
  flush(accountId?: string): Promise<void> {
    let batch = this.buffer;
    if (accountId === undefined) this.buffer = [];
    else {
      batch = this.buffer.filter((b) => b.accountId === accountId);
      if (batch.length > 0) this.buffer = this.buffer.filter((b) => b.accountId !== accountId);
    }
    if (this.buffer.length === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (batch.length === 0) return this.chain;
    // write() never rejects (it counts what it drops), so one bad batch cannot stop the chain.
    this.chain = this.chain.then(() => this.write(batch)).catch(() => {});
    return this.chain;
  }

  private async write(batch: { accountId: string; log: RequestLog; startedUs: number }[]): Promise<void> {
    const cols: unknown[][] = [[], [], [], [], [], [], [], [], [], []];
    for (const { accountId, log, startedUs } of batch) {
      const row = [accountId, log.id, startedUs, log.created, JSON.stringify(log), log.method, log.path, log.status, log.outcome, log.idempotency_key];
      row.forEach((v, i) => cols[i].push(v));
    }
    try {
      await this.db.query(UPSERT, cols);
      this.written += batch.length;
    } catch (err) {
      this.dropped += batch.length;
      this.opts.onDropped?.(batch.length);
      try { this.opts.logger?.warn({ err, count: batch.length }, 'request log batch could not be written'); } catch { /* never fail the chain */ }
    }
  }
}

/** Deletes logs older than the retention window; returns how many. */
export async function reapRequestLogs(q: Queryable, retentionMs: number, batch = 5000): Promise<number> {
  const r = await q.query(
    `DELETE FROM request_logs WHERE (account_id, id) IN (
       SELECT account_id, id FROM request_logs WHERE created < $1 LIMIT $2)`,
    [Math.floor((Date.now() - retentionMs) / 1000), batch],
  );
  return r.rowCount;
}
