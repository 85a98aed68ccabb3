/** Component schemas of the catalog (products, prices: src/billing/catalog.ts) and test clocks (src/billing/test_clocks.ts). */
import { type JsonSchema } from './blocks.ts';

export const CATALOG_SCHEMA_NAMES = ['product', 'deleted_product', 'price', 'test_helpers.test_clock', 'deleted_test_clock'] as const;

export const CATALOG_SCHEMAS: Record<(typeof CATALOG_SCHEMA_NAMES)[number], JsonSchema> = {
  product: { type: 'object' },
  deleted_product: { type: 'object' },
  price: { type: 'object' },
  'test_helpers.test_clock': { type: 'object' },
  deleted_test_clock: { type: 'object' },
};
