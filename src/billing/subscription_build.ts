/**
 * Building subscriptions in the shape of API version 2026-10-28.endive: every field that version
 * defines, with Stripe's empty values where Oncepay has nothing to say. The current period lives
 * on the items (`items.data[].current_period_start/end`), no longer on the subscription.
 */
import { newId } from '../ids.ts';
import { applyMetadata } from '../schema/metadata.ts';
import {
  embeddedList, type CollectionMethod, type Period, type Price, type Subscription, type SubscriptionItem, type SubscriptionStatus,
  type TrialEndBehavior,
} from './billing_objects.ts';
import { periodEnd } from './time.ts';
import { planOf } from './catalog.ts';

export function newItem(subscription: string, price: Price, quantity: number, metadata: Record<string, string | null> | null | undefined, period: Period, now: number): SubscriptionItem {
  return {
    id: newId('si'), object: 'subscription_item', billing_thresholds: null, created: now, current_period_end: period.end,
    current_period_start: period.start, current_trial: null, discounts: [], metadata: applyMetadata({}, metadata ?? {}),
    plan: planOf(price), price, quantity, subscription, tax_rates: [],
  };
}

/** The current period (every item shares it: Oncepay bills all items on one interval). */
export const periodOf = (sub: Subscription): Period => ({ start: sub.items.data[0].current_period_start, end: sub.items.data[0].current_period_end });

export function setPeriod(sub: Subscription, period: Period): void {
  for (const it of sub.items.data) {
    it.current_period_start = period.start;
    it.current_period_end = period.end;
  }
}

/** The first period of the price's interval from `from`. */
export function fullPeriodFrom(price: Price, from: number): Period {
  const r = price.recurring!;
  return { start: from, end: periodEnd(from, r.interval, r.interval_count, 1) };
}

export interface NewSubscription {
  id: string;
  customer: string;
  testClock: string | null;
  currency: string;
  items: SubscriptionItem[];
  now: number;
  anchor: number;
  status: SubscriptionStatus;
  collectionMethod: CollectionMethod;
  daysUntilDue: number | null;
  defaultPaymentMethod: string | null;
  description: string | null;
  metadata: Record<string, string>;
  externalId: string | null;
  cancelAt: number | null;
  cancelAtPeriodEnd: boolean;
  billingMode: 'classic' | 'flexible';
  trial: Period | null;
  trialEndBehavior: TrialEndBehavior;
  saveDefaultPaymentMethod: 'off' | 'on_subscription';
  invoiceSettings: Pick<Subscription['invoice_settings'], 'custom_fields' | 'description' | 'footer'>;
}

export function buildSubscription(n: NewSubscription): Subscription {
  return {
    id: n.id, object: 'subscription', application: null, application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: n.anchor, billing_cycle_anchor_config: null,
    billing_mode: { flexible: n.billingMode === 'flexible' ? { proration_discounts: 'included' } : null, type: n.billingMode, updated_at: n.now },
    billing_schedules: [], billing_thresholds: null, cancel_at: n.cancelAt, cancel_at_period_end: n.cancelAtPeriodEnd,
    canceled_at: null, cancellation_details: { comment: null, feedback: null, feedback_option: null, reason: null },
    collection_method: n.collectionMethod, created: n.now, currency: n.currency, customer: n.customer, customer_account: null,
    days_until_due: n.daysUntilDue, default_payment_method: n.defaultPaymentMethod, default_source: null, default_tax_rates: [],
    description: n.description, discounts: [], ended_at: null, external_id: n.externalId,
    invoice_settings: { account_tax_ids: null, ...n.invoiceSettings, issuer: { type: 'self' } },
    items: embeddedList(n.items, `/v1/subscription_items?subscription=${n.id}`), latest_invoice: null, livemode: false,
    managed_payments: null, metadata: n.metadata, next_pending_invoice_item_invoice: null, on_behalf_of: null,
    pause_collection: null,
    payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: n.saveDefaultPaymentMethod },
    pending_invoice_item_interval: null, pending_setup_intent: null, pending_update: null, schedule: null,
    start_date: n.now, status: n.status, test_clock: n.testClock, transfer_data: null,
    trial_end: n.trial?.end ?? null,
    trial_settings: { end_behavior: { billing_cycle_anchor: null, missing_payment_method: n.trialEndBehavior } },
    trial_start: n.trial?.start ?? null,
  };
}
