/**
 * The HTTP edge, assembled: Fastify's options (request ids, router, the failures that happen
 * before a request exists) and the plugins, one lifecycle concern each, sharing the per-request
 * record of request_record.ts:
 *
 *   body_parsing.ts     content-type parsers, the query string parser and its deferred error
 *   request_record.ts   the record (onRequest), Request-Id, the response text (onSend)
 *   request_logging.ts  process log line, metrics, request log row (onResponse)
 *   error_handling.ts   error handler, 404 handler, 5xx cause logging (onError)
 *   auth.ts             API key -> account (onRequest of the API routes only)
 *   rate_limit.ts       per-key limiter (preHandler of the API routes)
 *   api_routes.ts       the route table: reads, and commands through the idempotency engine
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import type { Processor } from '../processor/types.ts';
import type { IdempotencyEngine } from '../idempotency/engine.ts';
import type { KeyResolver } from '../accounts/keys.ts';
import { invalidRequest } from '../errors.ts';
import { randomId } from '../ids.ts';
import type { Route } from '../api/routes.ts';
import type { RequestLogWriter } from '../logs/request_log.ts';
import type { Metrics } from '../ops/metrics.ts';
import { registerOpsRoutes, type Readiness } from './ops_routes.ts';
import { BODY_LIMIT, bodyParsing, parseQuery, rejectBadQuery } from './body_parsing.ts';
import { requestRecord } from './request_record.ts';
import { requestLogging } from './request_logging.ts';
import { errorHandling, sendError } from './error_handling.ts';
import { authentication } from './auth.ts';
import { registerRateLimit } from './rate_limit.ts';
import { apiRoutes } from './api_routes.ts';
import { wireJson } from '../schema/wire_json.ts';

export { BODY_LIMIT } from './body_parsing.ts';
export { utf8Header } from './headers.ts';

export interface AppServices {
  db: Db;
  engine: IdempotencyEngine;
  processor: Processor;
  keys: KeyResolver;
  logger: Logger;
  routes: Route[];
  requestLogs: RequestLogWriter;
  metrics: Metrics;
  readiness: () => Promise<Readiness>;
  /** Requests per second per API key; 0 turns rate limiting off. */
  rateLimitPerSecond: number;
  /** Extra routes that need no key (OpenAPI document, docs), registered by the caller. */
  extras?: (app: FastifyInstance) => Promise<void>;
}

/**
 * The order below is the design. A child scope (a plugin without fastify-plugin, like the API's
 * scope or the docs' plugins) copies its parent's hooks and content-type parsers when it is
 * created, and finds handlers set on its parent only if they were set by then. So the
 * root-level plugins (fastify-plugin wrapped: they act on the root itself) come first, then the
 * routes. The rest keeps the order the app has always had (ops and docs routes, rate limit,
 * error handling), so the docs' own plugins see the same hooks and handlers as before; the API
 * scope is created last and so inherits every one of them.
 */
export async function buildApp(services: AppServices): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: services.logger as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    genReqId: () => `req_${randomId(14)}`,
    requestIdHeader: false,
    routerOptions: { querystringParser: parseQuery, maxParamLength: 1000 },
    // Requests arriving while closing get a Stripe-shaped 503 instead (error_handling.ts).
    return503OnClosing: false,
    // Router-level failures (a malformed URL) answer in Stripe's shape too. They run on a bare
    // request, before any hook (so without a request record, and unlogged).
    frameworkErrors: (err, req, reply) => {
      reply.header('Request-Id', req.id);
      sendError(reply, invalidRequest(`Invalid request URL: ${err.message}`));
    },
    // Failures before any request exists (oversized headers, broken HTTP): a raw Stripe-shaped answer.
    clientErrorHandler: (err: NodeJS.ErrnoException & { rawPacket?: unknown }, socket) => {
      if (err.code === 'ECONNRESET' || !socket.writable) return socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const body = wireJson({ error: { type: 'invalid_request_error', message: status === 431 ? 'Request headers too large.' : `Malformed HTTP request (${err.code ?? 'parse error'}).` } });
      socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json\r\nRequest-Id: req_${randomId(14)}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
  });

  // Root level, for every route: parsers, the request record, what each request leaves behind.
  await app.register(bodyParsing);
  await app.register(requestRecord);
  await app.register(requestLogging, { metrics: services.metrics, requestLogs: services.requestLogs });

  // Routes that need no key (their onResponse line is skipped: they are not /v1).
  await registerOpsRoutes(app, { metrics: services.metrics, readiness: services.readiness });
  await services.extras?.(app);

  const limiter = await registerRateLimit(app, services.rateLimitPerSecond);
  await app.register(errorHandling, { keys: services.keys });

  // The API in its own scope, so the key check covers its routes and nothing else. Hooks run in
  // the order they were added: the record's (inherited), the key check, then the deferred query
  // string error (a bad key is refused first).
  await app.register(async (api: FastifyInstance) => {
    await api.register(authentication, { keys: services.keys, db: services.db });
    api.addHook('onRequest', rejectBadQuery);
    await api.register(apiRoutes, {
      routes: services.routes, engine: services.engine, db: services.db, processor: services.processor, limiter,
    });
  });

  return app;
}
