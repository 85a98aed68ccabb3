/**
 * What every API request leaves behind once its response is out: one structured process log
 * line, its metrics, and (for a request made with a valid key) its request log row, all read
 * from the request record. Fastify's own request lines are off (app.ts).
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { completedLog, loggedPath, pendingLog, type RequestFacts, type RequestLogWriter } from '../logs/request_log.ts';
import type { Metrics } from '../ops/metrics.ts';
import { firstHeader, utf8Header } from './headers.ts';
import { REQUEST_RECORD_PLUGIN } from './request_record.ts';

export interface RequestLoggingOptions {
  metrics: Metrics;
  requestLogs: RequestLogWriter;
}

/**
 * Wrapped in fastify-plugin: the onResponse hook is the root instance's, so the 404 handler and
 * every scope created after it (the API's) inherit it; registered before them in app.ts.
 */
export const requestLogging = fp(async (app: FastifyInstance, opts: RequestLoggingOptions): Promise<void> => {
  app.addHook('onResponse', async (req: FastifyRequest, reply: FastifyReply) => {
    const route = req.routeOptions.url;
    if (route !== undefined && !route.startsWith('/v1/')) return; // health, metrics, docs
    const { record } = req;
    const path = loggedPath(req.url.split('?')[0]);
    const ms = Math.round(reply.elapsedTime * 10) / 10;
    const outcome = record.outcome ?? 'rejected';
    req.log.info({ account: record.accountId, method: req.method, url: path, status: reply.statusCode, idempotency: outcome, ms }, 'request');
    const labels = { method: req.method, route: route ?? 'unmatched' };
    opts.metrics.requests.inc({ ...labels, status: reply.statusCode, outcome });
    opts.metrics.latency.observe(labels, reply.elapsedTime / 1000);
    if (outcome === 'mismatch') opts.metrics.idempotency.inc({ event: 'mismatch' });
    if (record.lockLost) opts.metrics.idempotency.inc({ event: 'conflict' });
    if (!record.accountId) return; // no account to show it to: the process log above has it
    opts.requestLogs.add(record.accountId, completedLog(record.requestLog ?? pendingLog(requestFacts(req)), {
      status: reply.statusCode, outcome, durationMs: reply.elapsedTime, payload: record.responsePayload ?? null,
      originalRequest: record.originalRequest ?? null,
    }), record.startedUs);
  });
}, { name: 'oncepay-request-logging', dependencies: [REQUEST_RECORD_PLUGIN] });

/** What the log records about a request (the parts known before it runs). */
export function requestFacts(req: FastifyRequest): RequestFacts {
  const query = req.query as Record<string, unknown> | undefined;
  return {
    id: req.id, startedUs: req.record.startedUs, method: req.method, path: req.url.split('?')[0],
    query: query && typeof query === 'object' ? query : null,
    body: req.method === 'POST' && req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : null,
    idempotencyKey: utf8Header(firstHeader(req, 'idempotency-key')), ip: req.ip ?? null,
    userAgent: firstHeader(req, 'user-agent'), stripeVersion: firstHeader(req, 'stripe-version'),
  };
}
