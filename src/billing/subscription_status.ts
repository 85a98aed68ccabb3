/**
 * The subscription state machine, as data, and how an invoice payment moves a subscription:
 * its first invoice paid makes it active, a renewal (or a change's invoice) that fails makes it
 * past_due, and paying the failed invoice makes it active again; a paused subscription resuming
 * on payment success becomes active when that invoice is paid. Trials end in subscription_renewal.ts.
 */
import type { Tx } from '../store/db.ts';
import { emitEvent, type EventSource } from '../events/outbox.ts';
import { invoiceSubscription, subscriptions, type Invoice, type Subscription, type SubscriptionStatus } from './billing_objects.ts';

export const SUBSCRIPTION_TRANSITIONS: Readonly<Record<SubscriptionStatus, readonly SubscriptionStatus[]>> = {
  incomplete: ['active', 'incomplete_expired', 'canceled'],
  incomplete_expired: [],
  // A trial ends into a paid period, a pause or a cancellation (trial_settings), or is canceled.
  trialing: ['active', 'paused', 'canceled'],
  active: ['trialing', 'past_due', 'canceled'],
  past_due: ['active', 'canceled'],
  unpaid: ['active', 'canceled'],
  paused: ['active', 'canceled'],
  canceled: [],
};

export type SubscriptionAction = 'update' | 'cancel' | 'resume';

/** Which statuses each API action accepts (Stripe refuses changes to ended subscriptions). */
export const SUBSCRIPTION_ACTIONS: Readonly<Record<SubscriptionAction, readonly SubscriptionStatus[]>> = {
  update: ['incomplete', 'trialing', 'active', 'past_due', 'unpaid', 'paused'],
  cancel: ['incomplete', 'trialing', 'active', 'past_due', 'unpaid', 'paused'],
  resume: ['paused'],
};

export function canMoveSubscription(from: SubscriptionStatus, to: SubscriptionStatus): boolean {
  return from === to || SUBSCRIPTION_TRANSITIONS[from].includes(to);
}

/** The status a payment attempt of one of its invoices leads to (the same when it changes nothing). */
export function statusAfterPayment(status: SubscriptionStatus, inv: Pick<Invoice, 'billing_reason'>, paid: boolean, otherOpen: number): SubscriptionStatus {
  if (paid) {
    // A paid old invoice clears past_due only when no other invoice of the subscription is still open.
    if (['incomplete', 'past_due', 'unpaid'].includes(status)) return otherOpen === 0 ? 'active' : status;
    if (status === 'paused' && inv.billing_reason === 'subscription_update') return 'active';
    return status;
  }
  if (status === 'active' && (inv.billing_reason === 'subscription_cycle' || inv.billing_reason === 'subscription_update')) return 'past_due';
  return status;
}

/** After a payment attempt of one of its invoices (the caller holds the invoice's lock). */
export async function syncSubscriptionPayment(q: Tx, source: EventSource, inv: Invoice, paid: boolean): Promise<void> {
  const subscription = invoiceSubscription(inv);
  if (!subscription) return;
  const sub = await subscriptions.get(q, source.accountId, subscription, { forUpdate: true });
  const { rows } = await q.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM invoices WHERE account_id = $1 AND subscription = $2 AND status = 'open' AND id <> $3`,
    [source.accountId, sub.id, inv.id]);
  const next = statusAfterPayment(sub.status, inv, paid, rows[0].n);
  if (next === sub.status || !canMoveSubscription(sub.status, next)) return;
  const before = sub.status;
  sub.status = next;
  subscriptions.update(q, source.accountId, sub);
  if (before === 'paused') emitEvent(q, source, 'customer.subscription.resumed', sub, { status: before });
  emitEvent(q, source, 'customer.subscription.updated', sub, { status: before });
}

/**
 * Ends, at `at`, every live subscription of these customers: they are being deleted (alone, or
 * with their test clock), and a deleted customer is never billed again. Locks the subscriptions
 * after the caller locked the customers.
 */
export async function cancelSubscriptionsOf(q: Tx, source: EventSource, customerIds: string[], at: number): Promise<void> {
  if (customerIds.length === 0) return;
  const { rows } = await q.query<{ data: Subscription }>(
    `SELECT data FROM subscriptions
      WHERE account_id = $1 AND customer = ANY($2::text[]) AND status NOT IN ('canceled', 'incomplete_expired')
      ORDER BY seq FOR UPDATE`,
    [source.accountId, customerIds]);
  for (const { data: sub } of rows) {
    const canceled: Subscription = { ...sub, status: 'canceled', canceled_at: sub.canceled_at ?? at, ended_at: at };
    subscriptions.update(q, source.accountId, canceled);
    emitEvent(q, source, 'customer.subscription.deleted', canceled, { status: sub.status, ended_at: null });
  }
}
