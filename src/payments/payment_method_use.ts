/**
 * What using a payment method for a customer means, shared by payments, attach and setups: who
 * may pay with a saved card, saving a copy of a test id, attaching and detaching (with their
 * events), and what a payment that sets a card up for future use leaves behind.
 */
import type { Tx } from '../store/db.ts';
import { newId } from '../ids.ts';
import { invalidRequest } from '../errors.ts';
import { emitEvent, type EventSource } from '../events/outbox.ts';
import { customers, type PaymentIntent } from './payment_objects.ts';
import {
  buildPaymentMethod, insertPaymentMethod, paymentMethods, resolvePaymentMethod, type BillingDetails, type PaymentMethod,
  type ResolvedPaymentMethod,
} from './payment_methods.ts';
import type { Metadata } from '../schema/metadata.ts';

/** A saved payment method attached to a customer pays only for that customer, as on Stripe. */
export function usePaymentMethodFor(r: ResolvedPaymentMethod, customer: string | null, param = 'payment_method'): void {
  const owner = r.method.customer;
  if (!owner || owner === customer) return;
  throw invalidRequest(customer
    ? `The provided PaymentMethod (${r.method.id}) belongs to another Customer (${owner}) than this request's (${customer}).`
    : `The provided PaymentMethod (${r.method.id}) is attached to a Customer (${owner}): pass customer=${owner} to use it.`, param);
}

/**
 * Checks that `id` names a payment method that may pay for `customer` (a saved one attached to
 * another customer may not), in the caller's phase: resource_missing naming `param` otherwise.
 */
export async function requirePaymentMethod(q: Tx, accountId: string, id: string, param: string, customer: string | null): Promise<void> {
  usePaymentMethodFor(await resolvePaymentMethod(q, accountId, id, { param }), customer, param);
}

/** A new saved payment method with the card of `r` (a test id's copy), inserted in the caller's phase. */
export function savedCopy(q: Tx, accountId: string, r: ResolvedPaymentMethod, opts: {
  created: number; id?: string; customer?: string | null; billing_details?: BillingDetails; metadata?: Metadata; setUpForOffSession?: boolean;
}): ResolvedPaymentMethod {
  const method = buildPaymentMethod(opts.id ?? newId('pm'), r.card, {
    created: opts.created, customer: opts.customer ?? null, billing_details: opts.billing_details ?? r.method.billing_details, metadata: opts.metadata,
  });
  insertPaymentMethod(q, accountId, method, r.cardRef, opts.setUpForOffSession ?? false);
  return { method, card: r.card, cardRef: r.cardRef, saved: true, setUpForOffSession: opts.setUpForOffSession ?? false };
}

/**
 * Attaches a saved payment method to `customer` (the caller holds its row): the same customer
 * again changes nothing, another one is refused. Emits payment_method.attached.
 */
export function attachSaved(q: Tx, source: EventSource, r: ResolvedPaymentMethod, customer: string, extra: { setUpForOffSession?: boolean } = {}): PaymentMethod {
  const pm = r.method;
  if (pm.customer === customer) {
    if (extra.setUpForOffSession && !r.setUpForOffSession) paymentMethods.update(q, source.accountId, pm, { set_up_for_off_session: true });
    return pm;
  }
  if (pm.customer) throw invalidRequest('The payment method you provided has already been attached to a customer.', 'payment_method');
  const attached = { ...pm, customer };
  paymentMethods.update(q, source.accountId, attached, extra.setUpForOffSession ? { set_up_for_off_session: true } : {});
  emitEvent(q, source, 'payment_method.attached', attached);
  return attached;
}

/**
 * Detaches a saved payment method from its customer (the caller holds its row); the customer's
 * default stops naming it. Emits payment_method.detached with the customer it had.
 */
export async function detachSaved(q: Tx, source: EventSource, pm: PaymentMethod): Promise<PaymentMethod> {
  if (!pm.customer) throw invalidRequest('The payment method you provided is not attached to a customer so detachment is impossible.', 'payment_method');
  const customer = await customers.find(q, source.accountId, pm.customer, { forUpdate: true });
  if (customer && customer.invoice_settings.default_payment_method === pm.id) {
    const before = structuredClone(customer.invoice_settings);
    customer.invoice_settings.default_payment_method = null;
    customers.update(q, source.accountId, customer);
    emitEvent(q, source, 'customer.updated', customer, { invoice_settings: before });
  }
  const detached = { ...pm, customer: null };
  paymentMethods.update(q, source.accountId, detached, { set_up_for_off_session: false });
  emitEvent(q, source, 'payment_method.detached', detached, { customer: pm.customer });
  return detached;
}

/**
 * After a successful payment that sets its card up for future use (setup_future_usage with a
 * customer), the card is attached to the customer, and set up for off-session payments when asked.
 */
export async function saveAfterPayment(q: Tx, source: EventSource, pi: PaymentIntent,
  plan: { paymentMethod: string }): Promise<void> {
  if (!pi.setup_future_usage || !pi.customer) return;
  const r = await resolvePaymentMethod(q, source.accountId, plan.paymentMethod, { forUpdate: true });
  if (!r.saved) return;
  attachSaved(q, source, r, pi.customer, { setUpForOffSession: pi.setup_future_usage === 'off_session' });
}
