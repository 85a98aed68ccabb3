/**
 * The API surface as data: each route names its parameter schema and either a command (run by
 * the idempotency engine) or a read. The HTTP layer turns these into Fastify routes; the
 * OpenAPI document can be generated from the same list.
 */
export * from './route_kit.ts';
import { command, listRoute, retrieveRoute, type Route } from './route_kit.ts';
import { expandParam, nonEmptyString, object, optional, string, enumOf } from '../schema/params.ts';
import {
  createCustomerParams, updateCustomerParams, deleteCustomerParams,
} from '../payments/customers.ts';
import {
  createPaymentIntentParams, updatePaymentIntentParams, confirmPaymentIntentParams, capturePaymentIntentParams,
  cancelPaymentIntentParams, checkPaymentMethod, checkCreateParams,
} from '../payments/payment_intents.ts';
import { createRefundParams, updateRefundParams, checkRefundTarget } from '../payments/refunds.ts';
import { balanceTransactions, charges, customers, paymentIntents, refunds } from '../payments/payment_objects.ts';
import { expandObject } from '../payments/expand.ts';
import { computeBalance } from '../payments/balance.ts';
import { resourceMissing } from '../errors.ts';
import type { UrlPolicy } from '../events/url_safety.ts';
import { eventRoutes } from './event_routes.ts';
import { orderRoutes } from './order_routes.ts';
import { catalogRoutes } from './catalog_routes.ts';
import { billingRoutes } from './billing_routes.ts';

export function apiRoutes(policy: UrlPolicy): Route[] {
  return [...PAYMENT_ROUTES, ...orderRoutes, ...catalogRoutes, ...billingRoutes, ...eventRoutes(policy)];
}

const PAYMENT_ROUTES: Route[] = [
  command('POST', '/v1/customers', 'customers.create', 'Create a customer', createCustomerParams, 'customer',
    (p) => checkPaymentMethod(p.payment_method)),
  {
    kind: 'read', method: 'GET', path: '/v1/customers/:customer', summary: 'Retrieve a customer',
    response: ['customer', 'deleted_customer'],
    params: object({ customer: nonEmptyString(255), expand: expandParam() }),
    async read(ctx, p) {
      const c = await customers.find(ctx.q, ctx.accountId, p.customer);
      if (!c) throw resourceMissing('customer', p.customer);
      if (c.deleted) return { id: c.id, object: 'customer', deleted: true };
      return expandObject(ctx.q, ctx.accountId, c, p.expand);
    },
  },
  command('POST', '/v1/customers/:customer', 'customers.update', 'Update a customer', updateCustomerParams, 'customer'),
  command('DELETE', '/v1/customers/:customer', 'customers.delete', 'Delete a customer', deleteCustomerParams, 'deleted_customer'),
  listRoute('/v1/customers', customers, { email: optional(string({ max: 512 })) }, { deleted: false }),

  command('POST', '/v1/payment_intents', 'payment_intents.create', 'Create a PaymentIntent', createPaymentIntentParams, 'payment_intent',
    { check: checkCreateParams, declines: true }),
  retrieveRoute('/v1/payment_intents', 'intent', paymentIntents, { client_secret: optional(string({ max: 500 })) }),
  command('POST', '/v1/payment_intents/:intent', 'payment_intents.update', 'Update a PaymentIntent', updatePaymentIntentParams, 'payment_intent',
    (p) => checkPaymentMethod(p.payment_method)),
  command('POST', '/v1/payment_intents/:intent/confirm', 'payment_intents.confirm', 'Confirm a PaymentIntent', confirmPaymentIntentParams, 'payment_intent',
    { check: (p) => checkPaymentMethod(p.payment_method), declines: true }),
  command('POST', '/v1/payment_intents/:intent/capture', 'payment_intents.capture', 'Capture a PaymentIntent', capturePaymentIntentParams, 'payment_intent'),
  command('POST', '/v1/payment_intents/:intent/cancel', 'payment_intents.cancel', 'Cancel a PaymentIntent', cancelPaymentIntentParams, 'payment_intent'),
  listRoute('/v1/payment_intents', paymentIntents, { customer: optional(nonEmptyString(255)) }),

  retrieveRoute('/v1/charges', 'charge', charges),
  listRoute('/v1/charges', charges, { payment_intent: optional(nonEmptyString(255)), customer: optional(nonEmptyString(255)) }),

  command('POST', '/v1/refunds', 'refunds.create', 'Create a refund', createRefundParams, 'refund', checkRefundTarget),
  retrieveRoute('/v1/refunds', 'refund', refunds),
  command('POST', '/v1/refunds/:refund', 'refunds.update', 'Update a refund', updateRefundParams, 'refund'),
  listRoute('/v1/refunds', refunds, { charge: optional(nonEmptyString(255)), payment_intent: optional(nonEmptyString(255)) }),

  {
    kind: 'read', method: 'GET', path: '/v1/balance', summary: 'Retrieve the balance', response: 'balance',
    params: object({ expand: expandParam() }),
    read: (ctx) => computeBalance(ctx.q, ctx.accountId),
  },
  retrieveRoute('/v1/balance_transactions', 'id', balanceTransactions),
  listRoute('/v1/balance_transactions', balanceTransactions, {
    type: optional(enumOf(['charge', 'refund'] as const)), source: optional(nonEmptyString(255)),
  }),

  {
    kind: 'read', method: 'GET', path: '/v1/test_helpers/acquirer_ledger',
    summary: 'The test acquirer\'s ledger for this account (Oncepay extension): every operation it performed, once per downstream key',
    response: 'list:acquirer_operation',
    params: object({ reference: optional(nonEmptyString(255)) }),
    async read(ctx, p) {
      const entries = await ctx.processor.ledger(ctx.accountId, p.reference);
      return { object: 'list', data: entries.map((e) => ({ object: 'acquirer_operation', ...e })), has_more: false, url: '/v1/test_helpers/acquirer_ledger' };
    },
  },
];
