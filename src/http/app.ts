/**
 * The HTTP edge: request ids, auth, Stripe body parsing, routing to commands (through the
 * idempotency engine) or reads, and Stripe-shaped errors for everything that can go wrong.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import type { Processor } from '../processor/types.ts';
import { IdempotencyEngine, LockLost, MAX_KEY_LENGTH } from '../idempotency/engine.ts';
import { KeyResolver } from '../accounts/keys.ts';
import { ApiError, apiError, invalidRequest, unknownParam } from '../errors.ts';
import { SimulatedCrash } from '../faults.ts';
import { randomId } from '../ids.ts';
import type { Route } from '../api/routes.ts';
import { parseForm, parseJson } from './body.ts';
import { extractKey, invalidKey } from './auth.ts';
import { hashKey } from '../accounts/keys.ts';
import {
  completedLog, insertPending, loggedPath, nowMicros, pendingLog, type RequestLog, type RequestLogWriter, type RequestOutcome,
} from '../logs/request_log.ts';
import type { Metrics } from '../ops/metrics.ts';
import { registerOpsRoutes, type Readiness } from './ops_routes.ts';
import rateLimit from '@fastify/rate-limit';

export const BODY_LIMIT = 1024 * 1024;

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

declare module 'fastify' {
  interface FastifyRequest {
    accountId?: string;
    apiKeyHash?: string;
    /** Arrival time in wall-clock microseconds (orders request logs). */
    startedUs: number;
    /** How the request ended for its log: set by the handler once it runs. */
    outcome?: RequestOutcome;
    originalRequest?: string;
    /** The run was taken over by another process mid-request (answered 409). */
    lockLost?: boolean;
    requestLog?: RequestLog;
    responsePayload?: string;
  }
}

export async function buildApp(services: AppServices): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: services.logger as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    genReqId: () => `req_${randomId(14)}`,
    requestIdHeader: false,
    routerOptions: { querystringParser: parseQuery, maxParamLength: 1000 },
    return503OnClosing: true,
    // Router-level failures (a malformed URL) answer in Stripe's shape too.
    frameworkErrors: (err, req, reply) => {
      reply.header('Request-Id', req.id);
      sendError(reply, invalidRequest(`Invalid request URL: ${err.message}`));
    },
    // Failures before any request exists (oversized headers, broken HTTP): a raw Stripe-shaped answer.
    clientErrorHandler: (err: NodeJS.ErrnoException & { rawPacket?: unknown }, socket) => {
      if (err.code === 'ECONNRESET' || !socket.writable) return socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const body = JSON.stringify({ error: { type: 'invalid_request_error', message: status === 431 ? 'Request headers too large.' : `Malformed HTTP request (${err.code ?? 'parse error'}).` } });
      socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json\r\nRequest-Id: req_${randomId(14)}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    try { done(null, parseForm(body as string)); } catch (err) { done(err as Error, undefined); }
  });
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try { done(null, parseJson(body as string)); } catch (err) { done(err as Error, undefined); }
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    if ((body as string).length === 0) return done(null, {});
    done(invalidRequest(`Unsupported Content-Type ${req.headers['content-type'] ?? '(none)'}: send application/x-www-form-urlencoded (Stripe's encoding) or application/json.`), undefined);
  });

  app.decorateRequest('startedUs', 0);
  app.addHook('onRequest', async (req, reply) => {
    req.startedUs = nowMicros();
    reply.header('Request-Id', req.id);
  });
  app.addHook('onSend', async (req, _reply, payload) => {
    if (req.accountId && typeof payload === 'string') req.responsePayload = payload;
    return payload;
  });
  // One structured line, one request log and the metrics of every request (Fastify's own lines are off).
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url;
    if (route !== undefined && !route.startsWith('/v1/')) return; // health, metrics, docs
    const path = loggedPath(req.url.split('?')[0]);
    const ms = Math.round(reply.elapsedTime * 10) / 10;
    const outcome = req.outcome ?? 'rejected';
    req.log.info({ account: req.accountId, method: req.method, url: path, status: reply.statusCode, idempotency: outcome, ms }, 'request');
    const labels = { method: req.method, route: route ?? 'unmatched' };
    services.metrics.requests.inc({ ...labels, status: reply.statusCode, outcome });
    services.metrics.latency.observe(labels, reply.elapsedTime / 1000);
    if (outcome === 'mismatch') services.metrics.idempotency.inc({ event: 'mismatch' });
    if (req.lockLost) services.metrics.idempotency.inc({ event: 'conflict' });
    if (!req.accountId) return; // no account to show it to: the process log above has it
    services.requestLogs.add(req.accountId, completedLog(req.requestLog ?? pendingLog(requestFacts(req)), {
      status: reply.statusCode, outcome, durationMs: reply.elapsedTime, payload: req.responsePayload ?? null,
      originalRequest: req.originalRequest ?? null,
    }), req.startedUs);
  });

  await registerOpsRoutes(app, { metrics: services.metrics, readiness: services.readiness });
  await services.extras?.(app);
  await app.register(rateLimit, { global: false });
  const limiter = services.rateLimitPerSecond > 0 ? app.rateLimit({
    max: services.rateLimitPerSecond,
    timeWindow: 1000,
    keyGenerator: (req) => req.apiKeyHash ?? req.ip,
    errorResponseBuilder: (_req, ctx) => new ApiError(429, {
      type: 'invalid_request_error',
      code: 'rate_limit',
      message: `Too many requests hit the API too quickly: this key may make ${ctx.max} requests per second. Retry after ${Math.max(1, Math.ceil(ctx.ttl / 1000))} s with exponential backoff.`,
    }, { 'Retry-After': String(Math.max(1, Math.ceil(ctx.ttl / 1000))), 'Stripe-Should-Retry': 'true' }),
  }) : undefined;

  for (const route of services.routes) registerRoute(app, route, services, limiter);

  app.setNotFoundHandler(async (req, reply) => {
    // Logged for the account whose valid key made the call, if any (a typo'd path is worth seeing).
    const header = req.headers.authorization;
    if (header) {
      try { req.accountId = (await services.keys.resolve(extractKey(header))) ?? undefined; } catch { /* not a key: unlogged */ }
    }
    sendError(reply, new ApiError(404, {
      type: 'invalid_request_error',
      message: `Unrecognized request URL (${req.method}: ${req.url.split('?')[0]}). See the README for the routes Oncepay serves.`,
    }));
    return reply;
  });

  app.setErrorHandler((err: any, req, reply) => {
    if (err instanceof SimulatedCrash) {
      // A test's simulated crash: drop the connection like a dead process would.
      reply.hijack();
      req.raw.socket.destroy();
      return;
    }
    if (err instanceof ApiError) return sendError(reply, err);
    if (err instanceof LockLost) {
      return sendError(reply, new ApiError(409, {
        type: 'idempotency_error', code: 'idempotency_key_in_use',
        message: 'Another process took over this request after its lock expired; retry to get its result.',
      }, { 'Retry-After': '1' }));
    }
    switch (err?.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(reply, new ApiError(413, { type: 'invalid_request_error', message: `Request body too large: the limit is ${BODY_LIMIT} bytes (1 MiB).` }));
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendError(reply, invalidRequest(`Invalid request: ${err.message}`));
    }
    if (typeof err?.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, new ApiError(err.statusCode, { type: 'invalid_request_error', message: String(err.message) }));
    }
    req.log.error({ err: err?.cause ?? err, reqId: req.id }, 'unexpected error');
    return sendError(reply, apiError());
  });
  app.addHook('onError', async (req, _reply, err: any) => {
    // An ApiError wrapping an unexpected cause (the engine's 500s): log the cause, never lose it.
    if (err instanceof ApiError && err.status >= 500) req.log.error({ err: err.cause ?? err, reqId: req.id }, 'request failed');
  });

  return app;
}

/** Query strings are parsed while routing, where a throw would escape the request; defer it. */
const QUERY_ERROR = Symbol('queryError');
function parseQuery(text: string): Record<string | symbol, unknown> {
  try {
    return parseForm(text);
  } catch (err) {
    return { [QUERY_ERROR]: err };
  }
}

function sendError(reply: FastifyReply, err: ApiError): void {
  reply.code(err.status).headers(err.headers).type('application/json').send(JSON.stringify({ error: err.body }));
}

/** What the log records about a request (the parts known before it runs). */
function requestFacts(req: FastifyRequest) {
  const header = (name: string) => {
    const v = req.headers[name];
    return (Array.isArray(v) ? v[0] : v) ?? null;
  };
  const query = req.query as Record<string, unknown> | undefined;
  return {
    id: req.id, startedUs: req.startedUs, method: req.method, path: req.url.split('?')[0],
    query: query && typeof query === 'object' ? query : null,
    body: req.method === 'POST' && req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : null,
    idempotencyKey: utf8Header(header('idempotency-key')), ip: req.ip ?? null, userAgent: header('user-agent'), stripeVersion: header('stripe-version'),
  };
}

function registerRoute(app: FastifyInstance, route: Route, services: AppServices, limiter: ReturnType<FastifyInstance['rateLimit']> | undefined): void {
  app.route({
    method: route.method,
    url: route.path,
    // Authentication first (as Stripe): a bad key is refused before the body is even read.
    onRequest: async (req) => {
      const key = extractKey(req.headers.authorization);
      const accountId = await services.keys.resolve(key);
      if (!accountId) throw invalidKey(key);
      req.accountId = accountId;
      req.apiKeyHash = hashKey(key);
      const queryError = (req.query as Record<symbol, ApiError> | undefined)?.[QUERY_ERROR];
      if (queryError) throw queryError;
    },
    preHandler: limiter,
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const raw = collectParams(req, route);
      const params = route.params.parse(raw, '');
      if (route.kind === 'read') {
        req.outcome = 'executed';
        const result = await route.read({ accountId: req.accountId!, q: services.db, processor: services.processor }, params);
        return reply.type('application/json').send(JSON.stringify(result));
      }
      route.check?.(params);
      const key = idempotencyKey(req);
      // Echoed as received (header bytes), whatever the key decoded to.
      if (key !== undefined) reply.header('Idempotency-Key', req.headers['idempotency-key']!);
      const log = (req.requestLog = pendingLog(requestFacts(req)));
      let result;
      try {
        result = await services.engine.execute({
          accountId: req.accountId!, requestId: req.id, key, method: route.method, path: req.url.split('?')[0],
          command: route.command, params, onFirstPhase: (q) => insertPending(q, req.accountId!, log, req.startedUs),
        });
      } catch (err) {
        req.lockLost = err instanceof LockLost;
        req.outcome = err instanceof ApiError && err.body.type === 'idempotency_error'
          ? (err.status === 409 ? 'conflict' : 'mismatch') : req.lockLost ? 'conflict' : 'executed';
        throw err;
      }
      req.outcome = result.outcome;
      req.originalRequest = result.headers['Original-Request'];
      return reply.code(result.status).headers(result.headers).type('application/json').send(result.body);
    },
  });
}

/**
 * Query (GET), body (POST) or either (DELETE: stripe-node sends a query string, curl -d a body)
 * parameters, plus the ids named in the URL.
 */
function collectParams(req: FastifyRequest, route: Route): Record<string, unknown> {
  const fromQuery = (req.query ?? {}) as Record<string, unknown>;
  const fromBody = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
  let source = route.method === 'POST' ? fromBody : fromQuery;
  if (route.method === 'DELETE') {
    for (const name of Object.keys(fromBody)) {
      if (name in fromQuery) throw invalidRequest(`Parameter ${name} was sent both in the query string and in the body: send it once.`, name);
    }
    source = { ...fromQuery, ...fromBody };
  }
  const pathParams = (req.params ?? {}) as Record<string, string>;
  for (const name of Object.keys(pathParams)) {
    if (name in source) throw unknownParam(name);
  }
  return { ...source, ...pathParams };
}

/**
 * Node reads header bytes as Latin-1; clients (stripe-node included) send non-ASCII keys as
 * UTF-8. Valid UTF-8 is read as such, so `clé` stays `clé` in storage, logs and inspection URLs.
 */
export function utf8Header(value: string | null): string | null {
  if (value === null || !/[\u0080-\u00ff]/.test(value)) return value;
  const bytes = Buffer.from(value, 'latin1');
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : value;
}

function idempotencyKey(req: FastifyRequest): string | undefined {
  const header = req.headers['idempotency-key'];
  if (header === undefined) return undefined;
  const key = utf8Header(Array.isArray(header) ? header[0] : header)!;
  if (key.trim() === '') throw invalidRequest('The Idempotency-Key header cannot be empty: send a unique value (for example a UUID) or omit the header.', 'Idempotency-Key');
  if (key.length > MAX_KEY_LENGTH) {
    throw invalidRequest(`Keys for idempotent requests can only be at most ${MAX_KEY_LENGTH} characters long; this one has ${key.length}.`, 'Idempotency-Key');
  }
  return key;
}
