/** Component schemas of the catalog (products, prices: src/billing/catalog.ts) and test clocks (src/billing/test_clocks.ts). */
import { CATALOG_SCHEMA_NAMES } from './schema_names.ts';
import { PRICE_INTERVALS } from '../../billing/billing_objects.ts';
import {
  type JsonSchema, shape, nullable, id, text, int, bool, oneOfValues, constant, alwaysNull, timestamp, currencyCode, metadata,
  livemode, objectName, expandable, nullableExpandable,
} from './blocks.ts';


const productId = (): JsonSchema => ({
  type: 'string', pattern: '^[A-Za-z0-9_-]+$', maxLength: 255, description: 'prod_... or the id chosen at creation.',
});

const product = shape({
  id: productId(),
  object: objectName('product'),
  active: bool('Whether the product is available for purchase.'),
  created: timestamp(),
  default_price: nullableExpandable('The default price of this product.', 'price'),
  external_id: nullable(text('Oncepay extension: the caller\'s permanent business key.')),
  description: nullable(text()),
  images: { type: 'array', items: text(), maxItems: 8 },
  livemode: livemode(),
  marketing_features: { type: 'array', maxItems: 0, description: 'Not supported by Oncepay: always empty.' },
  metadata: metadata(),
  name: text(),
  package_dimensions: alwaysNull('Not supported by Oncepay: always null.'),
  shippable: nullable(bool()),
  statement_descriptor: nullable({ type: 'string', maxLength: 22 }),
  tax_code: alwaysNull('Not supported by Oncepay: always null.'),
  tax_details: alwaysNull('Oncepay calculates no tax: always null.'),
  type: oneOfValues(['good', 'service'], 'service by default.'),
  unit_label: nullable({ type: 'string', maxLength: 12 }),
  updated: timestamp('When the product was last changed (Unix time in seconds).'),
  url: nullable(text()),
}, { title: 'Product' });

const deletedProduct = shape({
  id: productId(),
  object: objectName('product'),
  deleted: constant(true),
}, { title: 'Deleted product', description: 'What a deleted product renders as (on DELETE, and when a price expands it).' });

/** A price's id: price_..., or the id its plan was created with (a plan and its price share it). */
const priceId = (): JsonSchema => ({
  type: 'string', pattern: '^[A-Za-z0-9_-]+$', maxLength: 255, description: 'price_... or the id its plan was created with.',
});

/** Stripe's legacy Plan: the view of a recurring price (same id), at /v1/plans and on subscription items. */
const plan = shape({
  id: priceId(),
  object: objectName('plan'),
  active: bool(),
  amount: int(undefined, 0),
  amount_decimal: { type: 'string', pattern: '^[0-9]+$' },
  billing_scheme: oneOfValues(['per_unit']),
  created: timestamp(),
  currency: currencyCode(),
  interval: oneOfValues(PRICE_INTERVALS),
  interval_count: int(undefined, 1),
  livemode: livemode(),
  metadata: metadata(),
  meter: alwaysNull(),
  nickname: nullable(text()),
  product: expandable('The product.', 'product', 'deleted_product'),
  tiers_mode: alwaysNull(),
  transform_usage: alwaysNull(),
  trial_period_days: nullable(int(undefined, 0)),
  usage_type: oneOfValues(['licensed']),
}, { title: 'Plan', description: 'The legacy plan view of a recurring price (same id).' });

const deletedPlan = shape({
  id: priceId(),
  object: objectName('plan'),
  deleted: constant(true),
}, { title: 'Deleted plan' });

const price = shape({
  id: priceId(),
  object: objectName('price'),
  active: bool('Whether the price can be used for new purchases.'),
  billing_scheme: oneOfValues(['per_unit']),
  created: timestamp(),
  currency: currencyCode(),
  custom_unit_amount: alwaysNull('Not supported by Oncepay: always null.'),
  livemode: livemode(),
  external_id: nullable(text('Oncepay extension: the caller\'s permanent business key.')),
  lookup_key: nullable({ type: 'string', maxLength: 200 }),
  metadata: metadata(),
  nickname: nullable(text()),
  product: expandable('The product this price belongs to.', 'product', 'deleted_product'),
  recurring: nullable(shape({
    interval: oneOfValues(PRICE_INTERVALS),
    interval_count: int('Intervals between billings (at most three years in all).', 1),
    meter: alwaysNull(),
    trial_period_days: nullable(int('The trial a subscription created with trial_from_plan=true gets.', 1)),
    usage_type: oneOfValues(['licensed']),
  }, { description: 'Set for prices of type recurring.' })),
  tax_behavior: oneOfValues(['unspecified']),
  tiers_mode: alwaysNull('Oncepay prices are per unit: always null.'),
  transform_quantity: alwaysNull('Not supported by Oncepay: always null.'),
  type: oneOfValues(['one_time', 'recurring']),
  unit_amount: int('In the currency\'s smallest unit (0 for a free price).', 0),
  unit_amount_decimal: { type: 'string', pattern: '^[0-9]+$', description: 'unit_amount as a decimal string.' },
}, { title: 'Price' });

const testClock = shape({
  id: id('clock'),
  object: objectName('test_helpers.test_clock'),
  created: timestamp(),
  deletes_after: timestamp('When the clock is due to be deleted (Unix time in seconds).'),
  external_id: nullable(text('Oncepay extension: the caller\'s permanent business key.')),
  frozen_time: timestamp('The time of every object on this clock (Unix time in seconds).'),
  livemode: livemode(),
  name: nullable(text()),
  status: oneOfValues(['ready', 'advancing', 'internal_failure']),
  status_details: shape({
    advancing: shape({ target_frozen_time: timestamp('The frozen_time the clock is advancing to.') }),
  }, { optional: ['advancing'] }),
}, { title: 'Test clock' });

const deletedTestClock = shape({
  id: id('clock'),
  object: objectName('test_helpers.test_clock'),
  deleted: constant(true),
}, { title: 'Deleted test clock' });

export const CATALOG_SCHEMAS: Record<(typeof CATALOG_SCHEMA_NAMES)[number], JsonSchema> = {
  product,
  deleted_product: deletedProduct,
  price,
  plan,
  deleted_plan: deletedPlan,
  'test_helpers.test_clock': testClock,
  deleted_test_clock: deletedTestClock,
};
