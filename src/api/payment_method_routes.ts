/** Routes of PaymentMethods (src/payments/payment_method_commands.ts) and a customer's payment methods. */
import { command, listPage, listParams, read, type Route } from './route_kit.ts';
import { enumOf, expandParam, nonEmptyString, object, optional } from '../schema/params.ts';
import {
  attachPaymentMethod, attachPaymentMethodParams, checkCreatePaymentMethod, createPaymentMethod, createPaymentMethodParams,
  detachPaymentMethod, detachPaymentMethodParams, OTHER_TYPES, updatePaymentMethod, updatePaymentMethodParams,
} from '../payments/payment_method_commands.ts';
import { paymentMethods, resolvePaymentMethod } from '../payments/payment_methods.ts';
import { retrieveCustomer } from '../payments/customers.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import type { Queryable } from '../store/db.ts';
import type { SqlCondition } from '../store/object_table.ts';
import { expandObject } from './expansion.ts';
import { REFUSED } from '../payments/payment_params.ts';

const id = () => nonEmptyString(255);

/** The customer the URL names, or its 404 (a deleted one too). */
async function retrieveLiveCustomer(q: Queryable, accountId: string, customer: string): Promise<void> {
  const c = await retrieveCustomer(q, accountId, customer);
  if ('deleted' in c) throw resourceMissing('customer', customer);
}
/** Oncepay's payment methods are cards; a list for another type is empty, as Stripe's would be. */
const typeFilter = () => optional(enumOf(['card', ...OTHER_TYPES]));
const redisplayFilter = () => optional(enumOf(['always', 'limited', 'unspecified'] as const));
const redisplayIs = (value: string): SqlCondition => ({ sql: "data->>'allow_redisplay' = $", value });

export const paymentMethodRoutes: Route[] = [
  command({
    method: 'POST', path: '/v1/payment_methods', summary: 'Create a PaymentMethod (a card from its number or a token)',
    params: createPaymentMethodParams, command: createPaymentMethod, response: 'payment_method', check: checkCreatePaymentMethod, declines: true,
  }),
  read({
    path: '/v1/payment_methods/:payment_method', summary: 'Retrieve a PaymentMethod', response: 'payment_method',
    params: object({ payment_method: id(), expand: expandParam() }),
    async read(ctx, p) {
      const { method } = await resolvePaymentMethod(ctx.q, ctx.accountId, p.payment_method);
      return expandObject(ctx.q, ctx.accountId, method, p.expand);
    },
  }),
  command({
    method: 'POST', path: '/v1/payment_methods/:payment_method', summary: 'Update a PaymentMethod', params: updatePaymentMethodParams,
    command: updatePaymentMethod, response: 'payment_method',
  }),
  read({
    path: '/v1/payment_methods', summary: 'List PaymentMethods', response: 'list:payment_method',
    params: listParams({ customer: optional(id()), type: typeFilter(), allow_redisplay: redisplayFilter(), customer_account: REFUSED.customerAccount() }),
    async read(ctx, p) {
      if (p.type && p.type !== 'card') return { object: 'list', data: [], has_more: false, url: '/v1/payment_methods' };
      // Without a customer, the account's PaymentMethods (pm_), not its customers' card sources.
      const conditions: SqlCondition[] = [];
      if (!p.customer) conditions.push({ sql: 'id LIKE $', value: 'pm\\_%' });
      if (p.allow_redisplay) conditions.push(redisplayIs(p.allow_redisplay));
      return listPage(ctx, p, paymentMethods, '/v1/payment_methods', { where: { type: 'card', ...(p.customer ? { customer: p.customer } : {}) }, whereSql: conditions });
    },
  }),
  command({
    method: 'POST', path: '/v1/payment_methods/:payment_method/attach', summary: 'Attach a PaymentMethod to a Customer',
    params: attachPaymentMethodParams, command: attachPaymentMethod, response: 'payment_method', declines: true,
    check: (p) => { if (!p.customer) throw invalidRequest('Missing required param: customer.', 'customer', 'parameter_missing'); },
  }),
  command({
    method: 'POST', path: '/v1/payment_methods/:payment_method/detach', summary: 'Detach a PaymentMethod from a Customer',
    params: detachPaymentMethodParams, command: detachPaymentMethod, response: 'payment_method',
  }),
  read({
    path: '/v1/customers/:customer/payment_methods', summary: 'List a Customer\'s PaymentMethods', response: 'list:payment_method',
    params: listParams({ customer: id(), type: typeFilter(), allow_redisplay: redisplayFilter() }),
    async read(ctx, p) {
      const customer = p.customer;
      await retrieveLiveCustomer(ctx.q, ctx.accountId, customer);
      const url = `/v1/customers/${customer}/payment_methods`;
      if (p.type && p.type !== 'card') return { object: 'list', data: [], has_more: false, url };
      return listPage(ctx, p, paymentMethods, url, {
        where: { customer, type: 'card' }, ...(p.allow_redisplay ? { whereSql: redisplayIs(p.allow_redisplay) } : {}),
      });
    },
  }),
  read({
    path: '/v1/customers/:customer/payment_methods/:payment_method', summary: 'Retrieve a Customer\'s PaymentMethod', response: 'payment_method',
    params: object({ customer: id(), payment_method: id(), expand: expandParam() }),
    async read(ctx, p) {
      await retrieveLiveCustomer(ctx.q, ctx.accountId, p.customer);
      const { method } = await resolvePaymentMethod(ctx.q, ctx.accountId, p.payment_method);
      if (method.customer !== p.customer) {
        throw invalidRequest(`Customer ${p.customer} does not have a payment method with ID ${p.payment_method}`, 'payment_method', 'resource_missing');
      }
      return expandObject(ctx.q, ctx.accountId, method, p.expand);
    },
  }),
];
