/**
 * Component schemas of invoices, invoice items, invoice messages and subscriptions. Rendering
 * code described here: src/billing/billing_objects.ts, invoice_core.ts, invoices.ts, invoice_items.ts,
 * subscriptions.ts.
 */
import { BILLING_SCHEMA_NAMES } from './schema_names.ts';
import {
  type JsonSchema, alwaysNull, bool, constant, currencyCode, expandable, id, int, livemode, metadata, nullable, nullableExpandable,
  objectName, oneOfValues, ref, shape, text, timestamp,
} from './blocks.ts';
import { INVOICE_STATUSES, SUBSCRIPTION_STATUSES } from '../../billing/billing_objects.ts';


/** Stripe's list embedded in an object (all of it: has_more is always false). */
const embedded = (item: JsonSchema, url: string): JsonSchema => shape({
  object: constant('list'),
  data: { type: 'array', items: item },
  has_more: constant(false),
  total_count: int('How many items the list holds.', 0),
  url: { type: 'string', pattern: '^/v1/', description: url },
});

const period = (description: string): JsonSchema => shape({ start: timestamp(), end: timestamp() }, { description });
const collectionMethod = () => oneOfValues(['charge_automatically', 'send_invoice'], 'charge_automatically: the default payment method is charged; send_invoice: the customer is sent the invoice to pay by its due date.');

const lineItem = shape({
  id: id('il'),
  object: objectName('line_item'),
  amount: int('The line\'s amount (quantity × unit amount), in the currency\'s smallest unit.'),
  currency: currencyCode(),
  description: nullable(text()),
  invoice: id('in'),
  invoice_item: nullable(id('ii', 'The invoice item this line bills; null for subscription lines.')),
  livemode: livemode(),
  metadata: metadata(),
  period: period('The period this line covers.'),
  price: nullable(ref('price')),
  quantity: int(undefined, 1),
  subscription: nullable(id('sub')),
  subscription_item: nullable(id('si')),
  type: oneOfValues(['invoiceitem', 'subscription']),
}, { title: 'Invoice line item' });

const invoice = shape({
  id: id('in'),
  object: objectName('invoice'),
  amount_due: int('What the customer owes in total.', 0),
  amount_paid: int('What was paid.', 0),
  amount_remaining: int('What is left to pay.', 0),
  attempt_count: int('How many payment attempts were made.', 0),
  attempted: bool('Whether a payment was attempted.'),
  auto_advance: bool('Whether the billing run finalizes (drafts) and collects (charge_automatically) this invoice by itself.'),
  automatically_finalizes_at: nullable(timestamp('When a draft with auto_advance is finalized by the billing run.')),
  billing_reason: oneOfValues(['manual', 'subscription_create', 'subscription_cycle']),
  collection_method: collectionMethod(),
  created: timestamp(),
  currency: currencyCode(),
  customer: expandable('The customer billed.', 'customer', 'deleted_customer'),
  customer_email: nullable(text()),
  customer_name: nullable(text()),
  days_until_due: nullable(int(undefined, 0)),
  default_payment_method: nullable(text()),
  description: nullable(text()),
  due_date: nullable(timestamp('When a send_invoice invoice is due.')),
  effective_at: nullable(timestamp()),
  external_id: nullable(text('Oncepay extension: the caller\'s permanent business key.')),
  hosted_invoice_url: alwaysNull('Oncepay hosts no payment page.'),
  last_finalization_error: alwaysNull(),
  lines: embedded(ref('invoice_line_item'), 'The URL of the invoice\'s lines.'),
  livemode: livemode(),
  metadata: metadata(),
  next_payment_attempt: nullable(timestamp('When the billing run will try to collect this invoice.')),
  number: nullable({ type: 'string', pattern: '^[A-Z0-9]+-[0-9]{4,}$', description: 'Sequential per account, given at finalization.' }),
  order: nullable(id('order', 'Oncepay extension: the order this invoice pays.')),
  paid_out_of_band: bool('Whether it was marked paid without a payment here.'),
  payment_intent: nullableExpandable('Oncepay extension: the payment intent of the latest card payment attempt.', 'payment_intent'),
  period_end: timestamp(),
  period_start: timestamp(),
  status: oneOfValues(INVOICE_STATUSES),
  status_transitions: shape({
    finalized_at: nullable(timestamp()),
    marked_uncollectible_at: nullable(timestamp()),
    paid_at: nullable(timestamp()),
    voided_at: nullable(timestamp()),
  }),
  subscription: nullable(id('sub')),
  subtotal: int(),
  test_clock: nullable(id('clock')),
  total: int(),
  webhooks_delivered_at: alwaysNull(),
}, { title: 'Invoice' });

const deletedInvoice = shape({ id: id('in'), object: objectName('invoice'), deleted: constant(true) }, { title: 'Deleted invoice' });

const invoiceItem = shape({
  id: id('ii'),
  object: objectName('invoiceitem'),
  amount: int('quantity × unit_amount (or the amount given), in the currency\'s smallest unit; negative for a credit.'),
  created: timestamp('Same as date.'),
  currency: currencyCode(),
  customer: expandable('The customer billed.', 'customer', 'deleted_customer'),
  date: timestamp(),
  description: nullable(text()),
  discountable: bool(),
  external_id: nullable(text('Oncepay extension: the caller\'s permanent business key.')),
  invoice: nullable(id('in', 'The draft (or finalized) invoice this item is on; null while pending.')),
  livemode: livemode(),
  metadata: metadata(),
  period: period('The period this item covers.'),
  price: nullable(ref('price')),
  proration: constant(false),
  quantity: int(undefined, 1),
  subscription: alwaysNull(),
  test_clock: nullable(id('clock')),
  unit_amount: int(),
}, { title: 'Invoice item' });

const deletedInvoiceItem = shape({ id: id('ii'), object: objectName('invoiceitem'), deleted: constant(true) }, { title: 'Deleted invoice item' });

const invoiceMessage = shape({
  id: id('imsg'),
  object: objectName('invoice_message'),
  created: timestamp('When it was sent (the test clock\'s time for customers on one).'),
  invoice: id('in'),
  type: oneOfValues(['invoice', 'reminder'], 'invoice: sent by POST /v1/invoices/:id/send; reminder: by the billing run.'),
  to: nullable(text('The customer\'s email address.')),
  subject: text(),
  reminder_offset: nullable(int('For reminders: seconds from the due date (negative: before it).')),
  event: id('evt', 'The invoice.sent or invoice.reminder event recorded with it.'),
}, { title: 'Invoice message (Oncepay extension)' });

const subscriptionItem = shape({
  id: id('si'),
  object: objectName('subscription_item'),
  created: timestamp(),
  current_period_end: timestamp(),
  current_period_start: timestamp(),
  metadata: metadata(),
  price: ref('price'),
  quantity: int(undefined, 1),
  subscription: id('sub'),
}, { title: 'Subscription item' });

const subscription = shape({
  id: id('sub'),
  object: objectName('subscription'),
  billing_cycle_anchor: timestamp('Periods are counted from here.'),
  cancel_at: nullable(timestamp()),
  cancel_at_period_end: bool(),
  canceled_at: nullable(timestamp()),
  collection_method: collectionMethod(),
  created: timestamp(),
  currency: currencyCode(),
  current_period_end: timestamp(),
  current_period_start: timestamp(),
  customer: expandable('The customer billed.', 'customer', 'deleted_customer'),
  days_until_due: nullable(int(undefined, 0)),
  default_payment_method: nullable(text()),
  description: nullable(text()),
  ended_at: nullable(timestamp()),
  external_id: nullable(text('Oncepay extension: the caller\'s permanent business key.')),
  items: embedded(ref('subscription_item'), 'The URL of the subscription\'s items.'),
  latest_invoice: nullable(id('in')),
  livemode: livemode(),
  metadata: metadata(),
  start_date: timestamp(),
  status: oneOfValues(SUBSCRIPTION_STATUSES),
  test_clock: nullable(id('clock')),
}, { title: 'Subscription' });

export const BILLING_SCHEMAS: Record<(typeof BILLING_SCHEMA_NAMES)[number], JsonSchema> = {
  invoice,
  deleted_invoice: deletedInvoice,
  invoice_line_item: lineItem,
  invoiceitem: invoiceItem,
  deleted_invoiceitem: deletedInvoiceItem,
  invoice_message: invoiceMessage,
  subscription,
  subscription_item: subscriptionItem,
};
