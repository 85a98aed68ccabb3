/**
 * `expand[]`, by a registry declared per object type: for each `object` value, which field paths
 * are expandable and how each resolves (src/api/expansion_kit.ts). Stripe's rules: a dotted path
 * expands further (`latest_charge.balance_transaction`), through includable lists with `data.`
 * (`subscriptions.data.latest_invoice`); a list endpoint expands its items' fields with `data.`; a
 * field with nothing to expand answers null; an unknown path is a 400 naming `expand`, found
 * before a command runs (checkExpandPaths) so it never rolls back a phase after money moved.
 *
 * It sits above payments and billing because a field of one names an object of the other; the
 * commands of both reach it through the Expander port (src/payments/ports.ts). The payments
 * entries are here, billing's in billing_expansions.ts.
 */
import type { Queryable } from '../store/db.ts';
import { invalidRequest } from '../errors.ts';
import { balanceTransactions, charges, customers, paymentIntents, refunds } from '../payments/payment_objects.ts';
import { paymentMethod } from './payment_method_expansion.ts';
import { cardSource, cardSources } from './legacy_expansion.ts';
import { taxIds } from '../payments/tax_ids.ts';
import type { Expander } from '../payments/ports.ts';
import { alwaysNull, byId, emptyList, inline, listOf, type Expansion, type ExpansionTable } from './expansion_kit.ts';
import { BILLING_EXPANSIONS } from './billing_expansions.ts';
import { CHECKOUT_EXPANSIONS } from './checkout_expansions.ts';
import { PORTAL_EXPANSIONS } from './portal_expansions.ts';


/** A balance transaction's source: the charge or refund it records. */
const balanceSource: Expansion = {
  to: ['charge', 'refund'],
  async resolve(ctx, value) {
    if (typeof value !== 'string') return value ?? null;
    const table = value.startsWith('re_') ? refunds : charges;
    return (await table.find(ctx.q, ctx.accountId, value)) ?? value;
  },
};

/** A tax ID owner's field: stays absent when the owner has none (an account's own tax ID has no owner.customer). */
const ownerField = (e: Expansion): Expansion => ({ ...e, resolve: async (ctx, v, p) => (v === undefined ? undefined : e.resolve(ctx, v, p)) });

export const PAYMENT_EXPANSIONS: ExpansionTable = {
  customer: {
    cash_balance: alwaysNull,
    default_source: cardSource,
    discount: alwaysNull,
    'invoice_settings.default_payment_method': paymentMethod((c) => c.id),
    sources: cardSources,
    tax_ids: listOf(taxIds, (c) => `/v1/customers/${c.id as string}/tax_ids`, (c) => ({ where: { customer: c.id as string, deleted: false } })),
  },
  payment_intent: {
    'amount_details.line_items': emptyList((pi) => `/v1/payment_intents/${pi.id as string}/amount_details_line_items`),
    application: alwaysNull,
    'last_payment_error.payment_intent': alwaysNull,
    'last_payment_error.payment_method': inline('payment_method'),
    'last_payment_error.setup_intent': alwaysNull,
    'last_payment_error.source': alwaysNull,
    'transfer_data.destination': alwaysNull,
    customer: byId(customers),
    latest_charge: byId(charges),
    on_behalf_of: alwaysNull,
    payment_method: paymentMethod(),
    payment_record: alwaysNull,
    review: alwaysNull,
    source: alwaysNull,
  },
  charge: {
    application: alwaysNull,
    application_fee: alwaysNull,
    balance_transaction: byId(balanceTransactions),
    customer: byId(customers),
    failure_balance_transaction: alwaysNull,
    on_behalf_of: alwaysNull,
    payment_intent: byId(paymentIntents),
    'payment_method_details.card.mandate': alwaysNull,
    ...Object.fromEntries(['bancontact', 'ideal', 'sofort'].flatMap((m) => [
      [`payment_method_details.${m}.generated_sepa_debit`, alwaysNull], [`payment_method_details.${m}.generated_sepa_debit_mandate`, alwaysNull]])),
    'payment_method_details.us_bank_account.mandate': alwaysNull,
    refunds: listOf(refunds, (c) => `/v1/charges/${c.id as string}/refunds`, (c) => ({ where: { charge: c.id as string } })),
    review: alwaysNull,
    source_transfer: alwaysNull,
    transfer: alwaysNull,
    'transfer_data.destination': alwaysNull,
  },
  refund: {
    balance_transaction: byId(balanceTransactions),
    charge: byId(charges),
    customer: byId(customers),
    failure_balance_transaction: alwaysNull,
    payment_intent: byId(paymentIntents),
    payment_method: paymentMethod(),
    source_transfer_reversal: alwaysNull,
    transfer_reversal: alwaysNull,
  },
  balance_transaction: {
    source: balanceSource,
  },
  card: {
    account: alwaysNull,
    customer: byId(customers),
  },
  token: {
    bank_account: alwaysNull,
    card: inline('card'),
  },
  tax_id: {
    customer: byId(customers),
    'owner.account': ownerField(alwaysNull),
    'owner.application': ownerField(alwaysNull),
    'owner.customer': ownerField(byId(customers)),
  },
  payment_method: {
    'card.generated_from.setup_attempt': alwaysNull,
    customer: byId(customers),
    'sepa_debit.generated_from.charge': alwaysNull,
    'sepa_debit.generated_from.setup_attempt': alwaysNull,
  },
  setup_intent: {
    application: alwaysNull,
    customer: byId(customers),
    'last_setup_error.payment_intent': alwaysNull,
    'last_setup_error.payment_method': inline('payment_method'),
    'last_setup_error.setup_intent': alwaysNull,
    'last_setup_error.source': alwaysNull,
    latest_attempt: alwaysNull,
    mandate: alwaysNull,
    on_behalf_of: alwaysNull,
    payment_method: paymentMethod((si) => si.customer),
    single_use_mandate: alwaysNull,
  },
};

/** Both domains' entries by object type; an object type may take fields from both, never the same field twice. */
function merge(...tables: ExpansionTable[]): ExpansionTable {
  const out: ExpansionTable = {};
  for (const table of tables) {
    for (const [type, fields] of Object.entries(table)) {
      for (const [path, e] of Object.entries(fields)) {
        if (out[type]?.[path]) throw new Error(`expansion ${type}.${path} is declared twice`);
        (out[type] ??= {})[path] = e;
      }
    }
  }
  return out;
}

export const EXPANSIONS: ExpansionTable = merge(PAYMENT_EXPANSIONS, BILLING_EXPANSIONS, CHECKOUT_EXPANSIONS, PORTAL_EXPANSIONS);

/** The longest declared field path that starts `parts` (`invoice_settings.default_payment_method` before `invoice_settings`). */
function entryFor(type: string, parts: readonly string[]): { field: string[]; e: Expansion } | undefined {
  const fields = EXPANSIONS[type];
  if (!fields) return undefined;
  for (let n = parts.length; n > 0; n--) {
    const e = fields[parts.slice(0, n).join('.')];
    if (e) return { field: parts.slice(0, n), e };
  }
  return undefined;
}

/** What follows an entry in a path: its items' paths for a list (after `data`), or undefined when the path is invalid. */
function restAfter(e: Expansion, rest: readonly string[]): readonly string[] | undefined {
  if (rest.length === 0) return e.through ? undefined : rest;
  if (!e.list) return rest;
  return rest[0] === 'data' && rest.length > 1 ? rest.slice(1) : undefined;
}

function canExpand(type: string, parts: readonly string[]): boolean {
  const found = entryFor(type, parts);
  if (!found) return false;
  const rest = restAfter(found.e, parts.slice(found.field.length));
  if (rest === undefined) return false;
  return rest.length === 0 || found.e.to.some((t) => canExpand(t, rest));
}

const cannotExpand = (path: string) => invalidRequest(`This property cannot be expanded (${path}).`, 'expand');

/** Whether every path can be expanded on an object of one of `types` (its `object` values); 400 naming `expand` for the first that cannot. */
export function checkExpandPaths(types: readonly string[], paths: readonly string[] | undefined): void {
  for (const path of paths ?? []) {
    if (!types.some((t) => canExpand(t, path.split('.')))) throw cannotExpand(path);
  }
}

/** The expandable fields declared for objects of `type` (for tests). */
export function expansionsOf(type: string): Record<string, Expansion> {
  return EXPANSIONS[type] ?? {};
}

function getAt(obj: Record<string, unknown>, field: readonly string[]): unknown {
  let v: unknown = obj;
  for (const f of field) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[f] : undefined;
  return v;
}

/** Sets a (possibly nested) field, copying the objects on the way so stored objects are never changed. */
function setAt(obj: Record<string, unknown>, field: readonly string[], value: unknown): void {
  let target = obj;
  for (const f of field.slice(0, -1)) {
    const copy = { ...(target[f] as Record<string, unknown>) };
    target[f] = copy;
    target = copy;
  }
  target[field[field.length - 1]] = value;
}

async function expandPath(q: Queryable, accountId: string, obj: Record<string, unknown>, parts: readonly string[], full: string): Promise<void> {
  if (obj.deleted === true) return; // a deleted object's stub has nothing further to expand
  const found = entryFor(obj.object as string, parts);
  if (!found) throw cannotExpand(full);
  const rest = restAfter(found.e, parts.slice(found.field.length));
  if (rest === undefined) throw cannotExpand(full);
  // A nested field whose parent the object lacks (no transfer_data, no last_payment_error): nothing to expand.
  const parent = getAt(obj, found.field.slice(0, -1));
  if (found.field.length > 1 && (parent === null || typeof parent !== 'object')) return;
  if (Array.isArray(parent)) {
    // A field of each element of an array (total_discount_amounts.discount): expanded on every element.
    const last = found.field[found.field.length - 1];
    const items = parent.map((el) => ({ ...(el as Record<string, unknown>) }));
    setAt(obj, found.field.slice(0, -1), items);
    for (const item of items) {
      const current = item[last];
      const value = current !== null && typeof current === 'object' ? current : await found.e.resolve({ q, accountId }, current, obj);
      item[last] = value;
      if (rest.length > 0 && value !== null && typeof value === 'object') await expandPath(q, accountId, value as Record<string, unknown>, rest, full);
    }
    return;
  }
  const current = getAt(obj, found.field);
  let value = current !== null && typeof current === 'object'
    ? current // expanded already by an earlier path of the same request
    : await found.e.resolve({ q, accountId }, current, obj);
  if (value !== null && typeof value === 'object') value = Array.isArray(value) ? value : { ...(value as object) };
  setAt(obj, found.field, value);
  if (rest.length === 0 || value === null || typeof value !== 'object') return;
  const v = value as Record<string, unknown>;
  if (found.e.list) {
    const items = (v.data as Record<string, unknown>[]).map((i) => ({ ...i }));
    v.data = items;
    for (const item of items) await expandPath(q, accountId, item, rest, full);
  } else {
    await expandPath(q, accountId, v, rest, full);
  }
}

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

export const expander: Expander = { object: expandObject, list: expandList };
