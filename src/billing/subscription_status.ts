/**
 * The subscription state machine, as data, and how an invoice payment moves a subscription:
 * its first invoice paid makes it active, a renewal that fails makes it past_due, and paying
 * the failed invoice makes it active again.
 */
import type { Tx } from '../store/db.ts';
import { emitEvent, type EventSource } from '../events/outbox.ts';
import { subscriptions, type Invoice, type Subscription, type SubscriptionStatus } from './billing_objects.ts';

export const SUBSCRIPTION_TRANSITIONS: Readonly<Record<SubscriptionStatus, readonly SubscriptionStatus[]>> = {
  incomplete: ['active', 'incomplete_expired', 'canceled'],
  incomplete_expired: [],
  active: ['past_due', 'canceled'],
  past_due: ['active', 'canceled'],
  unpaid: ['active', 'canceled'],
  canceled: [],
};

export type SubscriptionAction = 'update' | 'cancel';

/** Which statuses each API action accepts (Stripe refuses changes to ended subscriptions). */
export const SUBSCRIPTION_ACTIONS: Readonly<Record<SubscriptionAction, readonly SubscriptionStatus[]>> = {
  update: ['incomplete', 'active', 'past_due', 'unpaid'],
  cancel: ['incomplete', 'active', 'past_due', 'unpaid'],
};

export function canMoveSubscription(from: SubscriptionStatus, to: SubscriptionStatus): boolean {
  return from === to || SUBSCRIPTION_TRANSITIONS[from].includes(to);
}

/** After a payment attempt of one of its invoices (the caller holds the invoice's lock). */
export async function syncSubscriptionPayment(q: Tx, source: EventSource, inv: Invoice, paid: boolean): Promise<void> {
  if (!inv.subscription) return;
  const sub = await subscriptions.get(q, source.accountId, inv.subscription, { forUpdate: true });
  let next = sub.status;
  if (paid && (sub.status === 'incomplete' || sub.status === 'past_due' || sub.status === 'unpaid')) {
    // A paid old invoice clears past_due only when no other invoice of the subscription is still open.
    const { rows } = await q.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM invoices WHERE account_id = $1 AND subscription = $2 AND status = 'open' AND id <> $3`,
      [source.accountId, sub.id, inv.id]);
    if (rows[0].n === 0) next = 'active';
  }
  if (!paid && sub.status === 'active' && inv.billing_reason === 'subscription_cycle') next = 'past_due';
  if (next === sub.status || !canMoveSubscription(sub.status, next)) return;
  const before = sub.status;
  sub.status = next;
  subscriptions.update(q, source.accountId, sub);
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
