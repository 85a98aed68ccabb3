/** Formatting for the CLI's human-readable output (pure functions, unit-tested). */

/** Unix seconds as `2025-11-23 13:05:01Z` (UTC, sortable, unambiguous). */
export function formatTime(unixSeconds: number | null | undefined): string {
  if (unixSeconds === null || unixSeconds === undefined || !Number.isFinite(unixSeconds)) return '-';
  return new Date(unixSeconds * 1000).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(rows: string[][]): string[] {
  if (rows.length === 0) return [];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd());
}

/** The fields `logs tail` prints (a subset of the API's request_log). */
export interface RequestLogLine {
  id: string;
  created: number;
  method: string;
  path: string;
  status: number | null;
  outcome: string;
  idempotency_key: string | null;
  duration_ms: number | null;
  original_request?: string | null;
}

function formatDuration(ms: number | null): string {
  if (ms === null || ms === undefined) return '-';
  return ms >= 100 ? `${Math.round(ms)}ms` : `${Math.round(ms * 10) / 10}ms`;
}

/**
 * One request log on one line: time, request id, method and path, status, outcome,
 * idempotency key, duration. A request still running (or whose process died) shows `---`.
 */
export function formatRequestLog(log: RequestLogLine): string {
  const status = log.status === null || log.status === undefined ? '---' : String(log.status);
  const outcome = log.outcome === 'replayed' && log.original_request ? `replayed(${log.original_request})` : log.outcome;
  const key = log.idempotency_key === null || log.idempotency_key === undefined ? 'key=-' : `key=${JSON.stringify(log.idempotency_key)}`;
  return [
    formatTime(log.created), log.id, `${log.method} ${log.path}`.padEnd(34), status, outcome.padEnd(8), key, formatDuration(log.duration_ms),
  ].join('  ');
}

/** The fields `events list` prints. */
export interface EventLine {
  id: string;
  type: string;
  created: number;
  data?: { object?: { id?: unknown; object?: unknown } };
  request?: { id: string | null; idempotency_key: string | null } | null;
}

export function eventRows(events: EventLine[]): string[] {
  return table(events.map((e) => [
    formatTime(e.created), e.id, e.type, typeof e.data?.object?.id === 'string' ? e.data.object.id : '-',
    e.request?.id ? `${e.request.id}${e.request.idempotency_key ? ` key=${JSON.stringify(e.request.idempotency_key)}` : ''}` : '-',
  ]));
}

/** The fields `keys list` prints (KeyRecord; `permissions` already described, '-' for unrestricted kinds). */
export function keyRows(keys: { accountId: string; kind: string; hint: string; permissions: string; created: number; revokedAt: number | null }[]): string[] {
  return table([
    ['ACCOUNT', 'KIND', 'KEY', 'PERMISSIONS', 'CREATED', 'REVOKED'],
    ...keys.map((k) => [k.accountId, k.kind, k.hint, k.permissions, formatTime(k.created), k.revokedAt === null ? '-' : formatTime(k.revokedAt)]),
  ]);
}

/** Writes lines to stdout; a closed pipe (`| head`) ends the process quietly. */
export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Progress and status lines: stderr, so that stdout stays data (`--json`, a created key). */
export function note(line = ''): void {
  process.stderr.write(`${line}\n`);
}
