/**
 * Request bodies and query strings, as Fastify sees them: Stripe's form encoding or JSON
 * (through body.ts), a clear refusal for any other content type, and the query string parse
 * error that has to wait until the key is checked.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidRequest, type ApiError } from '../errors.ts';
import { parseForm, parseJson } from './body.ts';

/** Fastify's bodyLimit (set in app.ts); the 413 answer names it. */
export const BODY_LIMIT = 1024 * 1024;

/**
 * Wrapped in fastify-plugin so the parsers are the root instance's: a child scope copies the
 * parsers it finds when it is created, so this is registered before any scope with routes.
 */
export const bodyParsing = fp(async (app: FastifyInstance): Promise<void> => {
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
}, { name: 'oncepay-body-parsing' });

/** Query strings are parsed while routing, where a throw would escape the request; defer it. */
const QUERY_ERROR = Symbol('queryError');

/** The router's querystringParser (a Fastify() option, so app.ts passes it there). */
export function parseQuery(text: string): Record<string | symbol, unknown> {
  try {
    return parseForm(text);
  } catch (err) {
    return { [QUERY_ERROR]: err };
  }
}

/**
 * The deferred query string error, thrown once the key has been checked (a bad key is the
 * first thing a client hears about). Only API routes throw it: the ops, docs and 404 routes
 * never read their query.
 */
export async function rejectBadQuery(req: FastifyRequest): Promise<void> {
  const queryError = (req.query as Record<symbol, ApiError> | undefined)?.[QUERY_ERROR];
  if (queryError) throw queryError;
}
