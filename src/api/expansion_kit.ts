/**
 * The vocabulary of the expansion registry (src/api/expansion.ts): what an expandable field is
 * and the usual ways of resolving one. Its own module so the per-domain entry files
 * (expansion.ts for payments, billing_expansions.ts) can both use it without importing each other.
 */
import type { Queryable } from '../store/db.ts';
import type { ListFilter, ObjectTable, StoredObject } from '../store/object_table.ts';

export interface ExpandContext {
  q: Queryable;
  accountId: string;
}

/** How one expandable field (a path such as `latest_charge` or `invoice_settings.default_payment_method`) expands. */
export interface Expansion {
  /**
   * The object types the expanded value may be (its `object`), against which the rest of a dotted
   * path is checked before anything runs; empty for a field that is always null.
   */
  to: readonly string[];
  /** The field expands to a list envelope of `to` objects: the rest of a path starts with `data.`. */
  list?: boolean;
  /** An inline object a dotted path may go through but that cannot be expanded itself (subscription `items`). */
  through?: boolean;
  /** The expanded value from the field's current value (an id, or undefined for an includable list) and its parent. */
  resolve(ctx: ExpandContext, value: unknown, parent: Record<string, unknown>): Promise<unknown>;
}

/** By object type (`customer`, `payment_intent`...): its expandable field paths. */
export type ExpansionTable = Record<string, Record<string, Expansion>>;

type Table = ObjectTable<StoredObject & { deleted?: boolean; object?: string }>;

/** A reference by id to a row of `table`; a deleted object expands to Stripe's stub, as retrieving it does. */
export function byId(table: ObjectTable<any>, ...alsoTo: string[]): Expansion {
  const t = table as Table;
  return {
    to: [t.objectName, ...alsoTo],
    async resolve(ctx, value) {
      if (typeof value !== 'string') return value ?? null;
      const found = await t.find(ctx.q, ctx.accountId, value);
      if (!found) return value;
      return found.deleted ? { id: found.id, object: found.object, deleted: true } : found;
    },
  };
}

/**
 * A field Oncepay never fills (a feature it lacks, such as Connect's `on_behalf_of`): expanding
 * it answers null, or leaves it absent where the object omits it (an optional field such as a
 * charge's `transfer`, which Stripe's types allow to be absent but not null).
 */
export const alwaysNull: Expansion = { to: [], resolve: async (_ctx, value) => (value === undefined ? undefined : null) };

/**
 * An includable list of `table` rows (customer `subscriptions`): the first page of ten, newest
 * first, as Stripe renders it, filtered by what `filter` makes of the parent.
 */
export function listOf(table: ObjectTable<any>, url: (parent: Record<string, unknown>) => string,
  filter: (parent: Record<string, unknown>) => ListFilter): Expansion {
  const t = table as Table;
  return {
    to: [t.objectName],
    list: true,
    async resolve(ctx, _value, parent) {
      const page = await t.list(ctx.q, ctx.accountId, { limit: 10, ...filter(parent) });
      return { object: 'list', data: page.data, has_more: page.hasMore, url: url(parent) };
    },
  };
}

/** An includable list Oncepay never has items for (customer `sources`, `tax_ids`). */
export function emptyList(url: (parent: Record<string, unknown>) => string): Expansion {
  return { to: [], list: true, resolve: async (_ctx, _value, parent) => ({ object: 'list', data: [], has_more: false, url: url(parent) }) };
}

/**
 * A field holding an object inline (subscription `items`, an invoice's `lines`, a line's
 * `price`): nothing to fetch, but a dotted path may go through it (`items.data.price.product`).
 */
export function embedded(...to: string[]): Expansion {
  return { to, through: true, resolve: async (_ctx, value) => value ?? null };
}

/** An inline list envelope of `to` objects: paths go through it with `data.`. */
export function embeddedList(...to: string[]): Expansion {
  return { ...embedded(...to), list: true };
}

/** A field that already holds its object inline (a payment error's `payment_method`): expanding it changes nothing. */
export function inline(...to: string[]): Expansion {
  return { to, resolve: async (_ctx, value) => value ?? null };
}
