/** Component schemas of Checkout Sessions and their line items (rendered by src/checkout/). */
import { CHECKOUT_SCHEMA_NAMES } from './schema_names.ts';
import {
  type JsonSchema, shape, nullable, id, text, int, oneOfValues, constant, alwaysNull, timestamp, livemode, objectName, metadata, ref,
  nullableExpandable, currencyCode, listOf,
} from './blocks.ts';

const notOffered = (what: string) => alwaysNull(`${what}: not part of Oncepay's hosted page, always null.`);
const emptyArray = (what: string): JsonSchema => ({ type: 'array', maxItems: 0, description: `${what}: not part of Oncepay, always empty.` });

const item = shape({
  id: id('li'),
  object: objectName('item'),
  adjustable_quantity: alwaysNull('Quantities are fixed on Oncepay\'s hosted page.'),
  amount_discount: int(undefined, 0),
  amount_subtotal: int(undefined, 0),
  amount_tax: int(undefined, 0),
  amount_total: int(undefined, 0),
  currency: currencyCode(),
  description: nullable(text('The product\'s name.')),
  metadata: metadata(),
  price: ref('price'),
  quantity: int(undefined, 1),
}, { title: 'Checkout line item' });

const customerDetails = nullable(shape({
  address: alwaysNull('The page collects no address.'),
  business_name: alwaysNull(),
  email: nullable(text()),
  individual_name: alwaysNull(),
  name: nullable(text('The cardholder\'s name as typed on the page, or the customer\'s name.')),
  phone: alwaysNull(),
  tax_exempt: nullable(oneOfValues(['none', 'exempt', 'reverse'])),
  tax_ids: { type: ['array', 'null'], maxItems: 0 },
}, { description: 'What the customer gave on the page (and their customer object) once the session completed; the prefilled email before.' }));

const session = shape({
  id: id('cs_test'),
  object: objectName('checkout.session'),
  adaptive_pricing: notOffered('Adaptive pricing'),
  after_expiration: notOffered('Recovery after expiration'),
  allow_promotion_codes: notOffered('Promotion codes'),
  allowed_payment_method_types: alwaysNull(),
  amount_subtotal: nullable(int('Sum of the line items; null in setup mode.', 0)),
  amount_total: nullable(int('What the customer pays (no tax, shipping or discounts); null in setup mode.', 0)),
  automatic_tax: shape({ enabled: constant(false), liability: alwaysNull(), provider: alwaysNull(), status: alwaysNull() }),
  billing_address_collection: notOffered('Address collection'),
  cancel_url: nullable(text()),
  client_reference_id: nullable(text()),
  client_secret: alwaysNull('Only embedded and Elements checkouts have one; Oncepay serves the hosted page.'),
  collected_information: alwaysNull(),
  consent: alwaysNull(),
  consent_collection: alwaysNull(),
  created: timestamp(),
  currency: nullable(currencyCode()),
  currency_conversion: alwaysNull(),
  custom_fields: emptyArray('Custom fields'),
  custom_text: shape({ after_submit: alwaysNull(), shipping_address: alwaysNull(), submit: alwaysNull(), terms_of_service_acceptance: alwaysNull() }),
  customer: nullableExpandable('The customer given, or the one completing created (subscription mode, customer_creation=always).', 'customer', 'deleted_customer'),
  customer_account: alwaysNull(),
  customer_creation: nullable(oneOfValues(['always', 'if_required'])),
  customer_details: customerDetails,
  customer_email: nullable(text()),
  discounts: emptyArray('Discounts'),
  expires_at: timestamp(),
  integration_identifier: nullable(text()),
  invoice: alwaysNull('Oncepay creates no invoice for a one-time Checkout payment.'),
  invoice_creation: nullable(shape({
    enabled: constant(false),
    invoice_data: shape({
      account_tax_ids: alwaysNull(), custom_fields: alwaysNull(), description: alwaysNull(), footer: alwaysNull(), issuer: alwaysNull(),
      metadata: metadata(), rendering_options: alwaysNull(),
    }),
  })),
  line_items: listOf(ref('item'), 'The line items: only with expand[]=line_items.'),
  livemode: livemode(),
  locale: nullable(text()),
  managed_payments: alwaysNull(),
  metadata: metadata(),
  mode: oneOfValues(['payment', 'subscription', 'setup']),
  origin_context: alwaysNull(),
  payment_intent: nullableExpandable('The payment intent of a payment-mode session, once the customer submitted a card.', 'payment_intent'),
  payment_link: alwaysNull('Oncepay has no Payment Links.'),
  payment_method_collection: nullable(constant('always')),
  payment_method_configuration_details: alwaysNull(),
  payment_method_options: { type: 'object', description: 'Always empty: the page takes cards with their defaults.' },
  payment_method_types: { type: 'array', items: constant('card') },
  payment_status: oneOfValues(['paid', 'unpaid', 'no_payment_required']),
  permissions: alwaysNull(),
  recovered_from: alwaysNull(),
  saved_payment_method_options: nullable(shape({
    allow_redisplay_filters: { type: 'array', items: constant('always') }, payment_method_remove: alwaysNull(), payment_method_save: alwaysNull(),
  })),
  setup_intent: nullableExpandable('The setup intent of a setup-mode session (made with the session).', 'setup_intent'),
  shipping_address_collection: notOffered('Shipping'),
  shipping_cost: alwaysNull(),
  shipping_options: emptyArray('Shipping options'),
  status: oneOfValues(['open', 'complete', 'expired']),
  submit_type: nullable(oneOfValues(['auto', 'book', 'donate', 'pay', 'subscribe'])),
  subscription: nullableExpandable('The subscription of a subscription-mode session, once the customer submitted a card.', 'subscription'),
  success_url: nullable(text()),
  total_details: nullable(shape({ amount_discount: int(undefined, 0), amount_shipping: int(undefined, 0), amount_tax: int(undefined, 0) })),
  ui_mode: constant('hosted_page'),
  url: nullable(text('The hosted page (an unguessable URL on ONCEPAY_PUBLIC_URL) while the session is open; null once complete or expired.')),
  wallet_options: alwaysNull(),
}, { optional: ['line_items'], title: 'Checkout Session' });

export const CHECKOUT_SCHEMAS: Record<(typeof CHECKOUT_SCHEMA_NAMES)[number], JsonSchema> = { 'checkout.session': session, item };
