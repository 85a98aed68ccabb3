/**
 * How payments meet orders: the checks and bookkeeping that payment intents (and, through their
 * intents, invoices) run inside their own phase transactions. The order row is locked FOR UPDATE
 * by the reservation, so two payments racing from two processes are serialized on it and the
 * second sees the first in flight.
 */
import type { Tx } from '../store/db.ts';
import type { EventSource } from '../events/outbox.ts';

/**
 * At creation (or amount change) of an intent for an order: the order exists, is payable (not
 * canceled, not fully paid), has the same currency, and `amount` does not exceed its
 * amount_remaining. 400 naming `param` otherwise.
 */
export async function checkOrderForIntent(q: Tx, accountId: string, p: { order: string; amount: number; currency: string; param: string }): Promise<void> {
  throw new Error('not implemented');
}

/**
 * At confirmation, inside the phase that moves the intent to processing: locks the order and
 * refuses (400 amount_too_large, param amount) when amount_paid + the amounts of the order's other
 * intents in processing or requires_capture + `amount` would exceed amount_total.
 */
export async function reserveOrderPayment(q: Tx, accountId: string, p: { order: string; amount: number; currency: string; intent: string }): Promise<void> {
  throw new Error('not implemented');
}

/** A payment toward the order succeeded (captured): amount_paid, status, order.updated / order.paid. */
export async function recordOrderPayment(q: Tx, source: EventSource, p: { order: string; amount: number }): Promise<void> {
  throw new Error('not implemented');
}

/** A refund of a payment toward the order succeeded: amount_refunded, status, order.updated. */
export async function recordOrderRefund(q: Tx, source: EventSource, p: { order: string; amount: number }): Promise<void> {
  throw new Error('not implemented');
}
