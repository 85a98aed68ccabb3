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
import { orderRoutes } from './order_routes.ts';
import { catalogRoutes } from './catalog_routes.ts';
import { billingRoutes } from './billing_routes.ts';
import { schemaName, type SchemaName } from './openapi/objects.ts';

export interface ReadContext {
  accountId: string;
  q: Queryable;
  processor: Processor;
}

/**
 * What a route answers with status 200, for the OpenAPI document (src/api/openapi/document.ts)
 * and the tests that check every response against it: a component schema of
 * src/api/openapi/objects.ts, `list:<name>` for Stripe's list envelope of them, or several
 * names when the answer may be any one of them.
 */
export type ResponseSpec = SchemaName | `list:${SchemaName}` | readonly SchemaName[];

export interface CommandRoute {
  kind: 'command';
  method: 'POST' | 'DELETE';
  path: string;
  summary: string;
  params: ObjectSchema<any>;
  command: string;
  response: ResponseSpec;
  /** Cross-parameter checks that need no database; run before anything is saved. */
  check?: (params: any) => void;
  /** The command may answer 402 card_error (a declined payment). */
  declines?: boolean;
}

export interface ReadRoute {
  kind: 'read';
  method: 'GET';
  path: string;
  summary: string;
  params: ObjectSchema<any>;
  response: ResponseSpec;
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
    kind: 'read', method: 'GET', path, summary: `List ${table.objectName}s`, params, response: `list:${schemaName(table.objectName)}`,
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
    kind: 'read', method: 'GET', path: `${path}/:${idParam}`, summary: `Retrieve a ${table.objectName}`, response: schemaName(table.objectName),
    params: object({ [idParam]: nonEmptyString(255), expand: expandParam(), ...extra }),
    async read(ctx, p) {
      const obj = await table.get(ctx.q, ctx.accountId, p[idParam]);
      return expandObject(ctx.q, ctx.accountId, obj, p.expand);
    },
  };
}

/** A command route; `extra` is its check, or the check and whether it may answer 402 (a decline). */
export const command = (
  method: 'POST' | 'DELETE', path: string, name: string, summary: string, params: ObjectSchema<any>, response: ResponseSpec,
  extra?: ((p: any) => void) | { check?: (p: any) => void; declines?: boolean },
): CommandRoute => {
  const { check, declines } = typeof extra === 'function' ? { check: extra, declines: undefined } : (extra ?? {});
  return { kind: 'command', method, path, command: name, summary, params, response, check, ...(declines ? { declines } : {}) };
};

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
