/** Routes for request logs and idempotency key inspection (Oncepay extensions). */
import { enumOf, integer, nonEmptyString, object, optional, string } from '../schema/params.ts';
import { listRoute, read, type ReadRoute, type Route } from './route_kit.ts';
import { requestLogs } from '../logs/request_log.ts';
import { inspectKey } from '../idempotency/inspect.ts';
import { MAX_KEY_LENGTH } from '../idempotency/engine.ts';

export const OUTCOMES = ['executed', 'replayed', 'conflict', 'mismatch', 'rejected'] as const;

/** The batched request log writer (RequestLogWriter), as far as these reads need it. */
export interface PendingLogs {
  /** Stores the account's buffered logs (and every batch already on its way). */
  flush(accountId: string): Promise<void>;
}

export function logRoutes(opts: { lockTimeoutMs: number; retentionMs: number; pendingLogs?: PendingLogs }): Route[] {
  // Read your own writes: the logs of requests already answered are buffered for a few
  // milliseconds (src/logs/request_log.ts); every read of them first stores the account's.
  const afterFlush = (route: ReadRoute): ReadRoute => ({
    ...route,
    read: async (ctx, p) => {
      await opts.pendingLogs?.flush(ctx.accountId);
      return route.read(ctx, p);
    },
  });
  return [
    listRoute('/v1/request_logs', requestLogs, {
      idempotency_key: optional(nonEmptyString(MAX_KEY_LENGTH)),
      status: optional(integer({ min: 100, max: 599 })),
      path: optional(string({ max: 5000 })),
      method: optional(enumOf(['GET', 'POST', 'DELETE'] as const)),
      outcome: optional(enumOf(OUTCOMES)),
    }),
    read({
      path: '/v1/request_logs/:id', summary: 'Retrieve a request log', response: 'request_log',
      params: object({ id: nonEmptyString(255) }),
      read: (ctx, p) => requestLogs.get(ctx.q, ctx.accountId, p.id),
    }),
    read({
      path: '/v1/idempotency_keys/:key', response: 'idempotency_key',
      summary: 'Inspect an idempotency key: its state, recovery point, replays, stored response, the objects it created and the requests that carried it',
      params: object({ key: nonEmptyString(MAX_KEY_LENGTH) }),
      read: (ctx, p) => inspectKey(ctx.q, ctx.accountId, p.key, opts),
    }),
  ].map(afterFlush);
}
