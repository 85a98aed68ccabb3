/**
 * Component schemas of invoices, invoice items, invoice messages and subscriptions. Rendering
 * code described here: src/billing/billing_objects.ts, invoice_core.ts, invoices.ts, invoice_items.ts,
 * subscriptions.ts.
 */
import { BILLING_SCHEMA_NAMES } from './schema_names.ts';
import { subscription, subscriptionItem } from './subscriptions.ts';
import {
  type JsonSchema, alwaysNull, bool, constant, currencyCode, expandable, id, int, livemode, metadata, nullable, nullableExpandable,
  objectName, oneOfValues, ref, shape, text, timestamp,
} from './blocks.ts';
import { INVOICE_STATUSES } from '../../billing/billing_objects.ts';


/** An invoice's inline lists (lines, payments): whole, and without total_count, as Stripe's ApiList. */
const invoiceList = (item: JsonSchema, url: string): JsonSchema => shape({
  object: constant('list'),
  data: { type: 'array', items: item },
  has_more: constant(false),
  url: { type: 'string', pattern: '^/v1/', description: url },
});

const period = (description: string): JsonSchema => shape({ start: timestamp(), end: timestamp() }, { description });
const collectionMethod = () => oneOfValues(['charge_automatically', 'send_invoice'], 'charge_automatically: the default payment method is charged; send_invoice: the customer is sent the invoice to pay by its due date.');

const emptyArray = (description?: string): JsonSchema => ({ type: 'array', maxItems: 0, ...(description ? { description } : {}) });
const noProration = () => ({ proration: constant(false), proration_details: shape({ credited_items: alwaysNull() }) });
const pricing = shape({
  price_details: shape({ price: expandable('The price billed.', 'price'), product: id('prod') }),
  type: constant('price_details'),
  unit_amount_decimal: nullable({ type: 'string', pattern: '^-?[0-9]+$', description: 'The unit amount, in the currency\'s smallest unit, as a decimal string.' }),
}, { optional: ['price_details'], description: 'A price, or the ad-hoc unit amount alone.' });
const addressShape = shape({
  city: nullable(text()), country: nullable(text()), line1: nullable(text()), line2: nullable(text()), postal_code: nullable(text()), state: nullable(text()),
});

const lineItem = shape({
  id: id('il'),
  object: objectName('line_item'),
  amount: int('The line\'s amount (quantity × unit amount), in the currency\'s smallest unit.'),
  currency: currencyCode(),
  description: nullable(text()),
  discount_amounts: emptyArray('Oncepay has no discounts.'),
  discountable: bool(),
  discounts: emptyArray(),
  invoice: id('in'),
  livemode: livemode(),
  metadata: metadata(),
  parent: {
    description: 'What the line bills: an invoice item, or a subscription item.',
    anyOf: [
      shape({
        type: constant('invoice_item_details'),
        invoice_item_details: shape({ invoice_item: id('ii'), ...noProration(), subscription: nullable(id('sub')) }),
        subscription_item_details: alwaysNull(),
      }),
      shape({
        type: constant('subscription_item_details'),
        invoice_item_details: alwaysNull(),
        subscription_item_details: shape({
          invoice_item: nullable(id('ii')), ...noProration(), subscription: id('sub'), subscription_item: id('si'),
        }),
      }),
    ],
  },
  period: period('The period this line covers.'),
  pretax_credit_amounts: emptyArray(),
  pricing,
  quantity: int(undefined, 1),
  quantity_decimal: { type: 'string', pattern: '^[0-9]+$' },
  subscription: nullableExpandable('The subscription this line bills.', 'subscription'),
  subtotal: int(),
  taxes: emptyArray('Oncepay calculates no tax.'),
}, { title: 'Invoice line item' });

const invoicePayment = shape({
  id: id('inpay'),
  object: objectName('invoice_payment'),
  amount_paid: nullable(int('What the payment paid of the invoice; null until it is paid.', 0)),
  amount_requested: int('What the payment was asked to pay.', 0),
  created: timestamp(),
  currency: currencyCode(),
  invoice: expandable('The invoice paid.', 'invoice'),
  is_default: bool('Whether this is the invoice\'s default payment (the one its payment intent makes).'),
  livemode: livemode(),
  payment: shape({
    type: constant('payment_intent'),
    payment_intent: expandable('The payment intent that pays the invoice.', 'payment_intent'),
  }),
  status: oneOfValues(['open', 'paid', 'canceled']),
  status_transitions: shape({ canceled_at: nullable(timestamp()), paid_at: nullable(timestamp()) }),
}, { title: 'Invoice payment' });

const zero = (description?: string): JsonSchema => ({ const: 0, ...(description ? { description } : {}) });

const invoice = shape({
  id: id('in'),
  object: objectName('invoice'),
  account_country: alwaysNull(),
  account_name: alwaysNull(),
  account_tax_ids: alwaysNull('Oncepay has no tax IDs.'),
  amount_due: int('What the customer owes in total.', 0),
  amount_overpaid: zero(),
  amount_paid: int('What was paid.', 0),
  amount_paid_off_stripe: int('What was paid outside of Oncepay (paid_out_of_band).', 0),
  amount_remaining: int('What is left to pay.', 0),
  amount_shipping: zero(),
  application: alwaysNull(),
  attempt_count: int('How many payment attempts were made.', 0),
  attempted: bool('Whether a payment was attempted.'),
  auto_advance: bool('Whether the billing run finalizes (drafts) and collects (charge_automatically) this invoice by itself.'),
  automatic_tax: shape({ disabled_reason: alwaysNull(), enabled: constant(false), liability: alwaysNull(), provider: alwaysNull(), status: alwaysNull() }),
  automatically_finalizes_at: nullable(timestamp('When a draft with auto_advance is finalized by the billing run.')),
  billing_reason: oneOfValues(['manual', 'subscription_create', 'subscription_cycle', 'subscription_update']),
  collection_method: collectionMethod(),
  confirmation_secret: nullable(shape({ client_secret: text('The client secret of the invoice\'s payment intent.'), type: constant('payment_intent') })),
  created: timestamp(),
  currency: currencyCode(),
  custom_fields: nullable({ type: 'array', maxItems: 4, items: shape({ name: text(), value: text() }) }),
  customer: expandable('The customer billed.', 'customer', 'deleted_customer'),
  customer_account: alwaysNull(),
  customer_address: alwaysNull(),
  customer_email: nullable(text()),
  customer_name: nullable(text()),
  customer_phone: alwaysNull(),
  customer_shipping: alwaysNull(),
  customer_tax_exempt: constant('none'),
  customer_tax_ids: emptyArray(),
  default_payment_method: nullable(text()),
  default_source: alwaysNull(),
  default_tax_rates: emptyArray(),
  description: nullable(text()),
  discounts: emptyArray(),
  due_date: nullable(timestamp('When a send_invoice invoice is due.')),
  effective_at: nullable(timestamp()),
  ending_balance: nullable(zero('The customer balance after finalization (Oncepay keeps none: 0).')),
  external_id: nullable(text('Oncepay extension: the caller\'s permanent business key.')),
  footer: nullable(text()),
  from_invoice: alwaysNull(),
  hosted_invoice_url: nullable(text('The hosted invoice page (an unguessable URL on ONCEPAY_PUBLIC_URL: /i/<token>), where the customer sees the invoice, pays an open one by card and downloads its PDF; given at finalization, null while a draft.')),
  invoice_pdf: nullable(text('The invoice as a PDF (the hosted page\'s URL followed by /pdf); given at finalization, null while a draft.')),
  issuer: shape({ type: constant('self') }),
  last_finalization_error: alwaysNull(),
  latest_revision: alwaysNull(),
  lines: invoiceList(ref('invoice_line_item'), 'The URL of the invoice\'s lines.'),
  livemode: livemode(),
  metadata: metadata(),
  next_payment_attempt: nullable(timestamp('When the billing run will try to collect this invoice.')),
  number: nullable({ type: 'string', minLength: 1, maxLength: 26, description: 'Sequential per account (PREFIX-0001), given at finalization, or the one set with number=.' }),
  on_behalf_of: alwaysNull(),
  order: nullable(id('order', 'Oncepay extension: the order this invoice pays.')),
  parent: nullable(shape({
    type: constant('subscription_details'),
    quote_details: alwaysNull(),
    subscription_details: shape({ metadata: nullable(metadata()), subscription: expandable('The subscription billed.', 'subscription') }),
  }, { description: 'What the invoice was created for: a subscription\'s period; null for one-off invoices.' })),
  payment_settings: shape({
    default_mandate: alwaysNull(), payment_method_options: alwaysNull(),
    payment_method_types: nullable({ type: 'array', items: constant('card'), maxItems: 1 }),
  }),
  payments: invoiceList(ref('invoice_payment'), 'The URL of the invoice\'s payments (listed with expand[]=payments).'),
  period_end: timestamp(),
  period_start: timestamp(),
  post_payment_credit_notes_amount: zero(),
  pre_payment_credit_notes_amount: zero(),
  receipt_number: alwaysNull(),
  rendering: nullable(shape({
    amount_tax_display: nullable(text()),
    pdf: nullable(shape({ page_size: nullable(oneOfValues(['a4', 'auto', 'letter'])) })),
    template: nullable(text()),
    template_version: nullable(int(undefined, 1)),
  })),
  shipping_cost: alwaysNull(),
  shipping_details: nullable(shape({ address: addressShape, name: text(), phone: nullable(text()) })),
  starting_balance: zero(),
  statement_descriptor: nullable({ type: 'string', maxLength: 22 }),
  status: oneOfValues(INVOICE_STATUSES),
  status_transitions: shape({
    finalized_at: nullable(timestamp()),
    marked_uncollectible_at: nullable(timestamp()),
    paid_at: nullable(timestamp()),
    voided_at: nullable(timestamp()),
  }),
  subtotal: int(),
  subtotal_excluding_tax: int(),
  test_clock: nullableExpandable('The test clock of the invoice\'s customer.', 'test_helpers.test_clock'),
  total: int(),
  total_discount_amounts: emptyArray(),
  total_excluding_tax: int(),
  total_pretax_credit_amounts: emptyArray(),
  total_taxes: emptyArray('Oncepay calculates no tax.'),
  webhooks_delivered_at: alwaysNull(),
}, { title: 'Invoice', optional: ['confirmation_secret', 'payments'] });

const deletedInvoice = shape({ id: id('in'), object: objectName('invoice'), deleted: constant(true) }, { title: 'Deleted invoice' });

const invoiceItem = shape({
  id: id('ii'),
  object: objectName('invoiceitem'),
  amount: int('quantity × unit amount (or the amount given), in the currency\'s smallest unit; negative for a credit.'),
  created: timestamp('Oncepay extension: same as date.'),
  currency: currencyCode(),
  customer: expandable('The customer billed.', 'customer', 'deleted_customer'),
  customer_account: alwaysNull(),
  date: timestamp(),
  description: nullable(text()),
  discountable: bool(),
  discounts: emptyArray(),
  external_id: nullable(text('Oncepay extension: the caller\'s permanent business key.')),
  invoice: nullableExpandable('The draft (or finalized) invoice this item is on; null while pending.', 'invoice'),
  livemode: livemode(),
  metadata: metadata(),
  parent: alwaysNull('Oncepay never ties invoice items to a subscription.'),
  period: period('The period this item covers.'),
  pricing,
  proration: constant(false),
  quantity: int(undefined, 1),
  quantity_decimal: { type: 'string', pattern: '^[0-9]+$' },
  tax_rates: emptyArray(),
  test_clock: nullableExpandable('The test clock of the item\'s customer.', 'test_helpers.test_clock'),
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


export const BILLING_SCHEMAS: Record<(typeof BILLING_SCHEMA_NAMES)[number], JsonSchema> = {
  invoice,
  deleted_invoice: deletedInvoice,
  invoice_line_item: lineItem,
  invoiceitem: invoiceItem,
  deleted_invoiceitem: deletedInvoiceItem,
  invoice_message: invoiceMessage,
  invoice_payment: invoicePayment,
  subscription,
  subscription_item: subscriptionItem,
};
