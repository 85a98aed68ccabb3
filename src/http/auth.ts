/** API key authentication: `Authorization: Bearer sk_...` or HTTP Basic with the key as user name. */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import { hashKey, type KeyResolver } from '../accounts/keys.ts';
import { REQUEST_RECORD_PLUGIN } from './request_record.ts';

export interface AuthenticationOptions {
  keys: KeyResolver;
}

/**
 * The key check of the API routes: key -> account, into the request record. An onRequest hook,
 * so a bad key is refused before the body is even read (as Stripe does).
 *
 * Wrapped in fastify-plugin so the hook lands in the scope that registers it: app.ts registers
 * it in the API's own scope, where it covers every /v1 route and nothing else (the ops and docs
 * routes need no key; the 404 handler looks at a key without requiring one). Its hook comes
 * after the request record's, which that scope inherited from the root.
 */
export const authentication = fp(async (app: FastifyInstance, opts: AuthenticationOptions): Promise<void> => {
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const key = extractKey(req.headers.authorization);
    const accountId = await opts.keys.resolve(key);
    if (!accountId) throw invalidKey(key);
    req.record.accountId = accountId;
    req.record.apiKeyHash = hashKey(key);
  });
}, { name: 'oncepay-authentication', dependencies: [REQUEST_RECORD_PLUGIN] });

/**
 * The account of a valid key in `header`, without requiring one (the 404 handler logs a
 * mistyped path for the account that called it); undefined for no key or a bad one.
 */
export async function accountOfValidKey(keys: KeyResolver, header: string | undefined): Promise<string | undefined> {
  if (!header) return undefined;
  try {
    return (await keys.resolve(extractKey(header))) ?? undefined;
  } catch {
    return undefined; // not a key: unlogged
  }
}

export function extractKey(header: string | undefined): string {
  if (!header) {
    throw unauthorized("You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').");
  }
  const [scheme, value = ''] = header.trim().split(/\s+/, 2);
  if (/^bearer$/i.test(scheme) && value) return value;
  if (/^basic$/i.test(scheme) && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const user = decoded.split(':')[0];
    if (user) return user;
  }
  throw unauthorized('Invalid Authorization header: use Bearer auth with your secret key (Authorization: Bearer sk_test_...) or HTTP Basic with the key as the user name.');
}

export function invalidKey(key: string): ApiError {
  const hint = key.length > 12 ? `${key.slice(0, 8)}****${key.slice(-4)}` : '****';
  return unauthorized(`Invalid API Key provided: ${hint}`);
}

function unauthorized(message: string): ApiError {
  return new ApiError(401, { type: 'invalid_request_error', message }, { 'WWW-Authenticate': 'Bearer realm="Oncepay"' });
}
