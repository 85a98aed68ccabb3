/**
 * What a publishable key (`pk_test_...`) may do, as on Stripe: the client-side calls a browser
 * or app makes — turn the card it was given into a payment method or a token, and retrieve or
 * confirm a payment or setup intent with its `client_secret`. Everything
 * else needs a secret (or restricted) key. The client secret is checked against the intent once
 * the body is read, then taken out of the parameters (the route's own schema has no place for
 * it on confirm: it is the publishable key's credential, not a parameter of the command).
 */
import type { FastifyRequest } from 'fastify';
import type { Queryable } from '../store/db.ts';
import { ApiError, invalidRequest } from '../errors.ts';
import { paymentIntents } from '../payments/payment_objects.ts';
import { setupIntents } from '../payments/setup_intents.ts';

/**
 * The routes open to publishable keys: method, route pattern, and for an intent's routes where its
 * client secret comes in (`kind` none: the card's own calls, which need no secret).
 */
const PUBLISHABLE_ROUTES: readonly { method: string; url: string; from: 'query' | 'body'; kind: 'PaymentIntent' | 'SetupIntent' | 'none' }[] = [
  { method: 'POST', url: '/v1/payment_methods', from: 'body', kind: 'none' },
  { method: 'POST', url: '/v1/tokens', from: 'body', kind: 'none' },
  { method: 'GET', url: '/v1/payment_intents/:intent', from: 'query', kind: 'PaymentIntent' },
  { method: 'POST', url: '/v1/payment_intents/:intent/confirm', from: 'body', kind: 'PaymentIntent' },
  { method: 'GET', url: '/v1/setup_intents/:intent', from: 'query', kind: 'SetupIntent' },
  { method: 'POST', url: '/v1/setup_intents/:intent/confirm', from: 'body', kind: 'SetupIntent' },
];

const routeOf = (method: string, url: string | undefined) => PUBLISHABLE_ROUTES.find((r) => r.method === method && r.url === url);

/** Refuses, in Stripe's shape (401), a publishable key on a route it may not call. */
export function checkPublishableRoute(method: string, url: string | undefined): void {
  if (routeOf(method, url)) return;
  throw new ApiError(401, {
    type: 'invalid_request_error',
    message: 'This API call needs a secret API key (sk_test_...): a publishable key (pk_test_...) may only create payment methods '
      + 'and tokens, and retrieve or confirm a PaymentIntent or a SetupIntent with its client_secret.',
  }, { 'WWW-Authenticate': 'Bearer realm="Oncepay"' });
}

/** After the body is read: the request's client_secret must be the intent's; then it leaves the parameters. */
export async function checkClientSecret(req: FastifyRequest, q: Queryable, accountId: string): Promise<void> {
  const route = routeOf(req.method, req.routeOptions.url)!;
  if (route.kind === 'none') return;
  const source = (route.from === 'query' ? req.query : req.body) as Record<string, unknown> | undefined;
  const given = source?.client_secret;
  if (typeof given !== 'string' || given === '') {
    throw invalidRequest(`A publishable key needs the ${route.kind}'s client_secret for this request.`, 'client_secret', 'parameter_missing');
  }
  const id = (req.params as { intent: string }).intent;
  const intent = await (route.kind === 'SetupIntent' ? setupIntents : paymentIntents).get(q, accountId, id);
  if (intent.client_secret !== given) {
    throw invalidRequest(`The client_secret provided does not match the client_secret of ${route.kind} ${id}.`, 'client_secret');
  }
  if (route.from === 'body') delete source!.client_secret;
}
