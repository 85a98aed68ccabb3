/**
 * `expand[]`: replaces an id with the object it names, for the references users expand most.
 * Dotted paths expand further (`latest_charge.balance_transaction`); `data.` applies to lists.
 * It sits above payments and billing because a field of one names an object of the other; the
 * commands of both reach it through the Expander port (src/payments/ports.ts).
 */
import type { Queryable } from '../store/db.ts';
import { invalidRequest } from '../errors.ts';
import { balanceTransactions, charges, customers, paymentIntents, refunds } from '../payments/payment_objects.ts';
import type { Expander } from '../payments/ports.ts';
import { prices, products } from '../billing/billing_objects.ts';
import type { ObjectTable, StoredObject } from '../store/object_table.ts';

const EXPANDABLE: Record<string, ObjectTable<StoredObject>> = {
  latest_charge: charges as unknown as ObjectTable<StoredObject>,
  charge: charges as unknown as ObjectTable<StoredObject>,
  customer: customers as unknown as ObjectTable<StoredObject>,
  payment_intent: paymentIntents as unknown as ObjectTable<StoredObject>,
  balance_transaction: balanceTransactions as unknown as ObjectTable<StoredObject>,
  refund: refunds as unknown as ObjectTable<StoredObject>,
  product: products as unknown as ObjectTable<StoredObject>,
  default_price: prices as unknown as ObjectTable<StoredObject>,
};

export async function expandObject<T extends object>(q: Queryable, accountId: string, obj: T, paths: readonly string[] | undefined): Promise<T> {
  if (!paths || paths.length === 0) return obj;
  const out = { ...obj } as Record<string, unknown>;
  for (const path of paths) await expandPath(q, accountId, out, path.split('.'), path);
  return out as T;
}

export async function expandList<T extends object>(q: Queryable, accountId: string, items: T[], paths: readonly string[] | undefined): Promise<T[]> {
  const itemPaths = (paths ?? []).map((p) => {
    if (!p.startsWith('data.')) throw invalidRequest(`This property cannot be expanded (${p}). List endpoints expand properties of their items: use data.${p}.`, 'expand');
    return p.slice(5);
  });
  if (itemPaths.length === 0) return items;
  return Promise.all(items.map((i) => expandObject(q, accountId, i, itemPaths)));
}

async function expandPath(q: Queryable, accountId: string, obj: Record<string, unknown>, parts: string[], full: string): Promise<void> {
  const [head, ...rest] = parts;
  const table = EXPANDABLE[head];
  if (!table || !(head in obj)) throw invalidRequest(`This property cannot be expanded (${full}).`, 'expand');
  let value = obj[head];
  if (typeof value === 'string') {
    const found = (await table.find(q, accountId, value)) as (StoredObject & { deleted?: boolean; object?: string }) | undefined;
    // A deleted customer or product expands to Stripe's stub, as retrieving it does.
    value = found?.deleted ? { id: found.id, object: found.object, deleted: true } : (found ?? value);
    obj[head] = value;
  }
  if (rest.length > 0 && value && typeof value === 'object') {
    const copy = { ...(value as Record<string, unknown>) };
    obj[head] = copy;
    await expandPath(q, accountId, copy, rest, full);
  }
}

export const expander: Expander = { object: expandObject, list: expandList };
