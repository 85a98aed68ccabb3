/**
 * How payments meet orders: the order state machine (a pure function of its money, and the
 * tables of allowed moves and actions), and the checks and bookkeeping that payment intents
 * (and, through their intents, invoices) run inside their own phase transactions.
 *
 * A payment toward an order is "in flight" while its intent is processing or requires_capture:
 * the intent's own status (and its payment_intents.order_id column) is the reservation, so there
 * is nothing to release when a payment is declined, voided or captured for less. The order row
 * is locked FOR UPDATE by the reservation, so two payments racing from two processes are
 * serialized on it and the second sees the first in flight.
 *
 * Lock order: a payment intent's row before its order's row (confirmations lock the intent, then
 * reserve on the order; their record phases write the intent, then record on the order), and the
 * order commands lock only the order. No path locks an order and then an intent.
 */
import type { Queryable, Tx } from '../store/db.ts';
import { ApiError, invalidRequest, resourceMissing } from '../errors.ts';
import { emitEvent, previousAttributes, type EventSource } from '../events/outbox.ts';
import { formatAmount } from '../schema/money.ts';
import { ORDER_STATUSES, orders, type Order, type OrderStatus } from './billing_objects.ts';

export { ORDER_STATUSES, type OrderStatus };

// ---- the state machine ------------------------------------------------------------------------

/** The money that decides an order's status. */
export type OrderMoney = Pick<Order, 'canceled_at' | 'amount_total' | 'amount_paid' | 'amount_refunded'>;

/**
 * An order's status, from its money alone: canceled once canceled; else, after any refund,
 * refunded when everything paid was refunded and partially_refunded otherwise; else paid when
 * the total is paid, partially_paid when something is, open when nothing is.
 */
export function orderStatus(o: OrderMoney): OrderStatus {
  if (o.canceled_at !== null) return 'canceled';
  if (o.amount_refunded > 0) return o.amount_refunded >= o.amount_paid ? 'refunded' : 'partially_refunded';
  if (o.amount_paid >= o.amount_total) return 'paid';
  if (o.amount_paid > 0) return 'partially_paid';
  return 'open';
}

/** What is left to pay (never negative, even if an out-of-band payment overpaid). */
export const amountRemaining = (o: Pick<Order, 'amount_total' | 'amount_paid'>): number => Math.max(0, o.amount_total - o.amount_paid);

/**
 * Every status change orderStatus can produce (staying put is always allowed). Amounts only
 * grow (amount_paid by payments, amount_refunded by refunds, which never exceed what was paid),
 * and the total changes only while nothing is paid, so:
 *  - refunded -> partially_refunded: a further payment after everything paid so far was refunded;
 *  - nothing leaves canceled, and nothing returns to open, partially_paid or paid after a refund.
 */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  open: ['partially_paid', 'paid', 'canceled'],
  partially_paid: ['paid', 'partially_refunded', 'refunded'],
  paid: ['partially_refunded', 'refunded'],
  partially_refunded: ['refunded'],
  refunded: ['partially_refunded'],
  canceled: [],
};

/**
 * What may be done to an order, by status:
 *  - update_metadata: metadata only, always;
 *  - update: customer, description, line_items (also needs no payment in flight);
 *  - cancel: also needs no payment in flight;
 *  - pay: a new payment may start (also needs amount <= what is left once payments in flight
 *    are counted: a paid order has nothing left, so it is not listed);
 *  - refund: a refund of a payment toward it is possible (something paid is not refunded yet).
 */
export type OrderAction = 'update_metadata' | 'update' | 'cancel' | 'pay' | 'refund';

export const ORDER_ALLOWED: Readonly<Record<OrderAction, readonly OrderStatus[]>> = {
  update_metadata: ORDER_STATUSES,
  update: ['open'],
  cancel: ['open'],
  pay: ['open', 'partially_paid', 'partially_refunded', 'refunded'],
  refund: ['partially_paid', 'paid', 'partially_refunded'],
};

export function canOrderTransition(from: OrderStatus, to: OrderStatus): boolean {
  return from === to || ORDER_TRANSITIONS[from].includes(to);
}

export function orderAllows(action: OrderAction, status: OrderStatus): boolean {
  return ORDER_ALLOWED[action].includes(status);
}

/** Recomputes the derived fields after a change of money or lines. */
export function settle(o: Order): void {
  o.amount_remaining = amountRemaining(o);
  o.status = orderStatus(o);
}

/** 400 order_status_invalid: the order's status does not allow this. */
export function orderStatusInvalid(message: string, param?: string): ApiError {
  return invalidRequest(message, param, 'order_status_invalid');
}

// ---- payments in flight -----------------------------------------------------------------------

export interface InFlight {
  /** Sum of the amounts of the intents in flight. */
  amount: number;
  /** Their ids, oldest first (for messages). */
  intents: string[];
}

/** The order's payment intents (other than `except`) that are processing or requires_capture. */
export async function paymentsInFlight(q: Queryable, accountId: string, orderId: string, except?: string): Promise<InFlight> {
  const { rows } = await q.query<{ id: string; amount: number }>(
    `SELECT id, (data->>'amount')::int8 AS amount FROM payment_intents
      WHERE account_id = $1 AND order_id = $2 AND id <> $3 AND data->>'status' IN ('processing', 'requires_capture')
      ORDER BY seq`,
    [accountId, orderId, except ?? ''],
  );
  return { amount: rows.reduce((s, r) => s + Number(r.amount), 0), intents: rows.map((r) => r.id) };
}

// ---- checks run by payment intents ------------------------------------------------------------

function checkCurrency(order: Order, currency: string): void {
  if (currency !== order.currency) {
    throw invalidRequest(`The currency of this payment (${currency}) does not match the currency of order ${order.id} (${order.currency}).`, 'currency', 'currency_mismatch');
  }
}

function checkNotCanceled(order: Order, param: string): void {
  if (order.status === 'canceled') {
    throw orderStatusInvalid(`Order ${order.id} is canceled: it cannot be paid.`, param);
  }
}

/**
 * At creation (or amount change) of an intent for an order: the order exists, is payable (not
 * canceled, not fully paid), has the same currency, and `amount` does not exceed its
 * amount_remaining. 400 naming `param` otherwise.
 */
export async function checkOrderForIntent(q: Tx, accountId: string, p: { order: string; amount: number; currency: string; param: string }): Promise<void> {
  const order = await orders.find(q, accountId, p.order);
  if (!order) throw resourceMissing('order', p.order, p.param);
  checkNotCanceled(order, p.param);
  checkCurrency(order, p.currency);
  const remaining = amountRemaining(order);
  if (p.amount > remaining) {
    const message = remaining === 0
      ? `Order ${order.id} is already paid in full (${formatAmount(order.amount_paid, order.currency)} of ${formatAmount(order.amount_total, order.currency)}): it cannot take a payment of ${formatAmount(p.amount, order.currency)}.`
      : `A payment of ${formatAmount(p.amount, order.currency)} would overpay order ${order.id}: only ${formatAmount(remaining, order.currency)} of its ${formatAmount(order.amount_total, order.currency)} remains to be paid.`;
    throw invalidRequest(message, 'amount', 'amount_too_large');
  }
}

/**
 * At confirmation, inside the phase that moves the intent to processing: locks the order and
 * refuses (400 amount_too_large, param amount) when amount_paid + the amounts of the order's other
 * intents in processing or requires_capture + `amount` would exceed amount_total.
 */
export async function reserveOrderPayment(q: Tx, accountId: string, p: { order: string; amount: number; currency: string; intent: string }): Promise<void> {
  const order = await orders.find(q, accountId, p.order, { forUpdate: true });
  if (!order) throw resourceMissing('order', p.order, 'order');
  checkNotCanceled(order, 'order');
  checkCurrency(order, p.currency);
  const inFlight = await paymentsInFlight(q, accountId, order.id, p.intent);
  if (order.amount_paid + inFlight.amount + p.amount > order.amount_total) {
    const f = (n: number) => formatAmount(n, order.currency);
    const left = Math.max(0, order.amount_total - order.amount_paid - inFlight.amount);
    const flying = inFlight.intents.length === 0 ? 'none in flight' : `${f(inFlight.amount)} in flight (${inFlight.intents.join(', ')})`;
    throw invalidRequest(
      `A payment of ${f(p.amount)} would overpay order ${order.id}: its total is ${f(order.amount_total)}, with ${f(order.amount_paid)} paid and ${flying}, so only ${f(left)} remains.`,
      'amount', 'amount_too_large');
  }
}

// ---- bookkeeping ------------------------------------------------------------------------------

/**
 * Applies a change of money to the locked order and emits its events. Money that moved is always
 * recorded (refusing here would leave a captured payment unrecorded): the checks happen before
 * the processor is asked, in checkOrderForIntent and reserveOrderPayment.
 */
async function recordMoney(q: Tx, source: EventSource, orderId: string, change: (o: Order) => void): Promise<Order> {
  const order = await orders.get(q, source.accountId, orderId, { forUpdate: true, param: 'order' });
  const before = structuredClone(order);
  change(order);
  settle(order);
  orders.update(q, source.accountId, order);
  emitEvent(q, source, 'order.updated', order, previousAttributes(before, order));
  if (order.status === 'paid' && before.status !== 'paid') emitEvent(q, source, 'order.paid', order);
  return order;
}

/** A payment toward the order succeeded (captured): amount_paid, status, order.updated / order.paid. */
export async function recordOrderPayment(q: Tx, source: EventSource, p: { order: string; amount: number }): Promise<void> {
  if (p.amount <= 0) return;
  await recordMoney(q, source, p.order, (o) => { o.amount_paid += p.amount; });
}

/** A refund of a payment toward the order succeeded: amount_refunded, status, order.updated. */
export async function recordOrderRefund(q: Tx, source: EventSource, p: { order: string; amount: number }): Promise<void> {
  if (p.amount <= 0) return;
  await recordMoney(q, source, p.order, (o) => { o.amount_refunded += p.amount; });
}
