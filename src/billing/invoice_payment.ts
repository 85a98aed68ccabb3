/**
 * Paying an invoice with a card, as three steps of the caller's command (the pay endpoint, a
 * subscription's first invoice, the billing run's automatic collection):
 *   begin   lock the invoice, create its payment intent and move it to processing (Oncepay's
 *           fence, which no event shows: Stripe's card payments never enter processing)
 *   (foreign) authorize at the processor, the charge id as downstream key
 *   finish  record the charge, then settle the invoice or count the failed attempt.
 * While the intent is processing, every other payment or status change of the invoice is
 * refused as busy, so an invoice can never be charged twice.
 */
import type { Queryable, Tx } from '../store/db.ts';
import type { PaymentContext } from '../payments/ports.ts';
import { invalidRequest, objectBusy } from '../errors.ts';
import { newId, nowSeconds } from '../ids.ts';
import { emitEvent, saveIfChanged, type EventSource } from '../events/outbox.ts';
import { customers, paymentIntents, type PaymentError, type PaymentIntent } from '../payments/payment_objects.ts';
import { applyAuthorization, buildPaymentIntent, checkPaymentMethod, startConfirmation, type ConfirmPlan } from '../payments/payment_intents.ts';
import type { AuthorizeResult } from '../processor/types.ts';
import { invoicePayments, invoices, invoiceSubscription, subscriptions, type Invoice, type InvoicePayment } from './billing_objects.ts';
import { lockInvoice, requireInvoiceAction, settleInvoice } from './invoice_core.ts';
import { billingNow } from './time.ts';
import { syncSubscriptionPayment } from './subscription_status.ts';
import { recordOrderPayment, reserveOrderPayment } from './order_payments.ts';

/**
 * Locks an invoice for settling it, its subscription's row first: every path that locks both
 * (renewals, expiry, settling) takes the subscription before the invoice, so none deadlocks.
 */
export async function lockForSettling(q: Tx, accountId: string, id: string): Promise<Invoice> {
  const peek = await invoices.find(q, accountId, id);
  const sub = peek && invoiceSubscription(peek);
  if (sub) await subscriptions.get(q, accountId, sub, { forUpdate: true });
  return lockInvoice(q, accountId, id);
}

/** The invoice's current payment (the latest: an invoice has one payment intent at a time). */
export async function currentPayment(q: Queryable, accountId: string, invoiceId: string): Promise<InvoicePayment | undefined> {
  const { rows } = await q.query<{ data: InvoicePayment }>(
    'SELECT data FROM invoice_payments WHERE account_id = $1 AND invoice = $2 ORDER BY seq DESC LIMIT 1', [accountId, invoiceId]);
  return rows[0]?.data;
}

/** The payment intent of the invoice's current payment, if any. */
export async function currentIntent(q: Queryable, accountId: string, invoiceId: string): Promise<PaymentIntent | undefined> {
  const payment = await currentPayment(q, accountId, invoiceId);
  return payment ? paymentIntents.get(q, accountId, payment.payment.payment_intent) : undefined;
}

/** Refuses any change to an invoice while a payment of it is being authorized. */
export async function requireNoPaymentInFlight(q: Tx, accountId: string, inv: Invoice): Promise<PaymentIntent | undefined> {
  const pi = await currentIntent(q, accountId, inv.id);
  if (pi?.status === 'processing') throw objectBusy('invoice', inv.id);
  return pi;
}

/** The InvoicePayment of an intent: opened with it, paid or canceled with it. */
function openPayment(inv: Invoice, pi: PaymentIntent): InvoicePayment {
  return {
    id: `inpay_${pi.id.slice(3)}`, object: 'invoice_payment', amount_paid: null, amount_requested: pi.amount, created: pi.created,
    currency: pi.currency, invoice: inv.id, is_default: true, livemode: false, payment: { type: 'payment_intent', payment_intent: pi.id },
    status: 'open', status_transitions: { canceled_at: null, paid_at: null },
  };
}

/**
 * Moves an intent's InvoicePayment along with the intent (paid, canceled); a payment already
 * closed stays as it is. A paid one emits invoice_payment.paid (Stripe's only InvoicePayment
 * event; a cancellation has none).
 */
export async function closePayment(q: Tx, source: EventSource, pi: PaymentIntent, status: 'paid' | 'canceled', at: number): Promise<void> {
  const { rows } = await q.query<{ data: InvoicePayment }>(
    'SELECT data FROM invoice_payments WHERE account_id = $1 AND payment_intent = $2 FOR UPDATE', [source.accountId, pi.id]);
  const payment = rows[0]?.data;
  if (!payment || payment.status !== 'open') return;
  payment.status = status;
  if (status === 'paid') {
    payment.amount_paid = pi.amount_received;
    payment.status_transitions.paid_at = at;
  } else payment.status_transitions.canceled_at = at;
  invoicePayments.update(q, source.accountId, payment);
  if (status === 'paid') emitEvent(q, source, 'invoice_payment.paid', payment);
}

/** Which payment method pays the invoice: the one passed, the invoice's, its subscription's, its customer's default. */
async function paymentMethodFor(q: Tx, accountId: string, inv: Invoice, passed: string | undefined): Promise<string> {
  if (passed) return passed;
  if (inv.default_payment_method) return inv.default_payment_method;
  const subscription = invoiceSubscription(inv);
  if (subscription) {
    const sub = await subscriptions.get(q, accountId, subscription);
    if (sub.default_payment_method) return sub.default_payment_method;
  }
  const customer = await customers.get(q, accountId, inv.customer);
  const pm = customer.invoice_settings.default_payment_method;
  if (!pm) {
    throw invalidRequest(`Invoice ${inv.id} cannot be paid: customer ${customer.id} has no default payment method. Pass payment_method, set the invoice's default_payment_method, or set the customer's invoice_settings[default_payment_method].`, 'payment_method');
  }
  return pm;
}

export interface InvoicePaymentPlan {
  invoice: string;
  confirm: ConfirmPlan;
}

const WAITING = ['requires_payment_method', 'requires_confirmation', 'requires_action'];

/**
 * An invoice has one payment intent at a time, like Stripe's. A later attempt confirms the same
 * intent again (with the new payment method, or, after 3-D Secure, as authenticated), so money
 * can only ever be taken by that one intent, and whoever confirms it (this endpoint, or
 * /v1/payment_intents/:id/confirm) settles the invoice through invoiceIntentOutcome.
 */
export async function beginInvoicePayment(q: Tx, ctx: PaymentContext, invoiceId: string, opts: { paymentMethod?: string } = {}): Promise<InvoicePaymentPlan> {
  const inv = await lockInvoice(q, ctx.accountId, invoiceId);
  requireInvoiceAction(inv, 'pay');
  const previous = await requireNoPaymentInFlight(q, ctx.accountId, inv);
  const pm = await paymentMethodFor(q, ctx.accountId, inv, opts.paymentMethod);
  checkPaymentMethod(pm, 'payment_method');
  if (previous && WAITING.includes(previous.status)) {
    const pi = await paymentIntents.get(q, ctx.accountId, previous.id, { forUpdate: true });
    if (pi.status === 'processing') throw objectBusy('invoice', inv.id);
    const confirm = await startConfirmation(q, ctx, pi, { payment_method: pm });
    paymentIntents.update(q, ctx.accountId, pi);
    return { invoice: inv.id, confirm };
  }
  const pi = buildPaymentIntent(newId('pi'), {
    amount: inv.amount_remaining, currency: inv.currency, customer: inv.customer, order: inv.order, invoice: inv.id, payment_method: pm,
    description: `Payment for invoice ${inv.number}`, metadata: {},
  });
  const created = structuredClone(pi);
  const confirm = await startConfirmation(q, ctx, pi, {});
  paymentIntents.insert(q, ctx.accountId, pi);
  emitEvent(q, ctx, 'payment_intent.created', created);
  invoicePayments.insert(q, ctx.accountId, openPayment(inv, pi));
  return { invoice: inv.id, confirm };
}

export interface InvoicePaymentResult {
  invoice: Invoice;
  intent: PaymentIntent;
  /** The card error of a declined or unauthenticated attempt; null when the invoice was paid. */
  error: (PaymentError | { type: 'card_error'; code: string; message: string }) | null;
}

/**
 * What an invoice's intent reaching an outcome does to the invoice, whoever confirmed it: paid,
 * it settles the invoice (once: a settled invoice is left alone); declined or waiting for the
 * customer, it counts a failed attempt. Called by applyAuthorization inside the record phase.
 */
export async function invoiceIntentOutcome(q: Tx, source: EventSource, pi: PaymentIntent): Promise<Invoice> {
  const inv = await lockForSettling(q, source.accountId, pi.invoice!);
  const now = await billingNow(q, source.accountId, inv.test_clock);
  if (pi.status === 'succeeded') {
    // The invoice's events first (invoice.updated, paid, payment_succeeded), then its payment's.
    const settles = inv.status === 'open' || inv.status === 'uncollectible';
    if (settles) settleInvoice(q, source, inv, now);
    await closePayment(q, source, pi, 'paid', now);
    if (settles) await syncSubscriptionPayment(q, source, inv, true);
    return inv;
  }
  countFailedAttempt(q, source, inv);
  await syncSubscriptionPayment(q, source, inv, false);
  return inv;
}

/**
 * A failed payment attempt of an open invoice: counted on the invoice, which emits
 * invoice.updated (Stripe tracks attempts with it: attempt_count, attempted and
 * next_payment_attempt in previous_attributes), then invoice.payment_failed.
 */
export function countFailedAttempt(q: Tx, source: EventSource, inv: Invoice): void {
  const before = structuredClone(inv);
  inv.attempt_count += 1;
  inv.attempted = true;
  inv.next_payment_attempt = null;
  saveIfChanged(q, source, invoices, before, inv, 'invoice.updated');
  emitEvent(q, source, 'invoice.payment_failed', inv);
}

/** The finish step: records the authorization (which settles the invoice or counts the attempt). */
export async function finishInvoicePayment(q: Tx, ctx: PaymentContext, plan: InvoicePaymentPlan, result: AuthorizeResult): Promise<InvoicePaymentResult> {
  const { pi, error } = await applyAuthorization(q, ctx, plan.confirm, result);
  const inv = await invoices.get(q, ctx.accountId, plan.invoice);
  if (pi.status === 'succeeded') return { invoice: inv, intent: pi, error: null };
  return {
    invoice: inv, intent: pi,
    error: error ?? {
      type: 'card_error', code: 'invoice_payment_intent_requires_action',
      message: `Payment for invoice ${inv.id} requires the customer to authenticate (3-D Secure): pay the invoice again once they have, or confirm payment intent ${pi.id}.`,
    },
  };
}

/**
 * An invoice closed another way (paid out of band, voided, marked uncollectible) leaves no
 * intent waiting to be confirmed: it is canceled, so nothing can charge for it later.
 */
export async function abandonWaitingIntent(q: Tx, source: EventSource, seen: PaymentIntent | undefined, at: number): Promise<void> {
  if (!seen || !WAITING.includes(seen.status)) return;
  // Read again under its lock: a confirmation may have started since `seen` was read.
  const pi = await paymentIntents.get(q, source.accountId, seen.id, { forUpdate: true });
  if (pi.status === 'processing') throw objectBusy('invoice', pi.invoice ?? pi.id);
  if (!WAITING.includes(pi.status)) return;
  pi.status = 'canceled';
  pi.cancellation_reason = 'abandoned';
  pi.canceled_at = at;
  pi.next_action = null;
  paymentIntents.update(q, source.accountId, pi);
  await closePayment(q, source, pi, 'canceled', at);
  emitEvent(q, source, 'payment_intent.canceled', pi);
}

/** A paid_out_of_band payment: records it without moving money. */
export async function payOutOfBand(q: Tx, source: EventSource, invoiceId: string): Promise<Invoice> {
  const inv = await lockForSettling(q, source.accountId, invoiceId);
  requireInvoiceAction(inv, 'pay');
  const waiting = await requireNoPaymentInFlight(q, source.accountId, inv);
  const now = await billingNow(q, source.accountId, inv.test_clock);
  await abandonWaitingIntent(q, source, waiting, nowSeconds());
  const amount = inv.amount_remaining;
  // The order is protected from overpayment here too, payments in flight counted.
  if (inv.order && amount > 0) await reserveOrderPayment(q, source.accountId, { order: inv.order, amount, currency: inv.currency, intent: inv.id });
  settleInvoice(q, source, inv, now, { outOfBand: true });
  if (inv.order && amount > 0) await recordOrderPayment(q, source, { order: inv.order, amount });
  await syncSubscriptionPayment(q, source, inv, true);
  return inv;
}

/** The response of a card payment attempt: the invoice, or Stripe's 402 card error. */
export function paymentResponse(r: InvoicePaymentResult, body: unknown): { status: number; body: unknown } {
  if (!r.error) return { status: 200, body };
  return { status: 402, body: { error: { ...r.error, payment_intent: r.intent } } };
}
