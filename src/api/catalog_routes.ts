/** Routes of products, prices and test clocks (src/billing/catalog.ts, src/billing/test_clocks.ts). */
import { array, boolean, currency, enumOf, expandParam, nonEmptyString, object, optional, string, unsupported } from '../schema/params.ts';
import { invalidRequest } from '../errors.ts';
import { command, listPage, listParams, listRoute, read, retrieveRoute, type Route } from './route_kit.ts';
import { PRICE_INTERVALS, prices, products, testClocks } from '../billing/billing_objects.ts';
import {
  checkCreatePrice, checkCreateProduct, createPrice, createPriceParams, createProduct, createProductParams, deleteProduct,
  deleteProductParams, updatePrice, updatePriceParams, updateProduct, updateProductParams,
} from '../billing/catalog.ts';
import { planOf } from '../billing/catalog.ts';
import { priceListFilter, productListFilter } from '../billing/catalog_reads.ts';
import {
  checkCreatePlan, createPlan, createPlanParams, deletePlan, deletePlanParams, livePlanPrice, planListFilter, updatePlan, updatePlanParams,
} from '../billing/plans.ts';
import { expandList, expandObject } from './expansion.ts';
import { createTestClock, createTestClockParams, deleteTestClock, deleteTestClockParams, liveTestClock } from '../billing/test_clocks.ts';

/** Nothing on a test clock is expandable. */
function noExpand(p: { expand?: string[] }): void {
  if (p.expand?.length) throw invalidRequest(`This property cannot be expanded (${p.expand[0]}).`, 'expand');
}

export const catalogRoutes: Route[] = [
  command({
    method: 'POST', path: '/v1/products', summary: 'Create a product', params: createProductParams, command: createProduct,
    response: 'product', check: checkCreateProduct,
  }),
  retrieveRoute('/v1/products', 'id', products, {}, { live: true }),
  command({
    method: 'POST', path: '/v1/products/:id', summary: 'Update a product', params: updateProductParams, command: updateProduct,
    response: 'product',
  }),
  command({
    method: 'DELETE', path: '/v1/products/:id', summary: 'Delete a product (refused while it has prices)', params: deleteProductParams,
    command: deleteProduct, response: 'deleted_product',
  }),
  read({
    path: '/v1/products', summary: 'List products', response: 'list:product',
    params: listParams({
      active: optional(boolean()),
      shippable: optional(boolean()),
      url: optional(string({ max: 5000 })),
      type: optional(enumOf(['good', 'service'] as const)),
      ids: optional(array(nonEmptyString(255), { max: 100 })),
    }),
    read: (ctx, p) => listPage(ctx, p, products, '/v1/products', productListFilter(p)),
  }),

  command({
    method: 'POST', path: '/v1/prices', summary: 'Create a price', params: createPriceParams, command: createPrice,
    response: 'price', check: checkCreatePrice,
  }),
  retrieveRoute('/v1/prices', 'price', prices, {}, { live: true }),
  command({
    method: 'POST', path: '/v1/prices/:price', summary: 'Update a price', params: updatePriceParams, command: updatePrice,
    response: 'price',
  }),
  read({
    path: '/v1/prices', summary: 'List prices', response: 'list:price',
    params: listParams({
      active: optional(boolean()),
      currency: optional(currency()),
      product: optional(nonEmptyString(255)),
      type: optional(enumOf(['one_time', 'recurring'] as const)),
      lookup_keys: optional(array(nonEmptyString(200), { max: 10 })),
      recurring: optional(object({
        interval: optional(enumOf(PRICE_INTERVALS)),
        usage_type: optional(enumOf(['licensed', 'metered'] as const)),
        meter: unsupported('Oncepay has no metered billing (meters): no price has one.'),
      })),
    }),
    read: (ctx, p) => listPage(ctx, p, prices, '/v1/prices', priceListFilter(p)),
  }),

  // Plans: the legacy face of recurring prices (src/billing/plans.ts).
  command({
    method: 'POST', path: '/v1/plans', summary: 'Create a plan (and its recurring price, with the same id)', params: createPlanParams,
    command: createPlan, response: 'plan', check: checkCreatePlan,
  }),
  read({
    path: '/v1/plans/:plan', summary: 'Retrieve a plan (any recurring price, as a plan)', response: 'plan',
    params: object({ plan: nonEmptyString(255), expand: expandParam() }),
    read: async (ctx, p) => expandObject(ctx.q, ctx.accountId, planOf(await livePlanPrice(ctx.q, ctx.accountId, p.plan)), p.expand),
  }),
  command({
    method: 'POST', path: '/v1/plans/:plan', summary: 'Update a plan (and its price)', params: updatePlanParams, command: updatePlan,
    response: 'plan',
  }),
  command({
    method: 'DELETE', path: '/v1/plans/:plan', summary: 'Delete a plan (and its price; subscriptions keep theirs)', params: deletePlanParams,
    command: deletePlan, response: 'deleted_plan',
  }),
  read({
    path: '/v1/plans', summary: 'List plans (the recurring prices)', response: 'list:plan',
    params: listParams({ active: optional(boolean()), product: optional(nonEmptyString(255)) }),
    read: (ctx, p) => listPage(ctx, p, prices, '/v1/plans', {
      ...planListFilter(p),
      // Rendered as plans; the envelope's type is the table's.
      render: async (items) => (await expandList(ctx.q, ctx.accountId, items.map(planOf), p.expand)) as unknown as typeof items,
    }),
  }),

  command({
    method: 'POST', path: '/v1/test_helpers/test_clocks', summary: 'Create a test clock', params: createTestClockParams,
    command: createTestClock, response: 'test_helpers.test_clock', check: noExpand,
  }),
  read({
    path: '/v1/test_helpers/test_clocks/:test_clock', summary: 'Retrieve a test clock', response: 'test_helpers.test_clock',
    params: object({ test_clock: nonEmptyString(255), expand: expandParam() }),
    async read(ctx, p) {
      noExpand(p);
      return liveTestClock(ctx.q, ctx.accountId, p.test_clock);
    },
  }),
  command({
    method: 'DELETE', path: '/v1/test_helpers/test_clocks/:test_clock', params: deleteTestClockParams, command: deleteTestClock,
    summary: 'Delete a test clock, with the customers attached to it (their subscriptions are canceled)', response: 'deleted_test_clock',
  }),
  { ...listRoute('/v1/test_helpers/test_clocks', testClocks, {}, { deleted: false }), summary: 'List test clocks' },
];
