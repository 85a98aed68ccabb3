/** Routes of customers, payment intents, charges, refunds, the balance and the acquirer's ledger (src/payments/). */
import { command, listPage, listParams, listRoute, read, retrieveRoute, type Route } from './route_kit.ts';
import { currency, enumOf, expandParam, nonEmptyString, object, optional, string, unsupported } from '../schema/params.ts';
import { REFUSED } from '../payments/payment_params.ts';
import {
  createCustomer, createCustomerParams, deleteCustomer, deleteCustomerParams, retrieveCustomer, updateCustomer, updateCustomerParams,
} from '../payments/customers.ts';
import {
  cancelPaymentIntent, cancelPaymentIntentParams, capturePaymentIntent, capturePaymentIntentParams, checkCreateParams, checkOffSessionUsage, checkPaymentMethod,
  confirmPaymentIntent, confirmPaymentIntentParams, createPaymentIntent, createPaymentIntentParams, updatePaymentIntent,
  updatePaymentIntentParams,
} from '../payments/payment_intents.ts';
import { checkRefundTarget, createRefund, createRefundParams, updateRefund, updateRefundParams } from '../payments/refunds.ts';
import { balanceTransactions, charges, customers, paymentIntents, refunds } from '../payments/payment_objects.ts';
import { computeBalance } from '../payments/balance.ts';
import { expandObject } from './expansion.ts';

const id = () => nonEmptyString(255);

export const paymentRoutes: Route[] = [
  command({
    method: 'POST', path: '/v1/customers', summary: 'Create a customer', params: createCustomerParams, command: createCustomer,
    response: 'customer', check: (p) => checkPaymentMethod(p.payment_method), declines: true,
  }),
  read({
    path: '/v1/customers/:customer', summary: 'Retrieve a customer', response: ['customer', 'deleted_customer'],
    params: object({ customer: id(), expand: expandParam() }),
    async read(ctx, p) {
      const c = await retrieveCustomer(ctx.q, ctx.accountId, p.customer);
      return 'deleted' in c ? c : expandObject(ctx.q, ctx.accountId, c, p.expand);
    },
  }),
  command({
    method: 'POST', path: '/v1/customers/:customer', summary: 'Update a customer', params: updateCustomerParams, command: updateCustomer,
    response: 'customer', declines: true,
  }),
  command({
    method: 'DELETE', path: '/v1/customers/:customer', summary: 'Delete a customer', params: deleteCustomerParams, command: deleteCustomer,
    response: 'deleted_customer',
  }),
  listRoute('/v1/customers', customers, { email: optional(string({ max: 512 })), test_clock: optional(id()) }, { deleted: false }),

  command({
    method: 'POST', path: '/v1/payment_intents', summary: 'Create a PaymentIntent', params: createPaymentIntentParams,
    command: createPaymentIntent, response: 'payment_intent', check: checkCreateParams, declines: true,
  }),
  retrieveRoute('/v1/payment_intents', 'intent', paymentIntents, { client_secret: optional(string({ max: 500 })) }),
  command({
    method: 'POST', path: '/v1/payment_intents/:intent', summary: 'Update a PaymentIntent', params: updatePaymentIntentParams,
    command: updatePaymentIntent, response: 'payment_intent', check: (p) => checkPaymentMethod(p.payment_method),
  }),
  command({
    method: 'POST', path: '/v1/payment_intents/:intent/confirm', summary: 'Confirm a PaymentIntent', params: confirmPaymentIntentParams,
    command: confirmPaymentIntent, response: 'payment_intent', check: (p) => { checkPaymentMethod(p.payment_method); checkOffSessionUsage(p); }, declines: true,
  }),
  command({
    method: 'POST', path: '/v1/payment_intents/:intent/capture', summary: 'Capture a PaymentIntent', params: capturePaymentIntentParams,
    command: capturePaymentIntent, response: 'payment_intent',
  }),
  command({
    method: 'POST', path: '/v1/payment_intents/:intent/cancel', summary: 'Cancel a PaymentIntent', params: cancelPaymentIntentParams,
    command: cancelPaymentIntent, response: 'payment_intent',
  }),
  listRoute('/v1/payment_intents', paymentIntents, { customer: optional(id()), customer_account: REFUSED.customerAccount() }),

  retrieveRoute('/v1/charges', 'charge', charges),
  listRoute('/v1/charges', charges, { payment_intent: optional(id()), customer: optional(id()), transfer_group: REFUSED.connect() }),

  command({
    method: 'POST', path: '/v1/refunds', summary: 'Create a refund', params: createRefundParams, command: createRefund,
    response: 'refund', check: checkRefundTarget,
  }),
  retrieveRoute('/v1/refunds', 'refund', refunds),
  command({
    method: 'POST', path: '/v1/refunds/:refund', summary: 'Update a refund', params: updateRefundParams, command: updateRefund,
    response: 'refund',
  }),
  listRoute('/v1/refunds', refunds, { charge: optional(id()), payment_intent: optional(id()) }),

  read({
    path: '/v1/balance', summary: 'Retrieve the balance', response: 'balance', params: object({ expand: expandParam() }),
    read: (ctx) => computeBalance(ctx.q, ctx.accountId),
  }),
  retrieveRoute('/v1/balance_transactions', 'id', balanceTransactions),
  read({
    path: '/v1/balance_transactions', summary: 'List balance transactions', response: 'list:balance_transaction',
    params: listParams({
      type: optional(enumOf(['charge', 'refund'] as const)), source: optional(id()), currency: optional(currency()),
      payout: unsupported('payouts are not part of Oncepay: its balance is never paid out.'),
    }),
    read: (ctx, p) => listPage(ctx, p, balanceTransactions, '/v1/balance_transactions', {
      where: { ...(p.type ? { type: p.type } : {}), ...(p.source ? { source: p.source } : {}) },
      ...(p.currency ? { whereSql: { sql: "data->>'currency' = $", value: p.currency } } : {}),
    }),
  }),

  read({
    path: '/v1/test_helpers/acquirer_ledger',
    summary: 'The test acquirer\'s ledger for this account (Oncepay extension): every operation it performed, once per downstream key',
    response: 'list:acquirer_operation',
    params: object({ reference: optional(id()) }),
    async read(ctx, p) {
      const entries = await ctx.processor.ledger(ctx.accountId, p.reference);
      return { object: 'list', data: entries.map((e) => ({ object: 'acquirer_operation', ...e })), has_more: false, url: '/v1/test_helpers/acquirer_ledger' };
    },
  }),
];
