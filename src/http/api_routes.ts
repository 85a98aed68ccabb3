/**
 * The API routes, one Fastify route per entry of the route table (src/api/routes.ts): a read
 * runs its query, a command goes through the idempotency engine. Both record how they ended in
 * the request record, for the request log (request_logging.ts).
 *
 * An ordinary, encapsulated plugin: it only adds routes. app.ts registers it inside the API's
 * scope after authentication, so its routes inherit that scope's hooks (the record's, the
 * key check's) and the root's error handler.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { Db } from '../store/db.ts';
import type { Processor } from '../processor/types.ts';
import { type IdempotencyEngine, LockLost, MAX_KEY_LENGTH } from '../idempotency/engine.ts';
import { ApiError, invalidRequest, unknownParam } from '../errors.ts';
import type { Route } from '../api/routes.ts';
import { insertPending, pendingLog, type RequestOutcome } from '../logs/request_log.ts';
import { utf8Header } from './headers.ts';
import { requestFacts } from './request_logging.ts';
import type { Limiter } from './rate_limit.ts';
import { wireJson } from '../schema/wire_json.ts';

type ReadRoute = Extract<Route, { kind: 'read' }>;
type CommandRoute = Extract<Route, { kind: 'command' }>;

export interface ApiRoutesOptions {
  routes: Route[];
  engine: IdempotencyEngine;
  db: Db;
  processor: Processor;
  /** The per-key rate limit (a preHandler, so after authentication); none when limiting is off. */
  limiter: Limiter | undefined;
}

export async function apiRoutes(app: FastifyInstance, opts: ApiRoutesOptions): Promise<void> {
  for (const route of opts.routes) {
    app.route({
      method: route.method,
      url: route.path,
      preHandler: opts.limiter,
      handler: route.kind === 'read' ? readHandler(route, opts) : commandHandler(route, opts),
    });
  }
}

function readHandler(route: ReadRoute, opts: ApiRoutesOptions): RouteHandlerMethod {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const params = route.params.parse(collectParams(req, route), '');
    req.record.outcome = 'executed';
    // accountId: set by the key check, which runs for every route of this scope.
    const result = await route.read({ accountId: req.record.accountId!, q: opts.db, processor: opts.processor }, params);
    return reply.type('application/json').send(wireJson(result));
  };
}

function commandHandler(route: CommandRoute, opts: ApiRoutesOptions): RouteHandlerMethod {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const params = route.params.parse(collectParams(req, route), '');
    route.check?.(params);
    const key = idempotencyKey(req);
    // Echoed as received (header bytes), whatever the key decoded to.
    if (key !== undefined) reply.header('Idempotency-Key', req.headers['idempotency-key']!);
    const { record } = req;
    const accountId = record.accountId!; // set by the key check, as for reads
    const log = (record.requestLog = pendingLog(requestFacts(req)));
    let result: Awaited<ReturnType<IdempotencyEngine['execute']>>;
    try {
      result = await opts.engine.execute({
        accountId, requestId: req.id, key, method: route.method, path: req.url.split('?')[0],
        command: route.command, params, onFirstPhase: (q) => insertPending(q, accountId, log, record.startedUs),
      });
    } catch (err) {
      record.lockLost = err instanceof LockLost;
      record.outcome = failureOutcome(err, record.lockLost);
      throw err;
    }
    record.outcome = result.outcome;
    record.originalRequest = result.headers['Original-Request'];
    return reply.code(result.status).headers(result.headers).type('application/json').send(result.body);
  };
}

/** How a command that threw ended, for its log: the engine's refusals are conflicts or mismatches. */
function failureOutcome(err: unknown, lockLost: boolean): RequestOutcome {
  if (err instanceof ApiError && err.body.type === 'idempotency_error') return err.status === 409 ? 'conflict' : 'mismatch';
  return lockLost ? 'conflict' : 'executed';
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

/** The client's Idempotency-Key (UTF-8 read), checked; undefined when the header is absent. */
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
