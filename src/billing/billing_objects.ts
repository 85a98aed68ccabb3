/**
 * Billing objects (orders, catalog, invoices, subscriptions, test clocks): their Stripe shapes and
 * tables. Shapes follow Stripe's API reference; `external_id` and orders are Oncepay's additions.
 */
import { ObjectTable } from '../store/object_table.ts';
import type { Metadata } from '../schema/metadata.ts';
import type { Address } from '../payments/payment_objects.ts';

/** Stripe's embedded list (invoice lines, subscription items, order line items). */
export interface EmbeddedList<T> {
  object: 'list';
  data: T[];
  has_more: false;
  total_count: number;
  url: string;
}

export const embeddedList = <T>(data: T[], url: string): EmbeddedList<T> => ({ object: 'list', data, has_more: false, total_count: data.length, url });

/** An invoice's inline lists (lines, payments): Stripe's ApiList, whole (has_more false), with no total_count. */
export interface InvoiceList<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

export const invoiceList = <T>(data: T[], url: string): InvoiceList<T> => ({ object: 'list', data, has_more: false, url });

// ---- orders -----------------------------------------------------------------------------------

export const ORDER_STATUSES = ['open', 'partially_paid', 'paid', 'partially_refunded', 'refunded', 'canceled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** An order's line item, in the shape of Stripe's line items (`item`), with its unit amount beside. */
export interface OrderLineItem {
  id: string;
  object: 'item';
  adjustable_quantity: null;
  amount_discount: 0;
  amount_subtotal: number;
  amount_tax: 0;
  amount_total: number;
  currency: string;
  description: string | null;
  metadata: Record<string, string>;
  price: Price | null;
  quantity: number;
  unit_amount: number;
}

export interface Order {
  id: string;
  object: 'order';
  amount_paid: number;
  amount_refunded: number;
  amount_remaining: number;
  amount_subtotal: number;
  amount_total: number;
  canceled_at: number | null;
  created: number;
  currency: string;
  customer: string | null;
  description: string | null;
  external_id: string | null;
  line_items: EmbeddedList<OrderLineItem>;
  livemode: false;
  metadata: Metadata;
  status: OrderStatus;
}

// ---- catalog ----------------------------------------------------------------------------------

export interface Product {
  id: string;
  object: 'product';
  active: boolean;
  created: number;
  default_price: string | null;
  description: string | null;
  /** Oncepay extension: the caller's permanent business key. */
  external_id: string | null;
  images: string[];
  livemode: false;
  marketing_features: never[];
  metadata: Metadata;
  name: string;
  package_dimensions: null;
  shippable: boolean | null;
  statement_descriptor: string | null;
  tax_code: null;
  tax_details: null;
  type: 'good' | 'service';
  unit_label: string | null;
  updated: number;
  url: string | null;
}

export const PRICE_INTERVALS = ['day', 'week', 'month', 'year'] as const;
export type PriceInterval = (typeof PRICE_INTERVALS)[number];

export interface Recurring {
  interval: PriceInterval;
  interval_count: number;
  meter: null;
  /** Days of trial a subscription created with trial_from_plan=true gets from this price. */
  trial_period_days: number | null;
  usage_type: 'licensed';
}

export interface Price {
  id: string;
  object: 'price';
  active: boolean;
  billing_scheme: 'per_unit';
  created: number;
  currency: string;
  custom_unit_amount: null;
  /** Oncepay extension: the caller's permanent business key. */
  external_id: string | null;
  livemode: false;
  lookup_key: string | null;
  metadata: Metadata;
  nickname: string | null;
  product: string;
  recurring: Recurring | null;
  tax_behavior: 'unspecified';
  tiers_mode: null;
  transform_quantity: null;
  type: 'one_time' | 'recurring';
  unit_amount: number;
  unit_amount_decimal: string;
}

// ---- test clocks ------------------------------------------------------------------------------

export interface TestClock {
  id: string;
  object: 'test_helpers.test_clock';
  created: number;
  deletes_after: number;
  /** Oncepay extension: the caller's permanent business key. */
  external_id: string | null;
  frozen_time: number;
  livemode: false;
  name: string | null;
  status: 'ready' | 'advancing' | 'internal_failure';
  /** While advancing: where to (Stripe's shape). */
  status_details: { advancing?: { target_frozen_time: number } };
}

// ---- invoices ---------------------------------------------------------------------------------

export const INVOICE_STATUSES = ['draft', 'open', 'paid', 'uncollectible', 'void'] as const;
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];
export type CollectionMethod = 'charge_automatically' | 'send_invoice';
export type BillingReason = 'manual' | 'subscription_create' | 'subscription_cycle' | 'subscription_update';

export interface Period {
  start: number;
  end: number;
}

/** How a line or an invoice item is priced (since 2025-03-31): a price, or an ad-hoc unit amount. */
export interface Pricing {
  price_details?: { price: string; product: string };
  type: 'price_details';
  unit_amount_decimal: string | null;
}

export interface ProrationDetails {
  credited_items: null;
}

/** What a line bills: an invoice item, or a subscription item. */
export type LineParent =
  | {
    type: 'invoice_item_details';
    invoice_item_details: { invoice_item: string; proration: false; proration_details: ProrationDetails; subscription: string | null };
    subscription_item_details: null;
  }
  | {
    type: 'subscription_item_details';
    invoice_item_details: null;
    subscription_item_details: {
      invoice_item: string | null; proration: false; proration_details: ProrationDetails; subscription: string; subscription_item: string;
    };
  };

export interface InvoiceLineItem {
  id: string;
  object: 'line_item';
  amount: number;
  currency: string;
  description: string | null;
  discount_amounts: never[];
  discountable: boolean;
  discounts: never[];
  invoice: string;
  livemode: false;
  metadata: Metadata;
  parent: LineParent;
  period: Period;
  pretax_credit_amounts: never[];
  pricing: Pricing;
  quantity: number;
  quantity_decimal: string;
  subscription: string | null;
  subtotal: number;
  taxes: never[];
}

/** What an invoice was created for: a subscription's period, or nothing (a one-off invoice). */
export interface InvoiceParent {
  type: 'subscription_details';
  quote_details: null;
  subscription_details: { metadata: Metadata | null; subscription: string };
}

export interface InvoiceRendering {
  amount_tax_display: string | null;
  pdf: { page_size: 'a4' | 'auto' | 'letter' | null } | null;
  template: string | null;
  template_version: number | null;
}

export interface InvoiceShippingDetails {
  address: Address;
  name: string;
  phone: string | null;
}


export interface Invoice {
  id: string;
  object: 'invoice';
  account_country: null;
  account_name: null;
  account_tax_ids: null;
  amount_due: number;
  amount_overpaid: number;
  amount_paid: number;
  /** What was paid outside of Oncepay (pay with paid_out_of_band=true). */
  amount_paid_off_stripe: number;
  amount_remaining: number;
  amount_shipping: number;
  application: null;
  attempt_count: number;
  attempted: boolean;
  auto_advance: boolean;
  automatic_tax: { disabled_reason: null; enabled: false; liability: null; provider: null; status: null };
  /** When a draft with auto_advance is finalized by the billing run (an hour after creation, as Stripe does, unless set). */
  automatically_finalizes_at: number | null;
  billing_reason: BillingReason;
  collection_method: CollectionMethod;
  created: number;
  currency: string;
  custom_fields: { name: string; value: string }[] | null;
  customer: string;
  customer_account: null;
  customer_address: null;
  customer_email: string | null;
  customer_name: string | null;
  customer_phone: null;
  customer_shipping: null;
  customer_tax_exempt: 'none';
  customer_tax_ids: never[];
  default_payment_method: string | null;
  default_source: null;
  default_tax_rates: never[];
  description: string | null;
  discounts: never[];
  due_date: number | null;
  effective_at: number | null;
  ending_balance: number | null;
  /** Oncepay extension: the caller's permanent business key. */
  external_id: string | null;
  footer: string | null;
  from_invoice: null;
  /** The hosted invoice page (src/web/invoice_page.ts), from finalization on; null while a draft. */
  hosted_invoice_url: string | null;
  /** The invoice's PDF, beside its page. */
  invoice_pdf: string | null;
  issuer: { type: 'self' };
  last_finalization_error: null;
  latest_revision: null;
  lines: InvoiceList<InvoiceLineItem>;
  livemode: false;
  metadata: Metadata;
  next_payment_attempt: number | null;
  number: string | null;
  on_behalf_of: null;
  /** Oncepay extension: the order this invoice pays. */
  order: string | null;
  parent: InvoiceParent | null;
  payment_settings: { default_mandate: null; payment_method_options: null; payment_method_types: 'card'[] | null };
  period_end: number;
  period_start: number;
  post_payment_credit_notes_amount: number;
  pre_payment_credit_notes_amount: number;
  receipt_number: null;
  rendering: InvoiceRendering | null;
  shipping_cost: null;
  shipping_details: InvoiceShippingDetails | null;
  starting_balance: number;
  statement_descriptor: string | null;
  status: InvoiceStatus;
  status_transitions: {
    finalized_at: number | null;
    marked_uncollectible_at: number | null;
    paid_at: number | null;
    voided_at: number | null;
  };
  subtotal: number;
  subtotal_excluding_tax: number;
  test_clock: string | null;
  total: number;
  total_discount_amounts: never[];
  total_excluding_tax: number;
  total_pretax_credit_amounts: never[];
  total_taxes: never[];
  webhooks_delivered_at: null;
}

/** The subscription an invoice bills, if any (`parent.subscription_details.subscription`). */
export const invoiceSubscription = (inv: Pick<Invoice, 'parent'>): string | null => inv.parent?.subscription_details.subscription ?? null;

export interface InvoiceItem {
  id: string;
  object: 'invoiceitem';
  amount: number;
  /** Oncepay extension: same as date (Oncepay lists and filters every object by created). */
  created: number;
  currency: string;
  customer: string;
  customer_account: null;
  date: number;
  description: string | null;
  discountable: boolean;
  discounts: never[];
  /** Oncepay extension: the caller's permanent business key. */
  external_id: string | null;
  invoice: string | null;
  livemode: false;
  metadata: Metadata;
  parent: null;
  period: Period;
  pricing: Pricing;
  proration: false;
  quantity: number;
  quantity_decimal: string;
  tax_rates: never[];
  test_clock: string | null;
}

/** An item's unit amount, in the currency's smallest unit (Oncepay amounts are whole). */
export const unitAmountOf = (p: Pick<InvoiceItem, 'pricing'>): number => Number(p.pricing.unit_amount_decimal ?? 0);

/** A payment of an invoice: its payment intent (one at a time), as Stripe's InvoicePayment. */
export interface InvoicePayment {
  id: string;
  object: 'invoice_payment';
  amount_paid: number | null;
  amount_requested: number;
  created: number;
  currency: string;
  invoice: string;
  is_default: boolean;
  livemode: false;
  payment: { type: 'payment_intent'; payment_intent: string };
  status: 'open' | 'paid' | 'canceled';
  status_transitions: { canceled_at: number | null; paid_at: number | null };
}

/** A message an invoice sent (Oncepay extension: there is no mail, so this is the outbox). */
export interface InvoiceMessage {
  id: string;
  object: 'invoice_message';
  created: number;
  invoice: string;
  type: 'invoice' | 'reminder';
  to: string | null;
  subject: string;
  /** For reminders: seconds from the due date (negative before it). */
  reminder_offset: number | null;
  /** The event recorded with this message. */
  event: string;
}

// ---- subscriptions ----------------------------------------------------------------------------

export const SUBSCRIPTION_STATUSES = ['incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'unpaid', 'paused', 'canceled'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

/** What a trial ending without a payment method does (Stripe's trial_settings.end_behavior.missing_payment_method). */
export const TRIAL_END_BEHAVIORS = ['cancel', 'create_invoice', 'pause'] as const;
export type TrialEndBehavior = (typeof TRIAL_END_BEHAVIORS)[number];

export interface SubscriptionItem {
  id: string;
  object: 'subscription_item';
  billing_thresholds: null;
  created: number;
  /** The item's current period (since 2025-03-31 on items, no longer on the subscription). */
  current_period_end: number;
  current_period_start: number;
  current_trial: null;
  discounts: never[];
  metadata: Metadata;
  /** The legacy plan view of the price (Stripe still renders it). */
  plan: Plan;
  price: Price;
  quantity: number;
  subscription: string;
  tax_rates: never[];
}

/** Stripe's legacy Plan object, derived from a recurring price (same id). */
export interface Plan {
  id: string;
  object: 'plan';
  active: boolean;
  amount: number;
  amount_decimal: string;
  billing_scheme: 'per_unit';
  created: number;
  currency: string;
  interval: PriceInterval;
  interval_count: number;
  livemode: false;
  metadata: Metadata;
  meter: null;
  nickname: string | null;
  product: string;
  tiers_mode: null;
  transform_usage: null;
  trial_period_days: number | null;
  usage_type: 'licensed';
}

export const CANCELLATION_FEEDBACK = ['customer_service', 'low_quality', 'missing_features', 'other', 'switched_service', 'too_complex', 'too_expensive', 'unused'] as const;

export interface CancellationDetails {
  comment: string | null;
  feedback: (typeof CANCELLATION_FEEDBACK)[number] | null;
  feedback_option: null;
  reason: 'cancellation_requested' | 'payment_failed' | null;
}

export interface Subscription {
  id: string;
  object: 'subscription';
  application: null;
  application_fee_percent: null;
  automatic_tax: { disabled_reason: null; enabled: false; liability: null };
  billing_cycle_anchor: number;
  billing_cycle_anchor_config: null;
  billing_mode: { flexible: { proration_discounts: 'included' } | null; type: 'classic' | 'flexible'; updated_at: number };
  billing_schedules: never[];
  billing_thresholds: null;
  cancel_at: number | null;
  cancel_at_period_end: boolean;
  canceled_at: number | null;
  cancellation_details: CancellationDetails;
  collection_method: CollectionMethod;
  created: number;
  currency: string;
  customer: string;
  customer_account: null;
  days_until_due: number | null;
  default_payment_method: string | null;
  default_source: null;
  default_tax_rates: never[];
  description: string | null;
  discounts: never[];
  ended_at: number | null;
  /** Oncepay extension: the caller's permanent business key. */
  external_id: string | null;
  /** What the subscription's invoices carry: custom fields, description and footer. */
  invoice_settings: {
    account_tax_ids: null; custom_fields: { name: string; value: string }[] | null; description: string | null; footer: string | null; issuer: { type: 'self' };
  };
  items: EmbeddedList<SubscriptionItem>;
  latest_invoice: string | null;
  livemode: false;
  managed_payments: null;
  metadata: Metadata;
  next_pending_invoice_item_invoice: null;
  on_behalf_of: null;
  pause_collection: null;
  payment_settings: { payment_method_options: null; payment_method_types: null; save_default_payment_method: 'off' | 'on_subscription' };
  pending_invoice_item_interval: null;
  pending_setup_intent: null;
  pending_update: null;
  schedule: null;
  start_date: number;
  status: SubscriptionStatus;
  test_clock: string | null;
  transfer_data: null;
  trial_end: number | null;
  trial_settings: { end_behavior: { billing_cycle_anchor: null; missing_payment_method: TrialEndBehavior } };
  trial_start: number | null;
}

// ---- tables -----------------------------------------------------------------------------------

export const orders = new ObjectTable<Order>('orders', 'order', {
  customer: (o) => o.customer,
  status: (o) => o.status,
});
export const products = new ObjectTable<Product & { deleted?: boolean }>('products', 'product', {
  active: (p) => p.active,
  deleted: (p) => p.deleted === true,
});
export const prices = new ObjectTable<Price & { deleted?: boolean }>('prices', 'price', {
  product: (p) => p.product,
  active: (p) => p.active,
  type: (p) => p.type,
  deleted: (p) => p.deleted === true,
});
export const testClocks = new ObjectTable<TestClock & { deleted?: boolean }>('test_clocks', 'test_helpers.test_clock', {
  status: (c) => c.status,
  deleted: (c) => c.deleted === true,
});
export const invoices = new ObjectTable<Invoice & { deleted?: boolean }>('invoices', 'invoice', {
  customer: (i) => i.customer,
  status: (i) => i.status,
  deleted: (i) => i.deleted === true,
  subscription: (i) => invoiceSubscription(i),
  period_start: (i) => (i.parent ? i.period_start : null),
  order_id: (i) => i.order,
  test_clock: (i) => i.test_clock,
});
export const invoiceItems = new ObjectTable<InvoiceItem & { deleted?: boolean }>('invoiceitems', 'invoiceitem', {
  customer: (i) => i.customer,
  invoice: (i) => i.invoice,
  deleted: (i) => i.deleted === true,
});
export const invoicePayments = new ObjectTable<InvoicePayment>('invoice_payments', 'invoice_payment', {
  invoice: (p) => p.invoice,
  payment_intent: (p) => p.payment.payment_intent,
  status: (p) => p.status,
});
export const invoiceMessages = new ObjectTable<InvoiceMessage>('invoice_messages', 'invoice_message', {
  invoice: (m) => m.invoice,
});
export const subscriptions = new ObjectTable<Subscription>('subscriptions', 'subscription', {
  customer: (s) => s.customer,
  status: (s) => s.status,
  test_clock: (s) => s.test_clock,
  current_period_end: (s) => s.items.data[0].current_period_end,
});
