/**
 * Routes of the legacy card surface: tokens, legacy charges (create with a source, capture,
 * update; retrieve and list are in payment_routes.ts) and a customer's card sources
 * (src/payments/tokens.ts, legacy_charges.ts, sources.ts).
 */
import { command, listParams, read, type Route } from './route_kit.ts';
import { enumOf, expandParam, nonEmptyString, object, optional } from '../schema/params.ts';
import { checkCreateToken, createToken, createTokenParams, retrieveToken } from '../payments/tokens.ts';
import {
  captureCharge, captureChargeParams, checkCreateCharge, createCharge, createChargeParams, updateCharge, updateChargeParams,
} from '../payments/legacy_charges.ts';
import {
  checkSource, createSource, createSourceParams, customerCard, deleteSource, deleteSourceParams, sourceVerificationUnsupported, updateSource,
  updateSourceParams, verifySourceCommand, verifySourceParams,
} from '../payments/sources.ts';
import { legacyCardOf } from '../payments/legacy_card.ts';
import { paymentMethods } from '../payments/payment_methods.ts';
import { retrieveCustomer } from '../payments/customers.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import type { ReadContext } from './route_kit.ts';

const id = () => nonEmptyString(255);

async function liveCustomerOf(ctx: ReadContext, customer: string): Promise<void> {
  const c = await retrieveCustomer(ctx.q, ctx.accountId, customer);
  if ('deleted' in c) throw resourceMissing('customer', customer);
}

export const legacyRoutes: Route[] = [
  command({
    method: 'POST', path: '/v1/tokens', summary: 'Create a card token', params: createTokenParams, command: createToken,
    response: 'token', check: checkCreateToken, declines: true,
  }),
  read({
    path: '/v1/tokens/:token', summary: 'Retrieve a token', response: 'token', params: object({ token: id(), expand: expandParam() }),
    read: (ctx, p) => retrieveToken(ctx.q, ctx.accountId, p.token),
  }),

  command({
    method: 'POST', path: '/v1/charges', summary: 'Create a charge (legacy: a token, a customer\'s card or its default source)',
    params: createChargeParams, command: createCharge, response: 'charge', check: checkCreateCharge, declines: true,
  }),
  command({
    method: 'POST', path: '/v1/charges/:charge', summary: 'Update a charge', params: updateChargeParams, command: updateCharge, response: 'charge',
  }),
  command({
    method: 'POST', path: '/v1/charges/:charge/capture', summary: 'Capture a charge made with capture=false', params: captureChargeParams,
    command: captureCharge, response: 'charge',
  }),

  command({
    method: 'POST', path: '/v1/customers/:customer/sources', summary: 'Add a card source to a customer', params: createSourceParams,
    command: createSource, response: 'card', declines: true,
    check: (p) => {
      if (p.source === undefined) throw invalidRequest('Missing required param: source.', 'source', 'parameter_missing');
      checkSource(p.source);
    },
  }),
  read({
    path: '/v1/customers/:customer/sources', summary: 'List a customer\'s card sources', response: 'list:card',
    params: listParams({ customer: id(), object: optional(enumOf(['card', 'bank_account', 'source', 'account'] as const)) }),
    async read(ctx, p) {
      await liveCustomerOf(ctx, p.customer);
      const url = `/v1/customers/${p.customer}/sources`;
      if (p.object && p.object !== 'card') return { object: 'list', data: [], has_more: false, url };
      if (p.starting_after && p.ending_before) throw invalidRequest('You may only specify one of these parameters: starting_after, ending_before.', 'ending_before');
      const page = await paymentMethods.list(ctx.q, ctx.accountId, {
        limit: p.limit ?? 10, startingAfter: p.starting_after, endingBefore: p.ending_before, created: p.created,
        where: { customer: p.customer }, whereSql: { sql: 'id LIKE $', value: 'card\\_%' },
      });
      return { object: 'list', data: page.data.map(legacyCardOf), has_more: page.hasMore, url };
    },
  }),
  read({
    path: '/v1/customers/:customer/sources/:id', summary: 'Retrieve a customer\'s card source', response: 'card',
    params: object({ customer: id(), id: id(), expand: expandParam() }),
    async read(ctx, p) {
      await liveCustomerOf(ctx, p.customer);
      return legacyCardOf((await customerCard(ctx.q, ctx.accountId, p.customer, p.id)).method);
    },
  }),
  command({
    method: 'POST', path: '/v1/customers/:customer/sources/:id', summary: 'Update a customer\'s card source', params: updateSourceParams,
    command: updateSource, response: 'card',
  }),
  command({
    method: 'DELETE', path: '/v1/customers/:customer/sources/:id', summary: 'Delete a customer\'s card source', params: deleteSourceParams,
    command: deleteSource, response: 'deleted_card',
  }),
  command({
    method: 'POST', path: '/v1/customers/:customer/sources/:id/verify', summary: 'Verify a bank account source (refused: Oncepay takes cards only)',
    params: verifySourceParams, command: verifySourceCommand, response: 'card', check: () => { throw sourceVerificationUnsupported(); },
  }),
];
