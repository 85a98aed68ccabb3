/**
 * The parameters of Checkout Sessions' endpoints, and the checks between them that need no
 * database. What Oncepay's hosted page cannot do (addresses, shipping, tax, discounts, custom
 * fields, other UI modes) is refused by name with the reason, never ignored.
 */
import { invalidRequest } from '../errors.ts';
import {
  array, enumOf, expandParam, integer, metadata, nonEmptyString, object, optional, string, unsupported, type ParsedObject,
} from '../schema/params.ts';
import { inlineProduct, priceData } from '../billing/catalog.ts';
import { MAX_TRIAL_DAYS } from '../billing/subscription_params.ts';
import { REFUSED, paymentMethodTypes, setupFutureUsage } from '../payments/payment_params.ts';

const NO_ADDRESS = 'Oncepay\'s hosted page collects an email, a card and the cardholder\'s name: no address, phone number or tax id.';
const NO_SHIPPING = 'Oncepay\'s hosted page sells without shipping: no shipping address or rates.';
const NO_DISCOUNTS = 'Oncepay has no coupons or promotion codes.';
const NO_CUSTOM_PAGE = 'Oncepay\'s hosted page is not customizable (custom fields and texts, branding, consent collection).';
const ONLY_HOSTED = 'Oncepay serves the hosted page only (ui_mode=hosted_page): embedded and Elements checkouts need Stripe.js.';
const NO_ADAPTIVE = 'Oncepay charges in the prices\' own currency: no adaptive pricing or currency conversion.';
const NO_INVOICE = 'Oncepay does not create an invoice for a one-time Checkout payment.';
const disabled = (v: unknown) => typeof v === 'object' && v !== null && String((v as { enabled?: unknown }).enabled).toLowerCase() === 'false';

/** A URL the page redirects to: http(s) only. */
const redirectUrl = () => string({
  max: 5000, pattern: /^https?:\/\/[^\s]+$/i,
  patternMessage: 'Not a valid URL: use an absolute http:// or https:// URL.',
});

const lineItem = object({
  price: optional(nonEmptyString(255)),
  price_data: optional(object({
    ...priceData,
    product: optional(nonEmptyString(255)),
    product_data: optional(object({
      ...inlineProduct().shape,
      description: optional(string({ max: 40000 })),
      images: optional(array(string({ max: 2048 }), { max: 8 })),
    })),
  })),
  quantity: optional(integer({ min: 1, max: 999_999 })),
  metadata: optional(metadata()),
  adjustable_quantity: unsupported('the customer cannot change quantities on Oncepay\'s hosted page.', { noop: disabled }),
  dynamic_tax_rates: REFUSED.tax(),
  tax_rates: REFUSED.tax(),
});

export const createSessionParams = object({
  mode: optional(enumOf(['payment', 'subscription', 'setup'] as const)),
  line_items: optional(array(lineItem, { max: 100 })),
  customer: optional(nonEmptyString(255)),
  customer_email: optional(string({ max: 800 })),
  customer_creation: optional(enumOf(['always', 'if_required'] as const)),
  client_reference_id: optional(string({ max: 200 })),
  metadata: optional(metadata()),
  success_url: optional(redirectUrl()),
  cancel_url: optional(redirectUrl()),
  expires_at: optional(integer({ min: 0 })),
  currency: optional(string({ max: 3 })),
  locale: optional(string({ max: 10 })),
  submit_type: optional(enumOf(['auto', 'book', 'donate', 'pay', 'subscribe'] as const)),
  integration_identifier: optional(string({ max: 200 })),
  payment_method_types: paymentMethodTypes(),
  excluded_payment_method_types: optional(array(string({ max: 50 }), { max: 60 })),
  payment_method_collection: optional(enumOf(['always'] as const)),
  ui_mode: optional(enumOf(['hosted_page'] as const)),
  payment_intent_data: optional(object({
    capture_method: optional(enumOf(['automatic', 'automatic_async', 'manual'] as const)),
    metadata: optional(metadata()),
    setup_future_usage: setupFutureUsage(),
    description: optional(string({ max: 1000 })),
    receipt_email: optional(string({ max: 800 })),
    statement_descriptor: optional(string({ max: 22 })),
    statement_descriptor_suffix: optional(string({ max: 22 })),
    application_fee_amount: REFUSED.connect(),
    on_behalf_of: REFUSED.connect(),
    transfer_data: REFUSED.connect(),
    transfer_group: REFUSED.connect(),
    shipping: unsupported(NO_SHIPPING),
  })),
  subscription_data: optional(object({
    trial_period_days: optional(integer({ min: 1, max: MAX_TRIAL_DAYS })),
    metadata: optional(metadata()),
    description: optional(string({ max: 500 })),
    application_fee_percent: REFUSED.connect(),
    on_behalf_of: REFUSED.connect(),
    transfer_data: REFUSED.connect(),
    default_tax_rates: REFUSED.tax(),
    billing_cycle_anchor: unsupported('Oncepay starts a Checkout subscription\'s cycle when it is paid: no billing cycle anchor.'),
    billing_mode: unsupported('a Checkout subscription uses Oncepay\'s default billing mode (flexible).'),
    invoice_settings: unsupported('Oncepay takes no invoice settings through Checkout: set them on the subscription afterwards.'),
    pending_invoice_item_interval: unsupported('Oncepay has no pending invoice item intervals.'),
    proration_behavior: unsupported('Oncepay does not prorate.', { noop: (v) => v === 'none' }),
    trial_end: unsupported('pass subscription_data[trial_period_days]: a Checkout trial starts when the session completes.'),
    billing_cycle_anchor_config: unsupported('a Checkout subscription\'s billing cycle starts when the session completes.'),
    trial_settings: unsupported('a Checkout subscription always has its card: no trial end behavior is needed.'),
  })),
  setup_intent_data: optional(object({
    description: optional(string({ max: 1000 })),
    metadata: optional(metadata()),
    on_behalf_of: REFUSED.connect(),
  })),
  adaptive_pricing: unsupported(NO_ADAPTIVE, { noop: disabled }),
  after_expiration: unsupported('Oncepay does not recover expired Checkout Sessions.'),
  allow_promotion_codes: unsupported(NO_DISCOUNTS, { noop: (v) => String(v) === 'false' }),
  allowed_payment_method_types: REFUSED.paymentMethodConfiguration(),
  automatic_tax: REFUSED.taxUnlessDisabled(),
  billing_address_collection: unsupported(NO_ADDRESS, { noop: (v) => v === 'auto' }),
  branding_settings: unsupported(NO_CUSTOM_PAGE),
  consent_collection: unsupported(NO_CUSTOM_PAGE),
  custom_fields: unsupported(NO_CUSTOM_PAGE, { noop: (v) => Array.isArray(v) && v.length === 0 }),
  custom_text: unsupported(NO_CUSTOM_PAGE),
  customer_account: REFUSED.customerAccount(),
  customer_update: unsupported('Oncepay does not update an existing customer from the page: its name and address stay as they are.'),
  discounts: unsupported(NO_DISCOUNTS, { noop: (v) => Array.isArray(v) && v.length === 0 }),
  invoice_creation: unsupported(NO_INVOICE, { noop: disabled }),
  managed_payments: unsupported('managed payments (Stripe as merchant of record) are not part of Oncepay.', { noop: disabled }),
  name_collection: unsupported('the page always asks for the cardholder\'s name and nothing else: no business or individual name collection.'),
  optional_items: unsupported('Oncepay\'s hosted page shows no optional items.'),
  origin_context: unsupported('Oncepay serves no mobile or web app origin contexts.'),
  payment_method_configuration: REFUSED.paymentMethodConfiguration(),
  payment_method_data: unsupported('Oncepay saves no payment method display preference (allow_redisplay) from Checkout.'),
  payment_method_options: unsupported('Oncepay\'s hosted page takes cards with their defaults: no payment method options.'),
  permissions: unsupported('Oncepay has no client-side updates of a Checkout Session.'),
  phone_number_collection: unsupported(NO_ADDRESS, { noop: disabled }),
  redirect_on_completion: unsupported(ONLY_HOSTED, { noop: (v) => v === 'always' }),
  return_url: unsupported(ONLY_HOSTED),
  saved_payment_method_options: unsupported('Oncepay\'s hosted page does not show the customer\'s saved cards.'),
  shipping_address_collection: unsupported(NO_SHIPPING),
  shipping_options: unsupported(NO_SHIPPING, { noop: (v) => Array.isArray(v) && v.length === 0 }),
  tax_id_collection: unsupported(NO_ADDRESS, { noop: disabled }),
  wallet_options: unsupported('Oncepay\'s hosted page takes cards: no wallets.'),
  expand: expandParam(),
});

export const updateSessionParams = object({
  session: nonEmptyString(255),
  metadata: optional(metadata()),
  payment_intent_data: unsupported('the payment intent\'s settings are fixed when the session is created.'),
  collected_information: unsupported(NO_SHIPPING),
  line_items: unsupported('the line items of a Checkout Session are set when it is created.'),
  shipping_options: unsupported(NO_SHIPPING),
  expand: expandParam(),
});

export const expireSessionParams = object({ session: nonEmptyString(255), expand: expandParam() });

/**
 * Completing a session without the page (a headless test suite): with a payment method, the card a
 * customer would type. The page runs the same command with the card it vaulted.
 */
export const completeSessionParams = object({
  session: nonEmptyString(255),
  payment_method: nonEmptyString(255),
  email: optional(string({ max: 800 })),
  name: optional(string({ max: 5000 })),
  /** The attempt the submitting page showed (the page sends it; the test helper may leave it out). */
  attempt: optional(integer({ min: 0 })),
  expand: expandParam(),
});

/** The customer's answer on the 3-D Secure step: Complete or Fail. */
export const authenticateSessionParams = object({
  session: nonEmptyString(255),
  outcome: enumOf(['complete', 'fail'] as const),
  attempt: optional(integer({ min: 0 })),
  expand: expandParam(),
});

export type CreateParams = ParsedObject<typeof createSessionParams.shape>;
export type CompleteParams = ParsedObject<typeof completeSessionParams.shape>;
export type AuthenticateParams = ParsedObject<typeof authenticateSessionParams.shape>;
export type LineItemParams = NonNullable<CreateParams['line_items']>[number];

/** A session lives at least 30 minutes and at most 24 hours (Stripe's bounds on expires_at). */
export const MIN_LIFETIME = 30 * 60;
export const MAX_LIFETIME = 24 * 60 * 60;

const onlyIn = (param: string, mode: string, given: string) =>
  invalidRequest(`You can only pass ${param} in ${mode} mode, not in ${given} mode.`, param);

/** Checks between parameters: what mode allows what, one of price/price_data per item, exclusive customers. */
export function checkCreateSession(p: CreateParams): void {
  const mode = p.mode ?? 'payment';
  if (p.customer !== undefined && p.customer_email !== undefined) {
    throw invalidRequest('You may only specify one of these parameters: customer, customer_email.', 'customer_email');
  }
  if (p.customer_creation !== undefined && mode !== 'payment') throw onlyIn('customer_creation', 'payment', mode);
  if (p.customer_creation !== undefined && p.customer !== undefined) {
    throw invalidRequest('You may only specify one of these parameters: customer, customer_creation.', 'customer_creation');
  }
  if (p.payment_intent_data !== undefined && mode !== 'payment') throw onlyIn('payment_intent_data', 'payment', mode);
  if (p.subscription_data !== undefined && mode !== 'subscription') throw onlyIn('subscription_data', 'subscription', mode);
  if (p.setup_intent_data !== undefined && mode !== 'setup') throw onlyIn('setup_intent_data', 'setup', mode);
  if (p.submit_type !== undefined && mode === 'setup') throw invalidRequest('submit_type can only be used in payment and subscription mode.', 'submit_type');
  const items = p.line_items ?? [];
  if (mode === 'setup') {
    if (items.length > 0) throw invalidRequest('You cannot pass line_items in setup mode: a setup session saves a card and charges nothing.', 'line_items');
    return;
  }
  if (items.length === 0) throw invalidRequest(`Missing required param: line_items (${mode} mode needs at least one).`, 'line_items', 'parameter_missing');
  items.forEach((it, i) => {
    if (it.price !== undefined && it.price_data !== undefined) throw invalidRequest(`You may only specify one of these parameters: line_items[${i}][price], line_items[${i}][price_data].`, `line_items[${i}][price_data]`);
    if (it.price === undefined && it.price_data === undefined) throw invalidRequest(`Missing required param: line_items[${i}][price] (or line_items[${i}][price_data]).`, `line_items[${i}][price]`, 'parameter_missing');
    if (it.quantity === undefined) throw invalidRequest(`Missing required param: line_items[${i}][quantity].`, `line_items[${i}][quantity]`, 'parameter_missing');
    const d = it.price_data;
    if (d) {
      if (d.product !== undefined && d.product_data !== undefined) throw invalidRequest(`You may only specify one of these parameters: line_items[${i}][price_data][product], line_items[${i}][price_data][product_data].`, `line_items[${i}][price_data][product_data]`);
      if (d.product === undefined && d.product_data === undefined) throw invalidRequest(`Missing required param: line_items[${i}][price_data][product_data] (or [product]).`, `line_items[${i}][price_data][product_data]`, 'parameter_missing');
      if (d.unit_amount === undefined && d.unit_amount_decimal === undefined) throw invalidRequest(`Missing required param: line_items[${i}][price_data][unit_amount].`, `line_items[${i}][price_data][unit_amount]`, 'parameter_missing');
      if (d.unit_amount !== undefined && d.unit_amount_decimal !== undefined) throw invalidRequest(`You may only specify one of these parameters: line_items[${i}][price_data][unit_amount], line_items[${i}][price_data][unit_amount_decimal].`, `line_items[${i}][price_data][unit_amount_decimal]`);
    }
  });
}
