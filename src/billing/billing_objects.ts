/**
 * Billing objects (orders, catalog, invoices, subscriptions, test clocks): their Stripe shapes and
 * tables. Shapes follow Stripe's API reference; `external_id` and orders are Oncepay's additions.
 */
import { ObjectTable } from '../store/object_table.ts';
import type { Metadata } from '../schema/metadata.ts';

/** Stripe's embedded list (invoice lines, subscription items, order line items). */
export interface EmbeddedList<T> {
  object: 'list';
  data: T[];
  has_more: false;
  total_count: number;
  url: string;
}

export const embeddedList = <T>(data: T[], url: string): EmbeddedList<T> => ({ object: 'list', data, has_more: false, total_count: data.length, url });

// ---- orders -----------------------------------------------------------------------------------

export const ORDER_STATUSES = ['open', 'partially_paid', 'paid', 'partially_refunded', 'refunded', 'canceled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export interface OrderLineItem {
  id: string;
  object: 'item';
  amount_subtotal: number;
  amount_total: number;
  currency: string;
  description: string | null;
  price: string | null;
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
  trial_period_days: null;
  usage_type: 'licensed';
}

export interface Price {
  id: string;
  object: 'price';
  active: boolean;
  billing_scheme: 'per_unit';
  created: number;
  currency: string;
  /** Oncepay extension: the caller's permanent business key. */
  external_id: string | null;
  livemode: false;
  lookup_key: string | null;
  metadata: Metadata;
  nickname: string | null;
  product: string;
  recurring: Recurring | null;
  tax_behavior: 'unspecified';
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
export type BillingReason = 'manual' | 'subscription_create' | 'subscription_cycle';

export interface Period {
  start: number;
  end: number;
}

export interface InvoiceLineItem {
  id: string;
  object: 'line_item';
  amount: number;
  currency: string;
  description: string | null;
  invoice: string;
  invoice_item: string | null;
  livemode: false;
  metadata: Metadata;
  period: Period;
  price: Price | null;
  quantity: number;
  subscription: string | null;
  subscription_item: string | null;
  type: 'invoiceitem' | 'subscription';
}

export interface Invoice {
  id: string;
  object: 'invoice';
  amount_due: number;
  amount_paid: number;
  amount_remaining: number;
  attempt_count: number;
  attempted: boolean;
  auto_advance: boolean;
  /** When a draft with auto_advance is finalized by the billing run (an hour after creation, as Stripe does). */
  automatically_finalizes_at: number | null;
  billing_reason: BillingReason;
  collection_method: CollectionMethod;
  created: number;
  currency: string;
  customer: string;
  customer_email: string | null;
  customer_name: string | null;
  days_until_due: number | null;
  default_payment_method: string | null;
  description: string | null;
  due_date: number | null;
  effective_at: number | null;
  external_id: string | null;
  hosted_invoice_url: null;
  last_finalization_error: null;
  lines: EmbeddedList<InvoiceLineItem>;
  livemode: false;
  metadata: Metadata;
  next_payment_attempt: number | null;
  number: string | null;
  /** Oncepay extension: the order this invoice pays. */
  order: string | null;
  paid_out_of_band: boolean;
  /** Oncepay extension: the payment intent of the latest charge attempt. */
  payment_intent: string | null;
  period_end: number;
  period_start: number;
  status: InvoiceStatus;
  status_transitions: {
    finalized_at: number | null;
    marked_uncollectible_at: number | null;
    paid_at: number | null;
    voided_at: number | null;
  };
  subscription: string | null;
  subtotal: number;
  test_clock: string | null;
  total: number;
  webhooks_delivered_at: null;
}

export interface InvoiceItem {
  id: string;
  object: 'invoiceitem';
  amount: number;
  /** Same as date (Oncepay lists and filters every object by created). */
  created: number;
  currency: string;
  customer: string;
  date: number;
  description: string | null;
  discountable: boolean;
  external_id: string | null;
  invoice: string | null;
  livemode: false;
  metadata: Metadata;
  period: Period;
  price: Price | null;
  proration: false;
  quantity: number;
  subscription: null;
  test_clock: string | null;
  unit_amount: number;
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

export const SUBSCRIPTION_STATUSES = ['incomplete', 'incomplete_expired', 'active', 'past_due', 'unpaid', 'canceled'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

export interface SubscriptionItem {
  id: string;
  object: 'subscription_item';
  created: number;
  current_period_end: number;
  current_period_start: number;
  metadata: Metadata;
  price: Price;
  quantity: number;
  subscription: string;
}

export interface Subscription {
  id: string;
  object: 'subscription';
  billing_cycle_anchor: number;
  cancel_at: number | null;
  cancel_at_period_end: boolean;
  canceled_at: number | null;
  collection_method: CollectionMethod;
  created: number;
  currency: string;
  current_period_end: number;
  current_period_start: number;
  customer: string;
  days_until_due: number | null;
  default_payment_method: string | null;
  description: string | null;
  ended_at: number | null;
  external_id: string | null;
  items: EmbeddedList<SubscriptionItem>;
  latest_invoice: string | null;
  livemode: false;
  metadata: Metadata;
  start_date: number;
  status: SubscriptionStatus;
  test_clock: string | null;
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
export const prices = new ObjectTable<Price>('prices', 'price', {
  product: (p) => p.product,
  active: (p) => p.active,
  type: (p) => p.type,
});
export const testClocks = new ObjectTable<TestClock & { deleted?: boolean }>('test_clocks', 'test_helpers.test_clock', {
  status: (c) => c.status,
  deleted: (c) => c.deleted === true,
});
export const invoices = new ObjectTable<Invoice & { deleted?: boolean }>('invoices', 'invoice', {
  customer: (i) => i.customer,
  status: (i) => i.status,
  deleted: (i) => i.deleted === true,
  subscription: (i) => i.subscription,
  period_start: (i) => (i.subscription ? i.period_start : null),
  order_id: (i) => i.order,
  test_clock: (i) => i.test_clock,
});
export const invoiceItems = new ObjectTable<InvoiceItem & { deleted?: boolean }>('invoiceitems', 'invoiceitem', {
  customer: (i) => i.customer,
  invoice: (i) => i.invoice,
  deleted: (i) => i.deleted === true,
});
export const invoiceMessages = new ObjectTable<InvoiceMessage>('invoice_messages', 'invoice_message', {
  invoice: (m) => m.invoice,
});
export const subscriptions = new ObjectTable<Subscription>('subscriptions', 'subscription', {
  customer: (s) => s.customer,
  status: (s) => s.status,
  test_clock: (s) => s.test_clock,
  current_period_end: (s) => s.current_period_end,
});
