/**
 * What time does to a subscription, one step per transaction under its row lock: a period's
 * invoice, the end of a trial (the first paid period, or the trial's end behavior when there is
 * no payment method), cancellation at cancel_at or at the period's end, the expiry of an
 * incomplete first payment, and the `customer.subscription.trial_will_end` warning three days
 * before a trial ends. One invoice per period is guaranteed twice: the renewal re-reads the
 * period under the lock, and a unique index on (subscription, period_start) refuses a second.
 */
import type { Tx } from '../store/db.ts';
import { emitEvent, previousAttributes, type EventSource } from '../events/outbox.ts';
import { customers, type Customer } from '../payments/payment_objects.ts';
import { invoices, subscriptions, type BillingReason, type Invoice, type InvoiceLineItem, type Period, type Subscription } from './billing_objects.ts';
import { attachPendingItems, buildInvoice, computeLines, emitItemsClaimed, finalizeInvoice, insertInvoice, requireInvoiceAction, subscriptionItemLine, type FinalizingSource } from './invoice_core.ts';
import { currentIntent } from './invoice_payment.ts';
import { fullPeriodFrom, periodOf, setPeriod } from './subscription_build.ts';
import { periodEnd, periodIndex } from './time.ts';

/** Stripe warns three days before a trial ends. */
export const TRIAL_WARNING_SECONDS = 3 * 86_400;
/** Stripe gives an incomplete subscription's first payment 23 hours. */
const INCOMPLETE_SECONDS = 23 * 3600;

/** The lines a subscription bills for one period: one per item (free during a trial). */
/** Why a period's invoice bills nothing: a trial, or the time before a later billing_cycle_anchor. */
export type FreePeriod = 'trial' | 'until_anchor' | null;

function subscriptionLines(sub: Subscription, invoiceId: string, period: Period, free: FreePeriod): InvoiceLineItem[] {
  return sub.items.data.map((it) => {
    const r = it.price.recurring!;
    const name = it.price.nickname ?? it.price.product;
    const description = free === 'trial' ? `Trial period for ${name}`
      : free === 'until_anchor' ? `${it.quantity} × ${name}: free until the billing cycle anchor`
        : `${it.quantity} × ${name} (at ${it.price.unit_amount} / ${r.interval_count > 1 ? `${r.interval_count} ` : ''}${r.interval})`;
    const line = subscriptionItemLine(invoiceId, { subscription: sub.id, item: it, description, period });
    return free ? { ...line, amount: 0, subtotal: 0 } : line;
  });
}

/**
 * The invoice of one period, inserted and finalized (numbered; a zero invoice is paid at once).
 * Renewals are collected by the billing run (and others when `collect`): a command that starts a period pays its own.
 * A trial's invoice bills nothing and leaves the customer's pending items for the first paid one.
 */
export async function invoicePeriod(
  q: Tx, source: FinalizingSource, sub: Subscription, customer: Customer, period: Period, reason: BillingReason, free: FreePeriod = null, collect = reason === 'subscription_cycle',
  announce?: (inv: Invoice) => void, created?: (inv: Invoice) => void,
): Promise<Invoice> {
  const inv = buildInvoice({
    customer, currency: sub.currency, collectionMethod: sub.collection_method, daysUntilDue: sub.days_until_due, dueDate: null,
    autoAdvance: true, billingReason: reason, description: sub.invoice_settings.description, metadata: {}, defaultPaymentMethod: null, externalId: null,
    order: null, subscription: { id: sub.id, metadata: sub.metadata }, period, now: period.start,
  }, { custom_fields: sub.invoice_settings.custom_fields, footer: sub.invoice_settings.footer });
  const claimed = free ? [] : await attachPendingItems(q, source.accountId, inv);
  await computeLines(q, source.accountId, inv, subscriptionLines(sub, inv.id, period, free));
  insertInvoice(q, source.accountId, inv, sub.days_until_due);
  // A new subscription's own event comes first (Stripe: customer.subscription.created, then invoice.created).
  announce?.(inv);
  emitEvent(q, source, 'invoice.created', inv);
  emitItemsClaimed(q, source, claimed);
  // A renewal's subscription moves to the new period as its draft appears, before it is finalized and paid.
  created?.(inv);
  await finalizeInvoice(q, source, inv, period.start, { collect });
  return inv;
}

export function endSubscription(sub: Subscription, at: number, canceledAt: number): void {
  sub.status = 'canceled';
  sub.ended_at = at;
  sub.canceled_at = sub.canceled_at ?? canceledAt;
}

/** Whether the trial_will_end warning is due at `now`: three days before the end (or at once when less remains). */
export const trialWarningDue = (sub: Subscription, now: number): boolean =>
  sub.status === 'trialing' && sub.trial_end !== null && sub.trial_end - TRIAL_WARNING_SECONDS <= now;

/** Emits trial_will_end once per trial end (a later trial_end is a new trial to warn about). The caller holds the row lock. */
export async function warnTrialEnding(q: Tx, source: EventSource, sub: Subscription): Promise<boolean> {
  const { rows } = await q.query(
    `SELECT 1 FROM events WHERE account_id = $1 AND type = 'customer.subscription.trial_will_end'
        AND data->'data'->'object'->>'id' = $2 AND data->'data'->'object'->>'trial_end' = $3 LIMIT 1`,
    [source.accountId, sub.id, String(sub.trial_end)]);
  if (rows.length > 0) return false;
  emitEvent(q, source, 'customer.subscription.trial_will_end', sub);
  return true;
}

/** The billing run's warning step for one subscription. */
export async function warnTrialEndingDue(q: Tx, source: EventSource, subscriptionId: string, now: number): Promise<boolean> {
  const sub = await subscriptions.get(q, source.accountId, subscriptionId, { forUpdate: true });
  return trialWarningDue(sub, now) ? warnTrialEnding(q, source, sub) : false;
}

/**
 * Starts a full period at `now` with its invoice (billing_cycle_anchor=now, trial_end=now, a
 * resume): the anchor moves to now, and a running trial ends (warning first, as Stripe does).
 * The caller holds the row lock, saves the subscription and pays the invoice, unless `collect`
 * leaves that to the billing run (no payment method: it counts a failed attempt). `stayPaused`: a
 * paused subscription resumes when the invoice is paid (resume_on_payment_success).
 */
export async function startPeriodNow(q: Tx, source: FinalizingSource, sub: Subscription, customer: Customer, now: number, opts: { collect: boolean; stayPaused?: boolean }): Promise<Invoice> {
  if (sub.status === 'trialing') {
    sub.trial_end = now;
    await warnTrialEnding(q, source, sub);
  }
  const period = fullPeriodFrom(sub.items.data[0].price, now);
  sub.billing_cycle_anchor = now;
  if (sub.status === 'trialing' || (sub.status === 'paused' && !opts.stayPaused)) sub.status = 'active';
  const inv = await invoicePeriod(q, source, sub, customer, period, 'subscription_update', null, opts.collect);
  setPeriod(sub, period);
  sub.latest_invoice = inv.id;
  return inv;
}

/** An incomplete subscription whose first payment did not succeed in 23 hours expires; its invoice is voided. */
async function expireIncomplete(q: Tx, source: EventSource, sub: Subscription, before: Subscription, now: number): Promise<void> {
  if (now < sub.created + INCOMPLETE_SECONDS) return;
  // A first payment still being authorized decides first: a later pass expires it if it fails.
  const first = sub.latest_invoice ? await invoices.get(q, source.accountId, sub.latest_invoice, { forUpdate: true }) : undefined;
  if (first && (await currentIntent(q, source.accountId, first.id))?.status === 'processing') return;
  sub.status = 'incomplete_expired';
  sub.ended_at = now;
  subscriptions.update(q, source.accountId, sub);
  if (first?.status === 'open') {
    requireInvoiceAction(first, 'void');
    first.status = 'void';
    first.status_transitions.voided_at = now;
    first.next_payment_attempt = null;
    invoices.update(q, source.accountId, first);
    emitEvent(q, source, 'invoice.voided', first, { status: 'open' });
  }
  emitEvent(q, source, 'customer.subscription.updated', sub, previousAttributes(before, sub));
}

function end(q: Tx, source: EventSource, sub: Subscription, before: Subscription, at: number, now: number): { invoice: null; more: false } {
  endSubscription(sub, at, now);
  subscriptions.update(q, source.accountId, sub);
  emitEvent(q, source, 'customer.subscription.deleted', sub, previousAttributes(before, sub));
  return { invoice: null, more: false };
}

/**
 * One step of a subscription at time `now`, in its own transaction. Returns whether another
 * step may be due (a clock may have jumped several periods).
 */
export async function renewSubscription(q: Tx, source: FinalizingSource, subscriptionId: string, now: number): Promise<{ invoice: string | null; more: boolean }> {
  const sub = await subscriptions.get(q, source.accountId, subscriptionId, { forUpdate: true });
  const before = structuredClone(sub);
  const none = { invoice: null, more: false };
  if (sub.status === 'canceled' || sub.status === 'incomplete_expired' || sub.status === 'paused') return none;
  if (sub.status === 'incomplete') {
    await expireIncomplete(q, source, sub, before, now);
    return none;
  }
  const current = periodOf(sub);
  if (sub.cancel_at !== null && sub.cancel_at <= now && sub.cancel_at <= current.end) return end(q, source, sub, before, sub.cancel_at, now);
  if (current.end > now) return none;
  if (sub.cancel_at_period_end) return end(q, source, sub, before, current.end, now);
  const customer = await customers.get(q, source.accountId, sub.customer);
  if (sub.status === 'trialing') {
    const method = sub.default_payment_method ?? customer.invoice_settings.default_payment_method;
    if (!method && sub.collection_method === 'charge_automatically') {
      const behavior = sub.trial_settings.end_behavior.missing_payment_method;
      if (behavior === 'cancel') return end(q, source, sub, before, current.end, now);
      if (behavior === 'pause') {
        sub.status = 'paused';
        subscriptions.update(q, source.accountId, sub);
        emitEvent(q, source, 'customer.subscription.paused', sub, previousAttributes(before, sub));
        emitEvent(q, source, 'customer.subscription.updated', sub, previousAttributes(before, sub));
        return none;
      }
    }
    sub.status = 'active';
  }
  const r = sub.items.data[0].price.recurring!;
  const n = periodIndex(sub.billing_cycle_anchor, r.interval, r.interval_count, current.end);
  const period = { start: current.end, end: periodEnd(sub.billing_cycle_anchor, r.interval, r.interval_count, n + 1) };
  // Stripe: invoice.created, customer.subscription.updated (the new period), then finalization and payment.
  const inv = await invoicePeriod(q, source, sub, customer, period, 'subscription_cycle', null, true, undefined, (draft) => {
    setPeriod(sub, period);
    sub.latest_invoice = draft.id;
    subscriptions.update(q, source.accountId, sub);
    emitEvent(q, source, 'customer.subscription.updated', sub, previousAttributes(before, sub));
  });
  return { invoice: inv.id, more: period.end <= now };
}
