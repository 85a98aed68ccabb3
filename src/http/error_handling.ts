/**
 * Stripe-shaped answers for everything that can go wrong once a request exists: the error
 * handler (domain errors, Fastify's own, the unexpected), the 404 handler, and the log line
 * of a 5xx whose cause would otherwise be lost. (Failures before routing — a malformed URL or
 * broken HTTP — are Fastify() options: see app.ts.)
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, apiError, databaseUnavailable, invalidRequest } from '../errors.ts';
import { isDatabaseUnavailable } from '../store/db.ts';
import { SimulatedCrash } from '../faults.ts';
import { LockLost } from '../idempotency/engine.ts';
import type { KeyResolver } from '../accounts/keys.ts';
import { accountOfValidKey } from './auth.ts';
import { BODY_LIMIT } from './body_parsing.ts';
import { REQUEST_RECORD_PLUGIN } from './request_record.ts';
import { wireJson } from '../schema/wire_json.ts';

export interface ErrorHandlingOptions {
  /** To log a 404 for the account whose valid key made the call. */
  keys: KeyResolver;
}

export function sendError(reply: FastifyReply, err: ApiError): void {
  reply.code(err.status).headers(err.headers).type('application/json').send(wireJson({ error: err.body }));
}

/**
 * Wrapped in fastify-plugin: the handlers and the hook are the root instance's. The API's scope
 * is created after this plugin has run (app.ts), so it inherits the onError hook (a child copies
 * its parent's hooks when created) and finds the error handler on its parent.
 */
export const errorHandling = fp(async (app: FastifyInstance, opts: ErrorHandlingOptions): Promise<void> => {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof SimulatedCrash) {
      // A test's simulated crash: drop the connection like a dead process would.
      reply.hijack();
      req.raw.socket.destroy();
      return;
    }
    if (err instanceof ApiError) return sendError(reply, err);
    if (err instanceof LockLost) return sendError(reply, lockLostError());
    const thrown = fieldsOf(err);
    switch (thrown.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(reply, new ApiError(413, { type: 'invalid_request_error', message: `Request body too large: the limit is ${BODY_LIMIT} bytes (1 MiB).` }));
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendError(reply, invalidRequest(`Invalid request: ${thrown.message}`));
    }
    // Fastify's other client errors keep their status, in Stripe's shape.
    if (typeof thrown.statusCode === 'number' && thrown.statusCode >= 400 && thrown.statusCode < 500) {
      return sendError(reply, new ApiError(thrown.statusCode, { type: 'invalid_request_error', message: String(thrown.message) }));
    }
    if (isDatabaseUnavailable(err)) {
      req.log.warn({ err, reqId: req.id }, 'database unavailable');
      return sendError(reply, databaseUnavailable());
    }
    req.log.error({ err: thrown.cause ?? err, reqId: req.id }, 'unexpected error');
    return sendError(reply, apiError());
  });

  app.setNotFoundHandler(async (req: FastifyRequest, reply: FastifyReply) => {
    // Logged for the account whose valid key made the call, if any (a typo'd path is worth seeing).
    req.record.accountId = await accountOfValidKey(opts.keys, req.headers.authorization);
    sendError(reply, new ApiError(404, {
      type: 'invalid_request_error',
      message: `Unrecognized request URL (${req.method}: ${req.url.split('?')[0]}). See the README for the routes Oncepay serves.`,
    }));
    return reply;
  });

  // Closing: requests that still arrive (on a kept-alive connection) get a Stripe-shaped 503
  // the clients retry, on a connection this server then closes. /readyz answers for itself.
  let closing = false;
  app.addHook('preClose', async () => { closing = true; });
  app.addHook('onRequest', async (req, reply) => {
    if (!closing || req.url === '/readyz') return;
    reply.header('Connection', 'close');
    sendError(reply, shuttingDown());
    return reply;
  });

  app.addHook('onError', async (req, _reply, err) => {
    // An ApiError wrapping an unexpected cause (the engine's 500s): log the cause, never lose it.
    if (err instanceof ApiError && err.status >= 500) req.log.error({ err: err.cause ?? err, reqId: req.id }, 'request failed');
  });
}, { name: 'oncepay-error-handling', dependencies: [REQUEST_RECORD_PLUGIN] });

function shuttingDown(): ApiError {
  return new ApiError(503, {
    type: 'api_error', code: 'shutting_down',
    message: 'This server is shutting down and takes no new requests. Retry (with the same Idempotency-Key): another instance, or this one once restarted, answers it.',
  }, { 'Retry-After': '1', 'Stripe-Should-Retry': 'true' });
}

/** The run was taken over by another process after its lock expired (the engine's LockLost). */
function lockLostError(): ApiError {
  return new ApiError(409, {
    type: 'idempotency_error', code: 'idempotency_key_in_use',
    message: 'Another process took over this request after its lock expired; retry to get its result.',
  }, { 'Retry-After': '1' });
}

/** The fields Fastify's own errors carry, read off whatever was thrown (anything can be). */
interface ThrownFields {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  cause?: unknown;
}

function fieldsOf(err: unknown): ThrownFields {
  return err !== null && (typeof err === 'object' || typeof err === 'function') ? (err as ThrownFields) : {};
}
