/**
 * Prometheus metrics (prom-client). Counters are fed by the HTTP layer, the engine and the
 * webhook dispatcher; gauges about shared state (open locks, webhook queue, pool) are read from
 * the database when scraped. Labels carry route patterns, never URLs or values.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../store/db.ts';

export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status' | 'outcome'>;
  readonly latency: Histogram<'method' | 'route'>;
  readonly idempotency: Counter<'event'>;
  readonly webhookAttempts: Counter<'outcome'>;
  readonly webhookClaims: Counter;
  readonly requestLogsDropped: Counter;

  constructor(db: Db, opts: { lockTimeoutMs: number }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'oncepay_process_' });
    this.requests = new Counter({
      name: 'oncepay_http_requests_total', help: 'API requests by route, status and idempotency outcome.',
      labelNames: ['method', 'route', 'status', 'outcome'], registers,
    });
    this.latency = new Histogram({
      name: 'oncepay_http_request_duration_seconds', help: 'Time from request received to response sent.',
      labelNames: ['method', 'route'], buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers,
    });
    this.idempotency = new Counter({
      name: 'oncepay_idempotency_events_total',
      help: 'Idempotency engine events: replayed, conflict, mismatch, resumed (a retry took over an abandoned key), completed_in_background (the completer finished one).',
      labelNames: ['event'], registers,
    });
    this.webhookAttempts = new Counter({
      name: 'oncepay_webhook_delivery_attempts_total', help: 'Webhook delivery attempts by outcome (delivered, failed, refused).',
      labelNames: ['outcome'], registers,
    });
    this.webhookClaims = new Counter({
      name: 'oncepay_webhook_claims_total', help: 'Claim statements the webhook dispatcher ran (after commits that wrote deliveries, polls, full batches).', registers,
    });
    this.requestLogsDropped = new Counter({
      name: 'oncepay_request_logs_dropped_total', help: 'Request logs that could not be written (database refused them or the buffer was full).', registers,
    });
    new Gauge({
      name: 'oncepay_idempotency_open_locks', help: 'Unfinished idempotency keys, by whether a live request holds them or they wait for the completer.',
      labelNames: ['state'], registers,
      async collect() {
        const { rows } = await db.query<{ held: number; abandoned: number }>(
          `SELECT count(*) FILTER (WHERE lock_token IS NOT NULL AND locked_at >= now() - make_interval(secs => $1))::int AS held,
                  count(*) FILTER (WHERE lock_token IS NULL OR locked_at < now() - make_interval(secs => $1))::int AS abandoned
             FROM idempotency_keys WHERE finished_at IS NULL`, [opts.lockTimeoutMs / 1000]);
        this.set({ state: 'held' }, rows[0].held);
        this.set({ state: 'abandoned' }, rows[0].abandoned);
      },
    });
    new Gauge({
      name: 'oncepay_webhook_queue_depth', help: 'Pending webhook deliveries, by whether they are due now or waiting for a retry.',
      labelNames: ['state'], registers,
      async collect() {
        const { rows } = await db.query<{ due: number; waiting: number }>(
          `SELECT count(*) FILTER (WHERE next_attempt_at <= now())::int AS due, count(*) FILTER (WHERE next_attempt_at > now())::int AS waiting
             FROM webhook_deliveries WHERE status = 'pending'`);
        this.set({ state: 'due' }, rows[0].due);
        this.set({ state: 'waiting' }, rows[0].waiting);
      },
    });
    new Gauge({
      name: 'oncepay_db_pool_connections', help: 'Database pool connections: total, idle, and requests waiting for one.',
      labelNames: ['state'], registers,
      collect() {
        const s = db.poolStats();
        this.set({ state: 'total' }, s.total);
        this.set({ state: 'idle' }, s.idle);
        this.set({ state: 'waiting' }, s.waiting);
      },
    });
  }
}
