/**
 * The read side of products and prices: their list filters. Fields without a column of their
 * own (a product's shippable and url, a price's currency and recurring) are matched inside the
 * stored object.
 */
import { invalidRequest } from '../errors.ts';
import type { ListFilter } from '../store/object_table.ts';
import type { PriceInterval } from './billing_objects.ts';

/**
 * Filters on fields that have no column, as one condition with one parameter (ListQuery allows
 * one): `match` by JSON containment, and each list in `within` restricts a field to its values.
 */
function jsonFilter(match: Record<string, unknown>, within: { ids?: string[]; lookup_keys?: string[] }): ListFilter['whereSql'] {
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

export interface ProductListFilters {
  active?: boolean;
  shippable?: boolean;
  url?: string;
  type?: 'good' | 'service';
  ids?: string[];
  starting_after?: string;
  ending_before?: string;
}

/** Live products, narrowed by active, shippable, url, type and ids (which no cursor may accompany). */
export function productListFilter(p: ProductListFilters): ListFilter {
  if (p.ids && (p.starting_after || p.ending_before)) {
    throw invalidRequest('You cannot use ids together with starting_after or ending_before.', 'ids');
  }
  const where: Record<string, string | boolean> = { deleted: false };
  if (p.active !== undefined) where.active = p.active;
  const match: Record<string, unknown> = {};
  if (p.shippable !== undefined) match.shippable = p.shippable;
  if (p.url !== undefined) match.url = p.url;
  if (p.type !== undefined) match.type = p.type;
  return { where, whereSql: jsonFilter(match, { ids: p.ids }) };
}

export interface PriceListFilters {
  active?: boolean;
  product?: string;
  type?: 'one_time' | 'recurring';
  currency?: string;
  lookup_keys?: string[];
  recurring?: { interval?: PriceInterval; usage_type?: 'licensed' | 'metered' };
}

/** Prices narrowed by active, product, type (columns), currency, recurring and lookup_keys. */
export function priceListFilter(p: PriceListFilters): ListFilter {
  const where: Record<string, string | boolean> = { deleted: false };
  for (const k of ['active', 'product', 'type'] as const) if (p[k] !== undefined) where[k] = p[k];
  const match: Record<string, unknown> = {};
  if (p.currency !== undefined) match.currency = p.currency;
  if (p.recurring && Object.keys(p.recurring).length > 0) match.recurring = p.recurring;
  return { where, whereSql: jsonFilter(match, { lookup_keys: p.lookup_keys }) };
}
