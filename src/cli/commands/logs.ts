/**
 * `oncepay logs tail`: the account's request logs, oldest first, then new ones as they arrive
 * (polling GET /v1/request_logs every 500 ms through a sliding window, see poll_window.ts: rows
 * are listed by arrival but written later, a read's after its response).
 *
 * A command's row exists from its first phase with `status: null`; the tail waits for its answer
 * (up to PENDING_GRACE_S) before printing it. The CLI's own polling requests (user agent
 * POLL_USER_AGENT) are not shown.
 */
import { POLL_USER_AGENT, type ApiClient } from '../api_client.ts';
import { formatRequestLog, note, print, type RequestLogLine } from '../output.ts';
import { fetchWindow, LOOKBACK_S, PollWindow, type Verdict } from '../poll_window.ts';
import { follow } from '../follow.ts';

export const OUTCOMES = ['executed', 'replayed', 'conflict', 'mismatch', 'rejected'] as const;

/** How long a request may stay unanswered before the tail prints it anyway (status `---`). */
export const PENDING_GRACE_S = 15;

export interface RequestLog extends RequestLogLine {
  user_agent?: string | null;
  [field: string]: unknown;
}

export interface TailOptions {
  idempotencyKey?: string;
  status?: number;
  path?: string;
  method?: string;
  outcome?: string;
  follow: boolean;
  limit: number;
  json?: boolean;
  intervalMs?: number;
}

export const isOwnPoll = (log: RequestLog) => log.method === 'GET' && log.user_agent === POLL_USER_AGENT;

export function tailFilters(opts: TailOptions): Record<string, string | number> {
  const q: Record<string, string | number> = {};
  if (opts.idempotencyKey !== undefined) q.idempotency_key = opts.idempotencyKey;
  if (opts.status !== undefined) q.status = opts.status;
  if (opts.path !== undefined) q.path = opts.path;
  if (opts.method !== undefined) q.method = opts.method.toUpperCase();
  if (opts.outcome !== undefined) q.outcome = opts.outcome;
  return q;
}

const running = (log: RequestLog, nowS: number) => log.status === null && nowS - log.created < PENDING_GRACE_S;

/** Own polls are skipped; a request still running waits for its answer, up to PENDING_GRACE_S. */
export const tailVerdict = (nowS: number) => (log: RequestLog): Verdict => (isOwnPoll(log) ? 'skip' : running(log, nowS) ? 'hold' : 'take');

export async function logsTail(client: ApiClient, opts: TailOptions, signal?: AbortSignal): Promise<void> {
  const filters = tailFilters(opts);
  const get = (query: Record<string, unknown>) => client.get<{ data: RequestLog[]; has_more: boolean }>('/v1/request_logs', { ...filters, ...query }, { userAgent: POLL_USER_AGENT });
  const show = (log: RequestLog) => print(opts.json ? JSON.stringify(log) : formatRequestLog(log));

  // History: the `limit` newest entries (not counting our own polls), oldest first.
  const history: RequestLog[] = [];
  let startingAfter: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const want = opts.limit - history.filter((l) => !isOwnPoll(l)).length;
    if (want <= 0 && history.length > 0) break;
    const page = await get({ limit: Math.max(1, Math.min(100, want)), ...(startingAfter ? { starting_after: startingAfter } : {}) });
    history.push(...page.data);
    if (!page.has_more || page.data.length === 0) break;
    startingAfter = page.data[page.data.length - 1].id;
  }
  const shown = history.filter((l) => !isOwnPoll(l)).slice(0, opts.limit).reverse();
  if (!opts.follow) {
    for (const log of shown) show(log); // as they are now, running requests included
    return;
  }

  const state = new PollWindow<RequestLog>();
  // Whatever exists now, shown or not, is not new: only what arrives from now on is printed.
  if (history.length > 0) state.ignore(await fetchWindow(get, history[0].created - LOOKBACK_S));
  state.ignore(history);
  const now = Math.floor(Date.now() / 1000);
  for (const log of shown) {
    if (running(log, now)) state.hold(log);
    else show(log);
  }

  const what = Object.entries(filters).map(([k, v]) => `${k}=${v}`).join(', ');
  note(`Tailing request logs of ${client.apiBase}${what ? ` (${what})` : ''}; ^C to quit`);
  await follow(client.apiBase, { intervalMs: opts.intervalMs ?? 500, signal }, async (online) => {
    const window = await fetchWindow(get, state.since);
    for (const log of state.take(window, tailVerdict(Math.floor(Date.now() / 1000)))) show(log);
    online();
  });
}
