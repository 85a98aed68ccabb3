/**
 * API key authentication: `Authorization: Bearer sk_...` or HTTP Basic with the key as user name.
 * Then what the key may do: a secret key anything; a restricted key (`rk_test_`) what its
 * permissions grant for the route's resource (src/accounts/permissions.ts), else 403 as Stripe
 * answers; a publishable key (`pk_test_`) only the client-side calls (publishable_access.ts),
 * else 401.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import { hashKey, keyHint, type KeyResolver, type ResolvedKey } from '../accounts/keys.ts';
import { accessOfMethod, permissionName, permits, resourceOfPath } from '../accounts/permissions.ts';
import type { Queryable } from '../store/db.ts';
import { REQUEST_RECORD_PLUGIN } from './request_record.ts';
import { checkClientSecret, checkPublishableRoute } from './publishable_access.ts';

export interface AuthenticationOptions {
  keys: KeyResolver;
  /** Where a publishable key's client_secret is checked. */
  db: Queryable;
}

/**
 * The key check of the API routes: key -> account, into the request record. An onRequest hook,
 * so a bad key, or one not allowed this route, is refused before the body is even read (as
 * Stripe does); a publishable key's client_secret is checked once the body is read (preHandler).
 *
 * Wrapped in fastify-plugin so the hook lands in the scope that registers it: app.ts registers
 * it in the API's own scope, where it covers every /v1 route and nothing else (the ops and docs
 * routes need no key; the 404 handler looks at a key without requiring one). Its hook comes
 * after the request record's, which that scope inherited from the root.
 */
export const authentication = fp(async (app: FastifyInstance, opts: AuthenticationOptions): Promise<void> => {
  const publishable = new WeakSet<FastifyRequest>();
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const key = extractKey(req.headers.authorization);
    const resolved = await opts.keys.resolve(key);
    if (!resolved) throw invalidKey(key);
    authorize(resolved, key, req.method, req.routeOptions.url);
    if (resolved.kind === 'publishable') publishable.add(req);
    req.record.accountId = resolved.accountId;
    req.record.apiKeyHash = hashKey(key);
  });
  app.addHook('preHandler', async (req: FastifyRequest) => {
    if (publishable.has(req)) await checkClientSecret(req, opts.db, req.record.accountId!);
  });
}, { name: 'oncepay-authentication', dependencies: [REQUEST_RECORD_PLUGIN] });

/** Refuses what the key's kind and permissions do not allow on this route. */
function authorize(key: ResolvedKey, given: string, method: string, url: string | undefined): void {
  if (key.kind === 'publishable') return checkPublishableRoute(method, url);
  if (key.kind !== 'restricted') return;
  const resource = resourceOfPath(url ?? '');
  const access = accessOfMethod(method);
  if (permits(key.permissions ?? {}, resource, access)) return;
  throw new ApiError(403, {
    type: 'invalid_request_error',
    message: resource === 'reset'
      ? `The provided key '${keyHint(given)}' is a restricted key: ${method} ${url} needs a secret key (sk_test_...).`
      : `The provided key '${keyHint(given)}' does not have the permission this endpoint needs on account '${key.accountId}': `
        + `having the '${permissionName(resource, access)}' permission would allow this request.`,
  });
}

/**
 * The account of a valid key in `header`, without requiring one (the 404 handler logs a
 * mistyped path for the account that called it); undefined for no key or a bad one. Never
 * creates an account (any-key mode creates them on API routes only).
 */
export async function accountOfValidKey(keys: KeyResolver, header: string | undefined): Promise<string | undefined> {
  if (!header) return undefined;
  try {
    return (await keys.resolve(extractKey(header), { create: false }))?.accountId;
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
