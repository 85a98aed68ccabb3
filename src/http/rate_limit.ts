/**
 * Rate limiting per API key (@fastify/rate-limit, in-process store: N processes allow N times
 * the rate). The limiter is a preHandler of the API routes, so it runs after authentication and
 * counts by the hash of the key the request record holds.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { ApiError } from '../errors.ts';

export type Limiter = preHandlerAsyncHookHandler;

/**
 * Registers the plugin on `app` (it is fastify-plugin wrapped itself, so `app.rateLimit` is
 * `app`'s) with no global limit, and returns the per-key limiter for the API routes; undefined
 * when `perSecond` is 0 (limiting off).
 */
export async function registerRateLimit(app: FastifyInstance, perSecond: number): Promise<Limiter | undefined> {
  await app.register(rateLimit, { global: false });
  if (!(perSecond > 0)) return undefined;
  return app.rateLimit({
    max: perSecond,
    timeWindow: 1000,
    keyGenerator: (req) => req.record.apiKeyHash ?? req.ip,
    errorResponseBuilder: (_req, ctx) => new ApiError(429, {
      type: 'invalid_request_error',
      code: 'rate_limit',
      message: `Too many requests hit the API too quickly: this key may make ${ctx.max} requests per second. Retry after ${Math.max(1, Math.ceil(ctx.ttl / 1000))} s with exponential backoff.`,
    }, { 'Retry-After': String(Math.max(1, Math.ceil(ctx.ttl / 1000))), 'Stripe-Should-Retry': 'true' }),
  });
}
