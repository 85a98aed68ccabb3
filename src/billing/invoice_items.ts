/**
 * Invoice items: amounts waiting to be invoiced (pending), or lines of a draft invoice. They can
 * change only while they are pending or their invoice is a draft; the draft's lines and totals
 * follow every change in the same transaction.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Tx } from '../store/db.ts';
import type { ListFilter } from '../store/object_table.ts';
import { ApiError, invalidRequest, objectBusy, resourceMissing } from '../errors.ts';
import { newId } from '../ids.ts';
import {
  boolean, currency, expandParam, integer, metadata, nonEmptyString, object, optional, clearable, string, unsupported, type ParsedObject, type Schema,
} from '../schema/params.ts';
import { emitEvent, saveIfChanged } from '../events/outbox.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { render, type PaymentDeps } from '../payments/ports.ts';
import { liveCustomer } from '../payments/customers.ts';
import { claimExternalId, existingObject, payloadFingerprint } from '../payments/external_ids.ts';
import { MAX_AMOUNT } from '../schema/money.ts';
import { invoiceItems, invoices, unitAmountOf, type InvoiceItem, type Price } from './billing_objects.ts';
import { computeLines, lockInvoice, pricingOf } from './invoice_core.ts';
import { livePrice, liveProduct, unitAmountDecimal } from './catalog.ts';
import { billingNow } from './time.ts';

const signedAmount = () => integer({ min: -MAX_AMOUNT, max: MAX_AMOUNT });
const period = () => object({ start: integer({ min: 0 }), end: integer({ min: 0 }) });

const NO_TAX = 'Oncepay calculates no tax: invoice items have no tax rates, tax codes or tax behavior.';
const NO_DISCOUNTS = 'Oncepay has no coupons or promotion codes, so invoice items carry no discounts.';
const empty = (v: unknown) => v === '' || (Array.isArray(v) && v.length === 0);
/** Parameters create and update share that Oncepay knows but cannot act on. */
const itemUnsupported = {
  discounts: unsupported(NO_DISCOUNTS, { noop: empty }),
  tax_behavior: unsupported(NO_TAX, { noop: (v) => v === 'unspecified' }),
  tax_code: unsupported(NO_TAX, { noop: empty }),
  tax_rates: unsupported(NO_TAX, { noop: empty }),
};
/** A whole quantity written as a decimal (`quantity_decimal`): Oncepay quantities are whole. */
const wholeQuantity = (): Schema<number> => {
  const text = string({ max: 30, pattern: /^\d{1,7}(\.0*)?$/, patternMessage: 'Invalid decimal: Oncepay quantities are whole numbers, such as 3 or 3.0.' });
  return { required: true, parse: (v, path) => integer({ min: 1, max: 1_000_000 }).parse(text.parse(v, path).split('.')[0], path), jsonSchema: () => text.jsonSchema() };
};
const priceData = () => object({
  currency: currency(), product: nonEmptyString(255), unit_amount: optional(integer({ min: 0, max: MAX_AMOUNT })), unit_amount_decimal: optional(unitAmountDecimal()),
  tax_behavior: unsupported(NO_TAX, { noop: (v) => v === 'unspecified' }),
});

export const createInvoiceItemParams = object({
  customer: nonEmptyString(255),
  amount: optional(signedAmount()),
  unit_amount_decimal: optional(unitAmountDecimal()),
  quantity: optional(integer({ min: 1, max: 1_000_000 })),
  /** The current API's way to bill a price (`pricing[price]`), and an inline one (`price_data`). */
  pricing: optional(object({ price: nonEmptyString(255) })),
  price_data: optional(priceData()),
  quantity_decimal: optional(wholeQuantity()),
  discountable: optional(boolean()),
  customer_account: unsupported('Oncepay has no Accounts v2: name the customer with customer.'),
  subscription: unsupported('Oncepay never ties invoice items to a subscription: subscriptions bill their own items each period.'),
  ...itemUnsupported,
  /** Older API versions' names for the same: still accepted. */
  unit_amount: optional(signedAmount()),
  price: optional(nonEmptyString(255)),
  currency: optional(currency()),
  description: optional(string({ max: 500 })),
  invoice: optional(nonEmptyString(255)),
  metadata: optional(metadata()),
  period: optional(period()),
  external_id: optional(nonEmptyString(255)),
  expand: expandParam(),
});

export const updateInvoiceItemParams = object({
  invoiceitem: nonEmptyString(255),
  amount: optional(signedAmount()),
  unit_amount: optional(signedAmount()),
  unit_amount_decimal: optional(unitAmountDecimal()),
  quantity: optional(integer({ min: 1, max: 1_000_000 })),
  quantity_decimal: optional(wholeQuantity()),
  pricing: optional(object({ price: nonEmptyString(255) })),
  price_data: optional(priceData()),
  discountable: optional(boolean()),
  invoicing_rules: unsupported('Oncepay has no invoicing rules (deferring items until credited items resolve).', { noop: empty }),
  description: clearable(string({ max: 500 })),
  metadata: optional(metadata()),
  period: optional(period()),
  ...itemUnsupported,
  expand: expandParam(),
});

export const deleteInvoiceItemParams = object({ invoiceitem: nonEmptyString(255) });

type CreateParams = ParsedObject<typeof createInvoiceItemParams.shape>;
type UpdateParams = ParsedObject<typeof updateInvoiceItemParams.shape>;

function checkPeriod(p: { start: number; end: number } | undefined): void {
  if (p && p.end < p.start) throw invalidRequest('The period end must be at or after its start.', 'period[end]');
}

const PRICING = ['amount', 'unit_amount', 'unit_amount_decimal', 'pricing', 'price_data', 'price'] as const;

export function checkCreateInvoiceItem(p: CreateParams): void {
  if (p.quantity !== undefined && p.quantity_decimal !== undefined) throw invalidRequest('You may only specify one of these parameters: quantity, quantity_decimal.', 'quantity_decimal', 'parameters_exclusive');
  if (p.quantity_decimal !== undefined) p.quantity = p.quantity_decimal;
  const given = PRICING.filter((k) => p[k] !== undefined);
  if (given.length === 0) throw invalidRequest('Missing required param: amount (or unit_amount_decimal, pricing[price] or price_data).', 'amount', 'parameter_missing');
  if (given.length > 1) throw invalidRequest(`You may only specify one of these parameters: ${given.join(', ')}.`, given[1], 'parameters_exclusive');
  if (p.amount !== undefined && p.quantity !== undefined) throw invalidRequest('quantity can only be used with a unit amount or a price: amount is the line\'s total.', 'quantity');
  if (p.price_data) {
    const d = p.price_data;
    if ((d.unit_amount === undefined) === (d.unit_amount_decimal === undefined)) throw invalidRequest('Pass exactly one of price_data[unit_amount] and price_data[unit_amount_decimal].', 'price_data[unit_amount]');
    if (p.currency !== undefined && p.currency !== d.currency) throw invalidRequest(`currency (${p.currency}) and price_data[currency] (${d.currency}) differ.`, 'currency');
  }
  if (p.price === undefined && p.pricing === undefined && p.price_data === undefined && p.currency === undefined) {
    throw invalidRequest('Missing required param: currency.', 'currency', 'parameter_missing');
  }
  checkPeriod(p.period);
}

export function checkUpdateInvoiceItem(p: UpdateParams): void {
  if (p.quantity !== undefined && p.quantity_decimal !== undefined) throw invalidRequest('You may only specify one of these parameters: quantity, quantity_decimal.', 'quantity_decimal', 'parameters_exclusive');
  if (p.quantity_decimal !== undefined) p.quantity = p.quantity_decimal;
  if (p.amount !== undefined && (p.unit_amount !== undefined || p.unit_amount_decimal !== undefined || p.quantity !== undefined)) {
    throw invalidRequest('You may only specify one of these parameters: amount, unit_amount_decimal (with quantity).', 'amount', 'parameters_exclusive');
  }
  if (p.unit_amount !== undefined && p.unit_amount_decimal !== undefined) {
    throw invalidRequest('You may only specify one of these parameters: unit_amount, unit_amount_decimal.', 'unit_amount_decimal', 'parameters_exclusive');
  }
  const pricings = (['pricing', 'price_data', 'amount', 'unit_amount', 'unit_amount_decimal'] as const).filter((k) => p[k] !== undefined);
  if (pricings.length > 1) throw invalidRequest(`You may only specify one of these parameters: ${pricings.join(', ')}.`, pricings[1], 'parameters_exclusive');
  if (p.price_data && (p.price_data.unit_amount === undefined) === (p.price_data.unit_amount_decimal === undefined)) {
    throw invalidRequest('Pass exactly one of price_data[unit_amount] and price_data[unit_amount_decimal].', 'price_data[unit_amount]');
  }
  checkPeriod(p.period);
}

function total(unit: number, quantity: number, param: string): number {
  const t = unit * quantity;
  if (Math.abs(t) > MAX_AMOUNT) throw invalidRequest(`unit_amount × quantity (${t}) is more than the largest amount an invoice item may have (${MAX_AMOUNT}).`, param, 'amount_too_large');
  return t;
}

/** The draft invoice an item belongs to, locked; refuses when that invoice is no longer a draft. */
async function lockDraftOf(q: Tx, accountId: string, item: Pick<InvoiceItem, 'id' | 'invoice'>, param: string) {
  if (!item.invoice) return undefined;
  const inv = await lockInvoice(q, accountId, item.invoice, param === 'invoice' ? 'invoice' : 'id');
  if (inv.status !== 'draft') {
    throw new ApiError(400, {
      type: 'invalid_request_error', code: 'invoice_not_editable', param,
      message: `Invoice ${inv.id} is ${inv.status}: its items can be added, changed or deleted only while it is a draft.`,
    });
  }
  if (inv.order) {
    throw new ApiError(400, {
      type: 'invalid_request_error', code: 'invoice_not_editable', param,
      message: `Invoice ${inv.id} bills order ${inv.order}: its one item is what the order owes, so items cannot be added to it, changed or deleted. Delete the draft instead.`,
    });
  }
  return inv;
}

/** Recomputes a draft's lines after its items changed (the item writes are flushed by the read). */
async function refreshDraft(q: Tx, accountId: string, inv: Awaited<ReturnType<typeof lockDraftOf>>): Promise<void> {
  if (!inv) return;
  await computeLines(q, accountId, inv);
  invoices.update(q, accountId, inv);
}

/**
 * Locks an item for a change, and its draft invoice first: every path that locks both (deleting
 * or finalizing a draft locks the invoice, then its items) takes the invoice first, so none
 * deadlocks. An item moved to another invoice meanwhile is busy: retry.
 */
async function lockItemAndDraft(q: Tx, accountId: string, id: string) {
  const seen = await invoiceItems.find(q, accountId, id);
  if (!seen || seen.deleted) throw resourceMissing('invoiceitem', id);
  const inv = await lockDraftOf(q, accountId, seen, 'invoiceitem');
  const item = await invoiceItems.find(q, accountId, id, { forUpdate: true });
  if (!item || item.deleted) throw resourceMissing('invoiceitem', id);
  if (item.invoice !== seen.invoice) throw objectBusy('invoice item', id);
  return { item, inv };
}

export const createInvoiceItem: Command<CreateParams, PaymentDeps> = {
  name: 'invoiceitems.create',
  run: (ctx, p) => ctx.finish('create', async (q) => {
    const id = newId('ii');
    if (p.external_id) {
      const existing = await claimExternalId(q, ctx.accountId, 'invoiceitem', p.external_id, id, payloadFingerprint(p), ctx.idempotencyKey);
      if (existing) return { status: 200, body: await render(q, ctx, await existingObject(q, ctx.accountId, invoiceItems, existing, p.external_id), p.expand) };
    }
    const customer = await liveCustomer(q, ctx.accountId, p.customer, { param: 'customer' });
    const priceId = p.pricing?.price ?? p.price;
    const priceParam = p.pricing ? 'pricing[price]' : 'price';
    const price = priceId ? await livePrice(q, ctx.accountId, priceId, { param: priceParam }) : null;
    if (price && price.type !== 'one_time') throw invalidRequest(`Price ${price.id} is recurring: invoice items take one-time prices (subscriptions bill recurring ones).`, priceParam);
    if (p.price_data) await liveProduct(q, ctx.accountId, p.price_data.product, { param: 'price_data[product]' });
    const cur = price?.currency ?? p.price_data?.currency ?? p.currency!;
    if (price && p.currency && p.currency !== price.currency) throw invalidRequest(`Price ${price.id} is in ${price.currency}, not ${p.currency}.`, 'currency');
    const inv = await lockDraftOf(q, ctx.accountId, { id, invoice: p.invoice ?? null }, 'invoice');
    if (inv && inv.customer !== customer.id) throw invalidRequest(`Invoice ${inv.id} belongs to customer ${inv.customer}, not ${customer.id}.`, 'invoice');
    if (inv && inv.currency !== cur) throw invalidRequest(`Invoice ${inv.id} is in ${inv.currency}, not ${cur}.`, 'currency');
    const now = await billingNow(q, ctx.accountId, customer.test_clock);
    const quantity = p.quantity ?? 1;
    const unit = p.amount ?? price?.unit_amount ?? p.price_data?.unit_amount ?? p.price_data?.unit_amount_decimal ?? p.unit_amount ?? p.unit_amount_decimal!;
    const item: InvoiceItem = {
      id, object: 'invoiceitem', amount: p.amount ?? total(unit, quantity, 'quantity'), created: now, currency: cur, customer: customer.id,
      customer_account: null, date: now, description: p.description ?? null, discountable: p.discountable ?? true, discounts: [],
      external_id: p.external_id ?? null, invoice: inv?.id ?? null, livemode: false, metadata: applyMetadata({}, p.metadata ?? {}),
      parent: null, period: p.period ?? { start: now, end: now }, pricing: pricingOf(price, unit), proration: false, quantity,
      quantity_decimal: String(quantity), tax_rates: [], test_clock: customer.test_clock,
    };
    invoiceItems.insert(q, ctx.accountId, item);
    await refreshDraft(q, ctx.accountId, inv);
    emitEvent(q, ctx, 'invoiceitem.created', item);
    return { status: 200, body: await render(q, ctx, item, p.expand) };
  }),
};

export const updateInvoiceItem: Command<UpdateParams, PaymentDeps> = {
  name: 'invoiceitems.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const { item, inv } = await lockItemAndDraft(q, ctx.accountId, p.invoiceitem);
    const before = structuredClone(item);
    if (p.amount !== undefined) {
      item.amount = p.amount;
      item.pricing = pricingOf(null, p.amount);
      item.quantity = 1;
    }
    const price = await repricing(q, ctx.accountId, item, p);
    const unitAmount = p.unit_amount ?? p.unit_amount_decimal ?? price?.unit_amount ?? p.price_data?.unit_amount ?? p.price_data?.unit_amount_decimal;
    const unitParam = p.unit_amount !== undefined ? 'unit_amount' : 'unit_amount_decimal';
    if (unitAmount !== undefined || p.quantity !== undefined) {
      if (item.pricing.price_details && !price && p.price_data === undefined && unitAmount !== undefined) {
        throw invalidRequest(`Invoice item ${item.id} is priced by ${item.pricing.price_details.price}: change its quantity, not its unit amount.`, unitParam);
      }
      if (unitAmount !== undefined) item.pricing = pricingOf(price ?? null, unitAmount);
      item.quantity = p.quantity ?? item.quantity;
      item.quantity_decimal = String(item.quantity);
      item.amount = total(unitAmountOf(item), item.quantity, p.quantity !== undefined ? 'quantity' : unitParam);
    }
    if (p.discountable !== undefined) item.discountable = p.discountable;
    if (p.description !== undefined) item.description = p.description;
    if (p.metadata !== undefined) item.metadata = applyMetadata(item.metadata, p.metadata);
    if (p.period !== undefined) item.period = p.period;
    if (saveIfChanged(q, ctx, invoiceItems, before, item, 'invoiceitem.updated')) await refreshDraft(q, ctx.accountId, inv);
    return { status: 200, body: await render(q, ctx, item, p.expand) };
  }),
};

/** A new price for an item (pricing[price] or price_data), checked like at create; undefined when neither is passed. */
async function repricing(q: Tx, accountId: string, item: InvoiceItem, p: UpdateParams): Promise<Price | undefined> {
  if (p.price_data) {
    await liveProduct(q, accountId, p.price_data.product, { param: 'price_data[product]' });
    if (p.price_data.currency !== item.currency) throw invalidRequest(`Invoice item ${item.id} is in ${item.currency}, not ${p.price_data.currency}.`, 'price_data[currency]');
    return undefined;
  }
  if (!p.pricing) return undefined;
  const price = await livePrice(q, accountId, p.pricing.price, { param: 'pricing[price]' });
  if (price.type !== 'one_time') throw invalidRequest(`Price ${price.id} is recurring: invoice items take one-time prices (subscriptions bill recurring ones).`, 'pricing[price]');
  if (price.currency !== item.currency) throw invalidRequest(`Price ${price.id} is in ${price.currency}, not ${item.currency} like invoice item ${item.id}.`, 'pricing[price]');
  return price;
}

export const deleteInvoiceItem: Command<ParsedObject<typeof deleteInvoiceItemParams.shape>, PaymentDeps> = {
  name: 'invoiceitems.delete',
  run: (ctx, p) => ctx.finish('delete', async (q) => {
    const { item, inv } = await lockItemAndDraft(q, ctx.accountId, p.invoiceitem);
    invoiceItems.update(q, ctx.accountId, { ...item, deleted: true });
    await refreshDraft(q, ctx.accountId, inv);
    emitEvent(q, ctx, 'invoiceitem.deleted', item);
    return { status: 200, body: { id: item.id, object: 'invoiceitem', deleted: true } };
  }),
};

/** Live items narrowed by customer and invoice (columns) and pending (not on any invoice yet). */
export function invoiceItemListFilter(p: { customer?: string; invoice?: string; pending?: boolean }): ListFilter {
  return {
    where: { deleted: false, ...(p.customer ? { customer: p.customer } : {}), ...(p.invoice ? { invoice: p.invoice } : {}) },
    whereSql: p.pending === undefined ? undefined : { sql: '(invoice IS NULL) = $', value: p.pending },
  };
}
