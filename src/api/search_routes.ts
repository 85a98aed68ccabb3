/** `GET /v1/<resource>/search` for the seven resources Stripe lets a query find (src/api/search/). */
import { expandParam, integer, nonEmptyString, object, optional } from '../schema/params.ts';
import { read, type Route } from './route_kit.ts';
import { schemaName } from './openapi/schemas.ts';
import { charges, customers, paymentIntents } from '../payments/payment_objects.ts';
import { invoices, prices, products, subscriptions } from '../billing/billing_objects.ts';
import type { ObjectTable, StoredObject } from '../store/object_table.ts';
import { runSearch, type Searchable } from './search/search.ts';

/** The longest query accepted (10 clauses leave plenty of room for long values). */
export const MAX_QUERY_LENGTH = 10_000;

const searchParams = object({
  query: nonEmptyString(MAX_QUERY_LENGTH),
  limit: optional(integer({ min: 1, max: 100 })),
  page: optional(nonEmptyString(500)),
  expand: expandParam(),
});

const searchable = (resource: string, table: ObjectTable<any>, live: boolean): Searchable =>
  ({ resource, table: table as ObjectTable<StoredObject>, live });

export const SEARCHABLE: readonly Searchable[] = [
  searchable('customers', customers, true),
  searchable('payment_intents', paymentIntents, false),
  searchable('charges', charges, false),
  searchable('invoices', invoices, true),
  searchable('subscriptions', subscriptions, false),
  searchable('prices', prices, true),
  searchable('products', products, true),
];

export const searchRoutes: Route[] = SEARCHABLE.map((s) => read({
  path: `/v1/${s.resource}/search`,
  summary: `Search ${s.resource.replace(/_/g, ' ')} with Stripe's search query language`,
  params: searchParams,
  response: `search:${schemaName(s.table.objectName)}`,
  read: (ctx, p) => runSearch(ctx, s, p),
}));
