/**
 * Routes of Checkout Sessions (src/checkout/): Stripe's create, retrieve, update, list, expire and
 * line_items, and Oncepay's test helpers that complete a session (and answer its 3-D Secure step)
 * without a browser, through the command the hosted page runs.
 */
import { command, listParams, listPage, read, retrieveRoute, type Route } from './route_kit.ts';
import { enumOf, expandParam, integer, nonEmptyString, object, optional, string } from '../schema/params.ts';
import { invalidRequest } from '../errors.ts';
import { expandList } from './expansion.ts';
import { lineItemsUrl } from './checkout_expansions.ts';
import { checkoutSessions, loadSession } from '../checkout/session_objects.ts';
import { createCheckoutSession, expireCheckoutSession, updateCheckoutSession } from '../checkout/sessions.ts';
import { authenticateCheckoutSession, completeCheckoutSession } from '../checkout/completion.ts';
import {
  authenticateSessionParams, checkCreateSession, completeSessionParams, createSessionParams, expireSessionParams, updateSessionParams,
} from '../checkout/session_params.ts';
import { REFUSED } from '../payments/payment_params.ts';

const id = () => nonEmptyString(255);

export const checkoutRoutes: Route[] = [
  command({
    method: 'POST', path: '/v1/checkout/sessions', summary: 'Create a Checkout Session', params: createSessionParams,
    command: createCheckoutSession, response: 'checkout.session', check: checkCreateSession,
  }),
  retrieveRoute('/v1/checkout/sessions', 'session', checkoutSessions),
  command({
    method: 'POST', path: '/v1/checkout/sessions/:session', summary: 'Update a Checkout Session', params: updateSessionParams,
    command: updateCheckoutSession, response: 'checkout.session',
  }),
  read({
    path: '/v1/checkout/sessions', summary: 'List Checkout Sessions', response: 'list:checkout.session',
    params: listParams({
      customer: optional(id()), payment_intent: optional(id()), subscription: optional(id()), payment_link: optional(id()),
      status: optional(enumOf(['open', 'complete', 'expired'] as const)),
      customer_details: optional(object({ email: string({ max: 800 }) })),
      customer_account: REFUSED.customerAccount(),
    }),
    read(ctx, p) {
      // No session comes from a Payment Link (Oncepay has none): filtering by one lists none.
      if (p.payment_link) return Promise.resolve({ object: 'list', data: [], has_more: false, url: '/v1/checkout/sessions' });
      const where: Record<string, string> = {};
      for (const k of ['customer', 'payment_intent', 'subscription', 'status'] as const) if (p[k]) where[k] = p[k]!;
      if (p.customer_details) where.customer_email = p.customer_details.email;
      return listPage(ctx, p, checkoutSessions, '/v1/checkout/sessions', { where });
    },
  }),
  command({
    method: 'POST', path: '/v1/checkout/sessions/:session/expire', summary: 'Expire a Checkout Session', params: expireSessionParams,
    command: expireCheckoutSession, response: 'checkout.session',
  }),
  read({
    path: '/v1/checkout/sessions/:session/line_items', summary: 'Retrieve a Checkout Session\'s line items', response: 'list:item',
    params: object({
      session: id(), limit: optional(integer({ min: 1, max: 100 })), starting_after: optional(id()), ending_before: optional(id()), expand: expandParam(),
    }),
    async read(ctx, p) {
      if (p.starting_after && p.ending_before) throw invalidRequest('You may only specify one of these parameters: starting_after, ending_before.', 'ending_before');
      const { lineItems } = await loadSession(ctx.q, ctx.accountId, p.session, { param: 'session' });
      const limit = p.limit ?? 10;
      const at = (cursor: string, param: string) => {
        const i = lineItems.findIndex((li) => li.id === cursor);
        if (i < 0) throw invalidRequest(`No such line item: '${cursor}'`, param, 'resource_missing');
        return i;
      };
      // The items on the far side of the cursor; a page is the `limit` nearest it, and has_more says whether more lie beyond.
      const rest = p.ending_before ? lineItems.slice(0, at(p.ending_before, 'ending_before'))
        : p.starting_after ? lineItems.slice(at(p.starting_after, 'starting_after') + 1) : lineItems;
      const data = p.ending_before ? rest.slice(-limit) : rest.slice(0, limit);
      return { object: 'list', data: await expandList(ctx.q, ctx.accountId, data, p.expand), has_more: rest.length > data.length, url: lineItemsUrl(p.session) };
    },
  }),
  command({
    method: 'POST', path: '/v1/test_helpers/checkout/sessions/:session/complete',
    summary: 'Complete a Checkout Session with a payment method, as its hosted page does (Oncepay test helper)',
    params: completeSessionParams, command: completeCheckoutSession, response: 'checkout.session', declines: true,
  }),
  command({
    method: 'POST', path: '/v1/test_helpers/checkout/sessions/:session/authenticate',
    summary: 'Answer a Checkout Session\'s 3-D Secure step, Complete or Fail, as its hosted page does (Oncepay test helper)',
    params: authenticateSessionParams, command: authenticateCheckoutSession, response: 'checkout.session', declines: true,
  }),
];
