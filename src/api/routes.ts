/**
 * The API surface as data: each route names its parameter schema and either a command (run by
 * the idempotency engine) or a read. The HTTP layer turns these into Fastify routes; the
 * OpenAPI document can be generated from the same list.
 */
import type { Queryable } from '../store/db.ts';
import type { Processor } from '../processor/types.ts';
import { expandParam, integer, nonEmptyString, object, optional, string, enumOf, type ObjectSchema, type Schema } from './params.ts';
import { invalidRequest } from '../errors.ts';
import {
  createCustomerParams, updateCustomerParams, deleteCustomerParams,
} from '../payments/customers.ts';
import {
  createPaymentIntentParams, updatePaymentIntentParams, confirmPaymentIntentParams, capturePaymentIntentParams,
  cancelPaymentIntentParams, checkPaymentMethod, checkCreateParams,
} from '../payments/payment_intents.ts';
import { createRefundParams, updateRefundParams, checkRefundTarget } from '../payments/refunds.ts';
import { balanceTransactions, charges, customers, paymentIntents, refunds } from '../payments/objects.ts';
import { expandList, expandObject } from '../payments/expand.ts';
import { computeBalance } from '../payments/balance.ts';
import { resourceMissing } from '../errors.ts';
import type { ObjectTable, StoredObject, ListQuery } from '../store/objects.ts';
import type { UrlPolicy } from '../events/url_safety.ts';
import { eventRoutes } from './event_routes.ts';

export interface ReadContext {
  accountId: string;
  q: Queryable;
  processor: Processor;
}

export interface CommandRoute {
  kind: 'command';
  method: 'POST' | 'DELETE';
  path: string;
  summary: string;
  params: ObjectSchema<any>;
  command: string;
  /** Cross-parameter checks that need no database; run before anything is saved. */
  check?: (params: any) => void;
}

export interface ReadRoute {
  kind: 'read';
  method: 'GET';
  path: string;
  summary: string;
  params: ObjectSchema<any>;
  read: (ctx: ReadContext, params: any) => Promise<unknown>;
}

export type Route = CommandRoute | ReadRoute;

/** `created` filter: an exact timestamp or a range hash. */
function createdFilter(): Schema<ListQuery['created']> {
  const bound = optional(integer({ min: 0 }));
  const range = object({ gt: bound, gte: bound, lt: bound, lte: bound });
  return {
    required: false,
    parse(v, path) {
      if (v === undefined) return undefined;
      if (typeof v === 'string' || typeof v === 'number') {
        const t = integer({ min: 0 }).parse(v, path);
        return { gte: t, lte: t };
      }
      return range.parse(v, path);
    },
    jsonSchema: () => ({ anyOf: [{ type: 'integer' }, range.jsonSchema()] }),
  };
}

export function listParams<S extends Record<string, Schema<any>>>(filters: S) {
  return object({
    limit: optional(integer({ min: 1, max: 100 })),
    starting_after: optional(nonEmptyString(255)),
    ending_before: optional(nonEmptyString(255)),
    created: createdFilter(),
    expand: expandParam(),
    ...filters,
  });
}

export function listRoute<T extends StoredObject>(
  path: string, table: ObjectTable<T>, filters: Record<string, Schema<any>>, fixedWhere: Record<string, string | boolean> = {},
): ReadRoute {
  const params = listParams(filters);
  return {
    kind: 'read', method: 'GET', path, summary: `List ${table.objectName}s`, params,
    async read(ctx, p) {
      if (p.starting_after && p.ending_before) throw invalidRequest('You may only specify one of these parameters: starting_after, ending_before.', 'ending_before');
      const where: Record<string, string | boolean> = { ...fixedWhere };
      for (const k of Object.keys(filters)) if (p[k] !== undefined) where[k] = p[k];
      const page = await table.list(ctx.q, ctx.accountId, {
        limit: p.limit ?? 10, startingAfter: p.starting_after, endingBefore: p.ending_before, created: p.created, where,
      });
      return { object: 'list', data: await expandList(ctx.q, ctx.accountId, page.data, p.expand), has_more: page.hasMore, url: path };
    },
  };
}

export function retrieveRoute<T extends StoredObject>(path: string, idParam: string, table: ObjectTable<T>, extra: Record<string, Schema<any>> = {}): ReadRoute {
  return {
    kind: 'read', method: 'GET', path: `${path}/:${idParam}`, summary: `Retrieve a ${table.objectName}`,
    params: object({ [idParam]: nonEmptyString(255), expand: expandParam(), ...extra }),
    async read(ctx, p) {
      const obj = await table.get(ctx.q, ctx.accountId, p[idParam]);
      return expandObject(ctx.q, ctx.accountId, obj, p.expand);
    },
  };
}

export const command = (method: 'POST' | 'DELETE', path: string, name: string, summary: string, params: ObjectSchema<any>, check?: (p: any) => void): CommandRoute =>
  ({ kind: 'command', method, path, command: name, summary, params, check });

export function apiRoutes(policy: UrlPolicy): Route[] {
  return [...PAYMENT_ROUTES, ...eventRoutes(policy)];
}

const PAYMENT_ROUTES: Route[] = [
  command('POST', '/v1/customers', 'customers.create', 'Create a customer', createCustomerParams,
    (p) => checkPaymentMethod(p.payment_method)),
  {
    kind: 'read', method: 'GET', path: '/v1/customers/:customer', summary: 'Retrieve a customer',
    params: object({ customer: nonEmptyString(255), expand: expandParam() }),
    async read(ctx, p) {
      const c = await customers.find(ctx.q, ctx.accountId, p.customer);
      if (!c) throw resourceMissing('customer', p.customer);
      if (c.deleted) return { id: c.id, object: 'customer', deleted: true };
      return expandObject(ctx.q, ctx.accountId, c, p.expand);
    },
  },
  command('POST', '/v1/customers/:customer', 'customers.update', 'Update a customer', updateCustomerParams),
  command('DELETE', '/v1/customers/:customer', 'customers.delete', 'Delete a customer', deleteCustomerParams),
  listRoute('/v1/customers', customers, { email: optional(string({ max: 512 })) }, { deleted: false }),

  command('POST', '/v1/payment_intents', 'payment_intents.create', 'Create a PaymentIntent', createPaymentIntentParams, checkCreateParams),
  retrieveRoute('/v1/payment_intents', 'intent', paymentIntents, { client_secret: optional(string({ max: 500 })) }),
  command('POST', '/v1/payment_intents/:intent', 'payment_intents.update', 'Update a PaymentIntent', updatePaymentIntentParams,
    (p) => checkPaymentMethod(p.payment_method)),
  command('POST', '/v1/payment_intents/:intent/confirm', 'payment_intents.confirm', 'Confirm a PaymentIntent', confirmPaymentIntentParams,
    (p) => checkPaymentMethod(p.payment_method)),
  command('POST', '/v1/payment_intents/:intent/capture', 'payment_intents.capture', 'Capture a PaymentIntent', capturePaymentIntentParams),
  command('POST', '/v1/payment_intents/:intent/cancel', 'payment_intents.cancel', 'Cancel a PaymentIntent', cancelPaymentIntentParams),
  listRoute('/v1/payment_intents', paymentIntents, { customer: optional(nonEmptyString(255)) }),

  retrieveRoute('/v1/charges', 'charge', charges),
  listRoute('/v1/charges', charges, { payment_intent: optional(nonEmptyString(255)), customer: optional(nonEmptyString(255)) }),

  command('POST', '/v1/refunds', 'refunds.create', 'Create a refund', createRefundParams, checkRefundTarget),
  retrieveRoute('/v1/refunds', 'refund', refunds),
  command('POST', '/v1/refunds/:refund', 'refunds.update', 'Update a refund', updateRefundParams),
  listRoute('/v1/refunds', refunds, { charge: optional(nonEmptyString(255)), payment_intent: optional(nonEmptyString(255)) }),

  {
    kind: 'read', method: 'GET', path: '/v1/balance', summary: 'Retrieve the balance',
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
    params: object({ reference: optional(nonEmptyString(255)) }),
    async read(ctx, p) {
      const entries = await ctx.processor.ledger(ctx.accountId, p.reference);
      return { object: 'list', data: entries.map((e) => ({ object: 'acquirer_operation', ...e })), has_more: false, url: '/v1/test_helpers/acquirer_ledger' };
    },
  },
];
