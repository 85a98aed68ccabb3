/** Routes of products, prices and test clocks (src/billing/catalog.ts, src/billing/test_clocks.ts). */
import { array, boolean, currency, enumOf, expandParam, nonEmptyString, object, optional, string } from '../schema/params.ts';
import { invalidRequest } from '../errors.ts';
import { command, listPage, listParams, listRoute, retrieveRoute, type ReadContext, type Route } from './route_kit.ts';
import type { ListQuery } from '../store/object_table.ts';
import { PRICE_INTERVALS, prices, products, testClocks } from '../billing/billing_objects.ts';
import {
  checkCreatePrice, checkCreateProduct, createPriceParams, createProductParams, deleteProductParams,
  updatePriceParams, updateProductParams,
} from '../billing/catalog.ts';
import { createTestClockParams, deleteTestClockParams, liveTestClock } from '../billing/test_clocks.ts';

/**
 * Filters on fields that have no column, as one condition with one parameter (ListQuery allows
 * one): `match` by JSON containment, and each list in `within` restricts a field to its values.
 */
function jsonFilter(match: Record<string, unknown>, within: { ids?: string[]; lookup_keys?: string[] }): ListQuery['whereSql'] {
  const conds: string[] = [];
  if (Object.keys(match).length > 0) conds.push(`data::jsonb @> (f.v->'match')`);
  if (within.ids) conds.push(`(f.v->'ids') ? id`);
  if (within.lookup_keys) conds.push(`(f.v->'lookup_keys') ? (data->>'lookup_key')`);
  if (conds.length === 0) return undefined;
  return {
    sql: `EXISTS (SELECT 1 FROM (SELECT $::jsonb AS v) AS f WHERE ${conds.join(' AND ')})`,
    value: JSON.stringify({ match, ...within }),
  };
}

/** Nothing on a test clock is expandable. */
function noExpand(p: { expand?: string[] }): void {
  if (p.expand?.length) throw invalidRequest(`This property cannot be expanded (${p.expand[0]}).`, 'expand');
}

const productListParams = listParams({
  active: optional(boolean()),
  shippable: optional(boolean()),
  url: optional(string({ max: 5000 })),
  ids: optional(array(nonEmptyString(255), { max: 100 })),
});

async function listProducts(ctx: ReadContext, p: any) {
  if (p.ids && (p.starting_after || p.ending_before)) {
    throw invalidRequest('You cannot use ids together with starting_after or ending_before.', 'ids');
  }
  const where: Record<string, string | boolean> = { deleted: false };
  if (p.active !== undefined) where.active = p.active;
  const match: Record<string, unknown> = {};
  if (p.shippable !== undefined) match.shippable = p.shippable;
  if (p.url !== undefined) match.url = p.url;
  return listPage(ctx, p, products, '/v1/products', { where, whereSql: jsonFilter(match, { ids: p.ids }) });
}

const priceListParams = listParams({
  active: optional(boolean()),
  currency: optional(currency()),
  product: optional(nonEmptyString(255)),
  type: optional(enumOf(['one_time', 'recurring'] as const)),
  lookup_keys: optional(array(nonEmptyString(200), { max: 10 })),
  recurring: optional(object({
    interval: optional(enumOf(PRICE_INTERVALS)),
    usage_type: optional(enumOf(['licensed', 'metered'] as const)),
  })),
});

async function listPrices(ctx: ReadContext, p: any) {
  const where: Record<string, string | boolean> = {};
  for (const k of ['active', 'product', 'type'] as const) if (p[k] !== undefined) where[k] = p[k];
  const match: Record<string, unknown> = {};
  if (p.currency !== undefined) match.currency = p.currency;
  if (p.recurring && Object.keys(p.recurring).length > 0) match.recurring = p.recurring;
  return listPage(ctx, p, prices, '/v1/prices', { where, whereSql: jsonFilter(match, { lookup_keys: p.lookup_keys }) });
}

export const catalogRoutes: Route[] = [
  command('POST', '/v1/products', 'products.create', 'Create a product', createProductParams, 'product', checkCreateProduct),
  retrieveRoute('/v1/products', 'id', products, {}, { live: true }),
  command('POST', '/v1/products/:id', 'products.update', 'Update a product', updateProductParams, 'product'),
  command('DELETE', '/v1/products/:id', 'products.delete', 'Delete a product (refused while it has prices)', deleteProductParams, 'deleted_product'),
  { kind: 'read', method: 'GET', path: '/v1/products', summary: 'List products', response: 'list:product', params: productListParams, read: listProducts },

  command('POST', '/v1/prices', 'prices.create', 'Create a price', createPriceParams, 'price', checkCreatePrice),
  retrieveRoute('/v1/prices', 'price', prices),
  command('POST', '/v1/prices/:price', 'prices.update', 'Update a price', updatePriceParams, 'price'),
  { kind: 'read', method: 'GET', path: '/v1/prices', summary: 'List prices', response: 'list:price', params: priceListParams, read: listPrices },

  command('POST', '/v1/test_helpers/test_clocks', 'test_clocks.create', 'Create a test clock', createTestClockParams, 'test_helpers.test_clock', noExpand),
  {
    kind: 'read', method: 'GET', path: '/v1/test_helpers/test_clocks/:test_clock', summary: 'Retrieve a test clock', response: 'test_helpers.test_clock',
    params: object({ test_clock: nonEmptyString(255), expand: expandParam() }),
    async read(ctx, p) {
      noExpand(p);
      return liveTestClock(ctx.q, ctx.accountId, p.test_clock);
    },
  },
  command('DELETE', '/v1/test_helpers/test_clocks/:test_clock', 'test_clocks.delete',
    'Delete a test clock, with the customers attached to it (their subscriptions are canceled)', deleteTestClockParams, 'deleted_test_clock'),
  { ...listRoute('/v1/test_helpers/test_clocks', testClocks, {}, { deleted: false }), summary: 'List test clocks' },
];
