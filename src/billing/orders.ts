/**
 * Orders (an Oncepay extension following Stripe's conventions): a durable business record with
 * line items and computed totals, that payment intents (and invoices, through their intents)
 * pay. Create, update while open, and cancel are commands; reads are in src/api/order_routes.ts.
 * Money moves only through payments (src/billing/order_payments.ts): the status follows from it.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Queryable, Tx } from '../store/db.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import { newId, nowSeconds } from '../ids.ts';
import {
  amount, array, clearable, currency, expandParam, integer, metadata, nonEmptyString, object, optional, string,
  type ParsedObject, type Schema,
} from '../schema/params.ts';
import { MAX_AMOUNT, formatAmount } from '../schema/money.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { render, type PaymentDeps } from '../payments/ports.ts';
import { liveCustomer } from '../payments/customers.ts';
import { claimExternalId, payloadFingerprint } from '../payments/external_ids.ts';
import { emitEvent, saveIfChanged } from '../events/outbox.ts';
import { embeddedList, orders, prices, type Order, type OrderLineItem, type Price } from './billing_objects.ts';
import { ORDER_ALLOWED, orderAllows, orderStatusInvalid, paymentsInFlight, settle } from './order_payments.ts';

export const MAX_LINE_ITEMS = 100;

const lineItem = object({
  amount: amount(),
  quantity: optional(integer({ min: 1 })),
  description: optional(string({ max: 1000 })),
  price: optional(nonEmptyString(255)),
});

type LineItemParams = ParsedObject<typeof lineItem.shape>;

/** `line_items`: 1 to 100 items (an empty array, or an empty string, is refused naming it). */
function lineItems(): Schema<LineItemParams[]> {
  const list = array(lineItem, { max: MAX_LINE_ITEMS });
  return {
    required: true,
    parse(v, path) {
      const items = v === '' || v === null ? [] : list.parse(v, path);
      if (items.length === 0) throw invalidRequest(`${path} must contain at least one item (and at most ${MAX_LINE_ITEMS}).`, path, 'parameter_invalid_array');
      return items;
    },
    jsonSchema: () => ({ ...list.jsonSchema(), minItems: 1 }),
  };
}

export const createOrderParams = object({
  currency: currency(),
  line_items: lineItems(),
  customer: optional(nonEmptyString(255)),
  description: optional(string({ max: 1000 })),
  metadata: optional(metadata()),
  external_id: optional(nonEmptyString(255)),
  expand: expandParam(),
});

export const updateOrderParams = object({
  order: nonEmptyString(255),
  customer: clearable(nonEmptyString(255)),
  description: clearable(string({ max: 1000 })),
  line_items: optional(lineItems()),
  metadata: optional(metadata()),
  expand: expandParam(),
});

export const cancelOrderParams = object({
  order: nonEmptyString(255),
  expand: expandParam(),
});

type CreateParams = ParsedObject<typeof createOrderParams.shape>;
type UpdateParams = ParsedObject<typeof updateOrderParams.shape>;
type CancelParams = ParsedObject<typeof cancelOrderParams.shape>;

/**
 * The order's total must be a payable amount. Checked before anything runs (no database needed),
 * so a refused request saves nothing. Amounts are below 1e8 and quantities below 2^53: a product
 * past 2^53 loses precision but stays far above MAX_AMOUNT, so the comparison is exact enough.
 */
export function checkOrderTotal(p: { line_items?: LineItemParams[]; currency?: string }): void {
  if (!p.line_items) return;
  const total = p.line_items.reduce((s, li) => s + li.amount * (li.quantity ?? 1), 0);
  if (total > MAX_AMOUNT) {
    const max = p.currency ? formatAmount(MAX_AMOUNT, p.currency) : `${MAX_AMOUNT} in the currency's smallest unit`;
    throw invalidRequest(`The order's total (the sum of amount × quantity over line_items) must be no more than ${max}; these line items add up to ${total > Number.MAX_SAFE_INTEGER ? 'more than that' : total}.`, 'line_items', 'amount_too_large');
  }
}

/**
 * Line items in the shape of Stripe's (Checkout) line items. A `price` names a Price of the
 * account in the order's currency, carried whole as Stripe's line items carry theirs; a price
 * that does not exist is a 400 resource_missing naming the line's parameter.
 */
async function buildLines(q: Queryable, accountId: string, items: LineItemParams[], currency: string): Promise<OrderLineItem[]> {
  const lines: OrderLineItem[] = [];
  for (const [i, li] of items.entries()) {
    const quantity = li.quantity ?? 1;
    const total = li.amount * quantity;
    const price = li.price === undefined ? null : await lineItemPrice(q, accountId, li.price, currency, `line_items[${i}][price]`);
    lines.push({
      id: newId('li'), object: 'item', adjustable_quantity: null, amount_discount: 0, amount_subtotal: total, amount_tax: 0,
      amount_total: total, currency, description: li.description ?? null, metadata: {}, price, quantity, unit_amount: li.amount,
    });
  }
  return lines;
}

async function lineItemPrice(q: Queryable, accountId: string, id: string, currency: string, param: string): Promise<Price> {
  const price = await prices.find(q, accountId, id);
  if (!price) throw resourceMissing('price', id, param);
  if (price.currency !== currency) {
    throw invalidRequest(`The price ${id} is in ${price.currency}, but this order is in ${currency}: a line item's price must be in the order's currency.`, param);
  }
  return price;
}

/** Sets the lines and the totals they make. */
async function setLines(q: Queryable, accountId: string, o: Order, items: LineItemParams[]): Promise<void> {
  const lines = await buildLines(q, accountId, items, o.currency);
  o.line_items = embeddedList(lines, `/v1/orders/${o.id}/line_items`);
  o.amount_subtotal = o.amount_total = lines.reduce((s, l) => s + l.amount_total, 0);
  settle(o);
}


/** Refuses a change the order's status or a payment in flight does not allow. */
async function requireChangeable(q: Tx, accountId: string, o: Order, action: 'update' | 'cancel', param?: string): Promise<void> {
  const what = action === 'cancel' ? 'cancel this order' : `change ${param} of this order`;
  if (!orderAllows(action, o.status)) {
    const only = ORDER_ALLOWED[action].join(', ');
    const hint = action === 'update' ? ' (its metadata can always be updated)' : '';
    throw orderStatusInvalid(`You cannot ${what} (${o.id}) because it has a status of ${o.status}. Only an order with status ${only} may be ${action === 'cancel' ? 'canceled' : 'changed'}${hint}.`, param);
  }
  const inFlight = await paymentsInFlight(q, accountId, o.id);
  if (inFlight.intents.length > 0) {
    throw orderStatusInvalid(`You cannot ${what} (${o.id}) while a payment toward it is in flight: ${formatAmount(inFlight.amount, o.currency)} (${inFlight.intents.join(', ')}) is processing or awaiting capture. Wait for it to finish, or cancel that PaymentIntent first.`, param);
  }
}

export const createOrder: Command<CreateParams, PaymentDeps> = {
  name: 'orders.create',
  run: (ctx, p) => ctx.finish('create', async (q) => {
    const id = newId('order');
    if (p.external_id) {
      const existing = await claimExternalId(q, ctx.accountId, 'order', p.external_id, id, payloadFingerprint(p), ctx.idempotencyKey);
      if (existing) return { status: 200, body: await render(q, ctx, await orders.get(q, ctx.accountId, existing), p.expand) };
    }
    if (p.customer) await liveCustomer(q, ctx.accountId, p.customer, { param: 'customer' });
    const order: Order = {
      id, object: 'order', amount_paid: 0, amount_refunded: 0, amount_remaining: 0, amount_subtotal: 0, amount_total: 0,
      canceled_at: null, created: nowSeconds(), currency: p.currency, customer: p.customer ?? null,
      description: p.description ?? null, external_id: p.external_id ?? null,
      line_items: embeddedList([], `/v1/orders/${id}/line_items`), livemode: false,
      metadata: applyMetadata({}, p.metadata ?? {}), status: 'open',
    };
    await setLines(q, ctx.accountId, order, p.line_items);
    orders.insert(q, ctx.accountId, order);
    emitEvent(q, ctx, 'order.created', order);
    return { status: 200, body: await render(q, ctx, order, p.expand) };
  }),
};

export const updateOrder: Command<UpdateParams, PaymentDeps> = {
  name: 'orders.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const order = await orders.get(q, ctx.accountId, p.order, { forUpdate: true });
    const before = structuredClone(order);
    const restricted = (['customer', 'description', 'line_items'] as const).find((k) => p[k] !== undefined);
    if (restricted) await requireChangeable(q, ctx.accountId, order, 'update', restricted);
    if (p.customer) await liveCustomer(q, ctx.accountId, p.customer, { param: 'customer' });
    if (p.customer !== undefined) order.customer = p.customer;
    if (p.description !== undefined) order.description = p.description;
    if (p.line_items !== undefined) await setLines(q, ctx.accountId, order, p.line_items);
    if (p.metadata !== undefined) order.metadata = applyMetadata(order.metadata, p.metadata);
    saveIfChanged(q, ctx, orders, before, order, 'order.updated');
    return { status: 200, body: await render(q, ctx, order, p.expand) };
  }),
};

export const cancelOrder: Command<CancelParams, PaymentDeps> = {
  name: 'orders.cancel',
  run: (ctx, p) => ctx.finish('cancel', async (q) => {
    const order = await orders.get(q, ctx.accountId, p.order, { forUpdate: true });
    await requireChangeable(q, ctx.accountId, order, 'cancel');
    const previous = { status: order.status, canceled_at: null };
    order.canceled_at = nowSeconds();
    settle(order);
    orders.update(q, ctx.accountId, order);
    emitEvent(q, ctx, 'order.canceled', order, previous);
    return { status: 200, body: await render(q, ctx, order, p.expand) };
  }),
};

/**
 * One page of an order's line items (they live inside the order, in the order's own order):
 * starting_after pages forward, ending_before backwards from its cursor.
 */
export async function orderLineItemsPage(
  q: Queryable, accountId: string, orderId: string, p: { limit?: number; starting_after?: string; ending_before?: string },
): Promise<{ order: Order; data: OrderLineItem[]; hasMore: boolean }> {
  if (p.starting_after && p.ending_before) throw invalidRequest('You may only specify one of these parameters: starting_after, ending_before.', 'ending_before');
  const order = await orders.get(q, accountId, orderId);
  const items = order.line_items.data;
  const limit = p.limit ?? 10;
  const cursor = p.starting_after ?? p.ending_before;
  let start = 0;
  let end = items.length;
  if (cursor !== undefined) {
    const at = items.findIndex((li) => li.id === cursor);
    if (at < 0) throw resourceMissing('line item', cursor, p.starting_after ? 'starting_after' : 'ending_before');
    if (p.starting_after) start = at + 1;
    else end = at;
  }
  if (p.ending_before) return { order, data: items.slice(Math.max(start, end - limit), end), hasMore: end - limit > start };
  return { order, data: items.slice(start, start + limit), hasMore: start + limit < end };
}
