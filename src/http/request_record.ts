/**
 * The one per-request record the HTTP plugins share: auth writes the account, the route
 * handler the idempotency outcome, the onSend hook the response text, and the request logging
 * plugin (request_logging.ts) reads it all back once the response is out. It is the only
 * field this layer adds to Fastify's request, so everything that travels from the handler to
 * the onResponse hook is declared (and typed) here.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { nowMicros, type RequestLog, type RequestOutcome } from '../logs/request_log.ts';
import { API_VERSION } from '../events/event_objects.ts';

export interface RequestRecord {
  /** Arrival time in wall-clock microseconds (orders request logs). */
  readonly startedUs: number;
  /** The account whose valid key made the call: set by auth, or by the 404 handler. */
  accountId?: string;
  /** SHA-256 of the API key (the rate limit's key); set by auth. */
  apiKeyHash?: string;
  /** How the request ended for its log: set by the handler once it runs ('rejected' if never). */
  outcome?: RequestOutcome;
  /** A replay's Original-Request header: the request whose response it repeats. */
  originalRequest?: string;
  /** The run was taken over by another process mid-request (answered 409). */
  lockLost: boolean;
  /** A command's pending log, whose row its first phase inserted; reads build theirs at the end. */
  requestLog?: RequestLog;
  /** The response body text, kept only for requests with an account (for their request log). */
  responsePayload?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Created by the first onRequest hook, so every hook and handler after it can rely on it.
     * (Fastify's frameworkErrors handler, for a URL the router cannot parse, runs on a bare
     * request before any hook: it must not read this.)
     */
    record: RequestRecord;
  }
}

export const REQUEST_RECORD_PLUGIN = 'oncepay-request-record';

/**
 * Wrapped in fastify-plugin: the decorator and the hooks must belong to the root instance, so
 * that every route (the API, the ops and docs routes, the 404 handler) gets them. It is
 * registered first, before any scope that holds routes: a child scope copies its parent's hooks
 * when it is created.
 */
export const requestRecord = fp(async (app: FastifyInstance): Promise<void> => {
  // null, not an object: a decorated object would be one instance shared by every request. (The
  // empty dependency list selects Fastify's typed overload for a null placeholder.)
  app.decorateRequest('record', null, []);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    req.record = { startedUs: nowMicros(), lockLost: false };
    reply.header('Request-Id', req.id);
    // The one API version whose shapes every answer has, whatever version a request pins.
    reply.header('Stripe-Version', API_VERSION);
  });
  // The serialized body, for the request log (only an account sees request logs).
  app.addHook('onSend', async (req: FastifyRequest, _reply: FastifyReply, payload: unknown) => {
    if (req.record.accountId && typeof payload === 'string') req.record.responsePayload = payload;
    return payload;
  });
}, { name: REQUEST_RECORD_PLUGIN });
