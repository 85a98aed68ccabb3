/**
 * JSON Schemas (2020-12, the dialect of OpenAPI 3.1) of every object the API renders: the one
 * part of the OpenAPI document written by hand. They are precise on purpose: every field the
 * code always renders is `required`, fields that may be null say so, statuses are enums, and
 * fixed shapes refuse extra fields. The end-to-end tests validate every response they see
 * against them (test/helpers/conformance.ts), so a drift between the code that renders an
 * object and its description here fails a test.
 *
 * Rendering code described here: src/payments/payment_objects.ts (and payment_intents.ts, refunds.ts,
 * customers.ts, balance.ts, src/api/expansion.ts), src/events/ (event_objects.ts, endpoints.ts, outbox.ts,
 * dispatcher.ts), src/processor/test_acquirer.ts, src/logs/request_log.ts,
 * src/idempotency/inspect.ts, src/errors.ts and src/http/ (errors, operations endpoints).
 */
import { ENDPOINT_EVENT_TYPES, EVENT_TYPES } from '../../events/types.ts';
import { PAYMENT_INTENT_STATUSES } from '../../payments/state.ts';

import {
  type JsonSchema, ref, shape, nullable, id, text, int, bool, oneOfValues, constant, alwaysNull, timestamp, currencyCode, metadata,
  livemode, objectName, expandable, nullableExpandable, listOf, cardErrorFields, threeDSecureNextAction,
} from './blocks.ts';

import { ORDER_SCHEMAS } from './orders.ts';
import { CATALOG_SCHEMAS } from './catalog.ts';
import { BILLING_SCHEMAS } from './billing.ts';
import { TAX_ID_SCHEMAS } from './tax_ids.ts';
import { RESET_SCHEMAS } from './reset.ts';
import { LEGACY_SCHEMAS } from './legacy.ts';
import { SETUP_INTENT_SCHEMAS } from './setup_intents.ts';
import { CHECKOUT_SCHEMAS } from './checkout.ts';
import { PORTAL_SCHEMAS } from './portal.ts';
import { type SchemaName } from './schema_names.ts';

export type { JsonSchema };
export { ref, listOf };
export { SCHEMA_NAMES, isSchemaName, schemaName, type SchemaName } from './schema_names.ts';


// ---- payments ---------------------------------------------------------------------------------

const str = (): JsonSchema => nullable(text());
const address = shape({ city: str(), country: str(), line1: str(), line2: str(), postal_code: str(), state: str() }, { title: 'Address' });
const shippingSchema = shape({
  address: ref('address'), carrier: str(), name: text(), phone: str(), tracking_number: str(),
}, { title: 'Shipping', optional: ['carrier', 'phone', 'tracking_number'] });
const billingDetails = shape({ address: nullable(ref('address')), email: str(), name: str(), phone: str(), tax_id: str() });
/** An includable list (customer `subscriptions`, charge `refunds`): present only when expanded. */
const includedList = (item: JsonSchema) => listOf(item, 'Present only with expand[].');
const alwaysNullExpandable = (description = 'Not supported by Oncepay: always null (expanding it answers null).') => alwaysNull(description);

const customer = shape({
  id: id('cus'),
  object: objectName('customer'),
  address: nullable(ref('address')),
  balance: int('The customer\'s balance in its currency\'s smallest unit (positive: owed; negative: credit), as set.'),
  business_name: text(),
  cash_balance: alwaysNullExpandable(),
  created: timestamp(),
  currency: nullable(currencyCode()),
  customer_account: alwaysNull(),
  default_source: nullableExpandable('The customer\'s default card source (card_...): its first, or as set.', 'card'),
  delinquent: bool(),
  description: nullable(text()),
  discount: alwaysNullExpandable(),
  email: nullable(text()),
  individual_name: text(),
  invoice_prefix: { type: 'string', pattern: '^[A-Z0-9]+$' },
  invoice_settings: shape({
    custom_fields: nullable({ type: 'array', items: shape({ name: text(), value: text() }) }),
    default_payment_method: nullableExpandable('The customer\'s default payment method.', 'payment_method'),
    footer: nullable(text()),
    rendering_options: nullable(shape({ amount_tax_display: nullable(text()), template: nullable(text()) })),
  }),
  livemode: livemode(),
  metadata: metadata(),
  name: nullable(text()),
  next_invoice_sequence: int(undefined, 1),
  phone: nullable(text()),
  preferred_locales: { type: 'array', items: { type: 'string' } },
  shipping: nullable(ref('shipping')),
  sources: includedList(ref('card')),
  subscriptions: includedList(ref('subscription')),
  tax_exempt: oneOfValues(['none', 'exempt', 'reverse']),
  tax_ids: includedList(ref('tax_id')),
  test_clock: nullableExpandable('The test clock this customer was created on (set at creation only).', 'test_helpers.test_clock', 'deleted_test_clock'),
}, { title: 'Customer', optional: ['business_name', 'individual_name', 'cash_balance', 'discount', 'sources', 'subscriptions', 'tax_ids'] });

const deletedCustomer = shape({
  id: id('cus'),
  object: objectName('customer'),
  deleted: constant(true),
}, { title: 'Deleted customer', description: 'What a deleted customer renders as (on DELETE, and on retrieval afterwards).' });

const check = () => nullable(oneOfValues(['pass', 'fail', 'unavailable', 'unchecked']));
const checks = () => shape({ address_line1_check: check(), address_postal_code_check: check(), cvc_check: check() });
const cardCommon = {
  brand: text('Card brand: visa, mastercard, amex...'),
  checks: checks(),
  country: { type: 'string', pattern: '^[A-Z]{2}$' },
  exp_month: { type: 'integer', minimum: 1, maximum: 12 },
  exp_year: int(),
  fingerprint: text(),
  funding: oneOfValues(['credit', 'debit', 'prepaid']),
  last4: { type: 'string', pattern: '^[0-9]{4}$' },
};

const paymentMethod = shape({
  id: text('The payment method id: a saved one (pm_...), a card source (card_...) or a test id such as pm_card_visa.'),
  object: objectName('payment_method'),
  allow_redisplay: oneOfValues(['always', 'limited', 'unspecified']),
  billing_details: billingDetails,
  card: shape({
    ...cardCommon,
    display_brand: text(),
    generated_from: alwaysNull(),
    networks: shape({ available: { type: 'array', items: text() }, preferred: nullable(text()) }),
    regulated_status: oneOfValues(['regulated', 'unregulated']),
    three_d_secure_usage: shape({ supported: bool() }),
    wallet: alwaysNull(),
  }),
  created: timestamp(),
  customer: nullableExpandable('The customer it belongs to.', 'customer', 'deleted_customer'),
  customer_account: alwaysNull(),
  livemode: livemode(),
  metadata: metadata(),
  type: constant('card'),
}, { title: 'PaymentMethod', description: 'A card payment method: saved (made from a card number, a token or a test id) or a test id (pm_card_visa...).' });

const lastPaymentError = shape({
  ...cardErrorFields(),
  charge: id('ch', 'The failed charge (none when 3-D Secure authentication failed before any charge).'),
  doc_url: text(),
  payment_method: ref('payment_method'),
  payment_method_type: constant('card'),
}, { optional: ['decline_code', 'advice_code', 'param', 'charge', 'doc_url', 'payment_method_type'], title: 'Payment error', description: 'The error of the last payment attempt (a decline).' });

const anyHash = (description: string): JsonSchema => ({ type: 'object', description });

const paymentIntent = shape({
  id: id('pi'),
  object: objectName('payment_intent'),
  allowed_payment_method_types: alwaysNull(),
  amount: int('Amount intended to be collected, in the currency\'s smallest unit.', 1),
  amount_capturable: int('Amount that can be captured (manual capture).', 0),
  amount_details: shape({ line_items: includedList({ type: 'object' }) }, { optional: ['line_items'] }),
  amount_received: int('Amount that was collected.', 0),
  application: alwaysNullExpandable(),
  application_fee_amount: alwaysNull(),
  automatic_payment_methods: nullable(shape({ allow_redirects: oneOfValues(['always', 'never']), enabled: bool() }, { optional: ['allow_redirects'] })),
  canceled_at: nullable(timestamp()),
  cancellation_reason: nullable(oneOfValues(['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'])),
  capture_method: oneOfValues(['automatic', 'automatic_async', 'manual']),
  client_secret: { type: 'string', pattern: '^pi_[A-Za-z0-9]+_secret_[A-Za-z0-9]+$' },
  confirmation_method: oneOfValues(['automatic', 'manual']),
  created: timestamp(),
  currency: currencyCode(),
  customer: nullableExpandable('The customer this payment belongs to.', 'customer', 'deleted_customer'),
  customer_account: alwaysNull(),
  description: nullable(text()),
  excluded_payment_method_types: nullable({ type: 'array', items: text() }),
  external_id: nullable(text('Oncepay extension: the caller\'s permanent business key for this payment (creating it twice returns the first).')),
  invoice: nullable(id('in', 'The invoice this payment pays: confirming it settles the invoice.')),
  last_payment_error: nullable(ref('payment_intent_last_payment_error')),
  latest_charge: nullableExpandable('The latest charge created by this intent.', 'charge'),
  livemode: livemode(),
  managed_payments: alwaysNull(),
  metadata: metadata(),
  next_action: threeDSecureNextAction(),
  on_behalf_of: alwaysNullExpandable(),
  order: nullable(id('order', 'Oncepay extension: the order this payment pays.')),
  payment_method: nullableExpandable('The payment method, such as pm_card_visa.', 'payment_method'),
  payment_method_configuration_details: alwaysNull(),
  payment_method_options: nullable(anyHash('As given: stored and echoed.')),
  payment_method_types: { type: 'array', items: oneOfValues(['card']) },
  payment_record: alwaysNullExpandable(),
  processing: alwaysNull(),
  receipt_email: nullable(text()),
  review: alwaysNullExpandable(),
  setup_future_usage: nullable(oneOfValues(['off_session', 'on_session'])),
  shipping: nullable(ref('shipping')),
  source: alwaysNullExpandable(),
  statement_descriptor: nullable(text()),
  statement_descriptor_suffix: nullable(text()),
  status: oneOfValues(PAYMENT_INTENT_STATUSES),
  transfer_data: alwaysNull(),
  transfer_group: nullable(text()),
}, { title: 'PaymentIntent', optional: ['amount_details', 'transfer_data'] });

const charge = shape({
  id: id('ch'),
  object: objectName('charge'),
  amount: int(undefined, 1),
  amount_captured: int(undefined, 0),
  amount_refunded: int(undefined, 0),
  application: alwaysNullExpandable(),
  application_fee: alwaysNullExpandable(),
  application_fee_amount: alwaysNull(),
  balance_transaction: nullableExpandable('The balance transaction of the capture.', 'balance_transaction'),
  billing_details: billingDetails,
  calculated_statement_descriptor: text(),
  captured: bool(),
  created: timestamp(),
  currency: currencyCode(),
  customer: nullableExpandable('The customer of the payment.', 'customer', 'deleted_customer'),
  description: nullable(text()),
  disputed: bool(),
  failure_balance_transaction: alwaysNullExpandable(),
  failure_code: nullable(text()),
  failure_message: nullable(text()),
  fraud_details: shape({ user_report: oneOfValues(['fraudulent', 'safe']) }, { optional: ['user_report'] }),
  livemode: livemode(),
  metadata: metadata(),
  on_behalf_of: alwaysNullExpandable(),
  outcome: shape({
    advice_code: nullable(oneOfValues(['confirm_card_data', 'do_not_try_again', 'try_again_later'])),
    network_advice_code: alwaysNull(),
    network_decline_code: alwaysNull(),
    network_status: oneOfValues(['approved_by_network', 'declined_by_network', 'not_sent_to_network']),
    reason: nullable(text()),
    risk_level: oneOfValues(['normal', 'elevated', 'highest']),
    risk_score: int(undefined, 0),
    seller_message: text(),
    type: oneOfValues(['authorized', 'issuer_declined', 'blocked']),
  }),
  paid: bool(),
  payment_intent: nullableExpandable('The PaymentIntent that created this charge.', 'payment_intent'),
  payment_method: text(),
  payment_method_details: shape({
    card: shape({
      ...cardCommon,
      amount_authorized: nullable(int()),
      authorization_code: nullable(text()),
      electronic_commerce_indicator: alwaysNull(),
      extended_authorization: shape({ status: constant('disabled') }),
      incremental_authorization: shape({ status: constant('unavailable') }),
      installments: alwaysNull(),
      mandate: alwaysNullExpandable(),
      multicapture: shape({ status: constant('unavailable') }),
      network: text(),
      network_token: shape({ used: constant(false) }),
      network_transaction_id: nullable(text()),
      overcapture: shape({ maximum_amount_capturable: int(), status: constant('unavailable') }),
      regulated_status: oneOfValues(['regulated', 'unregulated']),
      three_d_secure: nullable(shape({
        authentication_flow: constant('challenge'), electronic_commerce_indicator: constant('05'), exemption_indicator: alwaysNull(),
        result: constant('authenticated'), result_reason: alwaysNull(), transaction_id: text(), version: text(),
      })),
      transaction_link_id: alwaysNull(),
      wallet: alwaysNull(),
    }),
    type: constant('card'),
  }),
  receipt_email: nullable(text()),
  receipt_number: alwaysNull(),
  receipt_url: alwaysNull(),
  refunded: bool(),
  refunds: includedList(ref('refund')),
  review: alwaysNullExpandable(),
  shipping: nullable(ref('shipping')),
  source: nullable(ref('card')),
  source_transfer: alwaysNullExpandable(),
  statement_descriptor: nullable(text()),
  statement_descriptor_suffix: nullable(text()),
  status: oneOfValues(['succeeded', 'pending', 'failed']),
  transfer: alwaysNullExpandable(),
  transfer_data: alwaysNull(),
  transfer_group: nullable(text()),
}, { title: 'Charge', optional: ['refunds', 'transfer'] });

const refund = shape({
  id: id('re'),
  object: objectName('refund'),
  amount: int(undefined, 1),
  balance_transaction: nullableExpandable('Set once the refund succeeded.', 'balance_transaction'),
  charge: expandable('The refunded charge.', 'charge'),
  created: timestamp(),
  currency: currencyCode(),
  customer: nullableExpandable('The customer of the refunded charge.', 'customer', 'deleted_customer'),
  customer_account: alwaysNull(),
  destination_details: shape({
    card: shape({
      reference: text('The acquirer reference number, once the refund succeeded.'), reference_status: oneOfValues(['pending', 'available']),
      reference_type: constant('acquirer_reference_number'), type: constant('refund'),
    }, { optional: ['reference'] }),
    type: constant('card'),
  }),
  external_id: nullable(text('Oncepay extension: the caller\'s permanent business key for this refund.')),
  failure_balance_transaction: alwaysNullExpandable(),
  instructions_email: text(),
  metadata: metadata(),
  payment_intent: nullableExpandable('The PaymentIntent of the refunded charge.', 'payment_intent'),
  payment_method: nullableExpandable('The payment method of the refunded charge.', 'payment_method'),
  reason: nullable(oneOfValues(['duplicate', 'fraudulent', 'requested_by_customer'])),
  receipt_number: alwaysNull(),
  source_transfer_reversal: alwaysNullExpandable(),
  status: oneOfValues(['pending', 'succeeded', 'failed', 'canceled']),
  transfer_reversal: alwaysNullExpandable(),
}, { title: 'Refund', optional: ['instructions_email', 'failure_balance_transaction'] });

const fundsEntry = shape({
  amount: int(),
  currency: currencyCode(),
  source_types: shape({ card: int() }),
});
const balance = shape({
  object: objectName('balance'),
  available: { type: 'array', items: fundsEntry, minItems: 1 },
  pending: { type: 'array', items: fundsEntry, minItems: 1 },
  livemode: livemode(),
}, { title: 'Balance' });

const balanceTransaction = shape({
  id: id('txn'),
  object: objectName('balance_transaction'),
  amount: int('Positive for charges, negative for refunds.'),
  available_on: timestamp(),
  balance_type: constant('payments'),
  created: timestamp(),
  currency: currencyCode(),
  description: nullable(text()),
  exchange_rate: alwaysNull(),
  fee: int(undefined, 0),
  fee_details: { type: 'array', maxItems: 0 },
  net: int(),
  reporting_category: oneOfValues(['charge', 'refund']),
  source: expandable('The charge or refund.', 'charge', 'refund'),
  status: oneOfValues(['available']),
  type: oneOfValues(['charge', 'refund']),
}, { title: 'Balance transaction' });

// ---- events and webhooks ----------------------------------------------------------------------

/** Which object an event carries, by the pattern of its type (`customer.subscription.*` is not a customer's). */
const EVENT_OBJECTS: [pattern: string, schema: SchemaName][] = [
  ['^customer\\.(created|updated|deleted)$', 'customer'], ['^customer\\.subscription\\.', 'subscription'],
  ['^customer\\.tax_id\\.', 'tax_id'], ['^customer\\.source\\.', 'card'],
  ['^payment_intent\\.', 'payment_intent'], ['^payment_method\\.', 'payment_method'], ['^setup_intent\\.', 'setup_intent'], ['^charge\\.(?!refund\\.)', 'charge'], ['^(charge\\.)?refund\\.', 'refund'],
  ['^webhook_endpoint\\.', 'webhook_endpoint'], ['^order\\.', 'order'], ['^product\\.', 'product'], ['^price\\.', 'price'], ['^plan\\.', 'plan'],
  ['^billing_portal\\.configuration\\.', 'billing_portal.configuration'], ['^billing_portal\\.session\\.', 'billing_portal.session'],
  ['^checkout\\.session\\.', 'checkout.session'], ['^invoice\\.', 'invoice'], ['^invoiceitem\\.', 'invoiceitem'], ['^invoice_payment\\.', 'invoice_payment'], ['^test_helpers\\.test_clock\\.', 'test_helpers.test_clock'],
];
for (const t of EVENT_TYPES) {
  const matches = EVENT_OBJECTS.filter(([p]) => new RegExp(p).test(t)).length;
  if (matches !== 1) throw new Error(`event type ${t} matches ${matches} described objects instead of one`);
}

const event: JsonSchema = {
  ...shape({
    id: id('evt'),
    object: objectName('event'),
    api_version: text(),
    created: timestamp(),
    data: shape({
      object: { type: 'object', description: 'The object as it was after the change (see allOf: by the event type).' },
      previous_attributes: { type: 'object', description: 'For *.updated-like events: the changed fields\' previous values.' },
    }, { optional: ['previous_attributes'] }),
    livemode: livemode(),
    pending_webhooks: int('Deliveries of this event still pending.', 0),
    request: shape({
      id: nullable(id('req', 'The request that caused the event; null for the system (e.g. an endpoint disabled after failing).')),
      idempotency_key: nullable(text('The Idempotency-Key of that request, when the client sent one.')),
    }),
    type: oneOfValues(EVENT_TYPES),
  }, { title: 'Event' }),
  allOf: EVENT_OBJECTS.map(([pattern, schema]) => ({
    if: { properties: { type: { type: 'string', pattern } } },
    then: { properties: { data: { properties: { object: ref(schema) } } } },
  })),
};

const endpointFields = {
  id: id('we'),
  object: objectName('webhook_endpoint'),
  api_version: nullable(text()),
  application: alwaysNull(),
  created: timestamp(),
  description: nullable(text()),
  enabled_events: { type: 'array', items: oneOfValues(['*', ...ENDPOINT_EVENT_TYPES]), minItems: 1 },
  livemode: livemode(),
  metadata: metadata(),
  status: oneOfValues(['enabled', 'disabled']),
  url: text(),
};
const secret = (): JsonSchema => ({ type: 'string', pattern: '^whsec_', description: 'The signing secret: shown only here.' });
const webhookEndpoint = shape(endpointFields, { title: 'Webhook endpoint' });
const webhookEndpointWithSecret = shape({ ...endpointFields, secret: secret() }, {
  title: 'Webhook endpoint (created)', description: 'A webhook endpoint as its creation returns it: with its signing secret.',
});
const webhookEndpointRotated = shape({
  ...endpointFields,
  secret: secret(),
  previous_secret_expires_at: nullable(timestamp('Until when the previous secret keeps signing too; null when it stopped at once.')),
}, { title: 'Webhook endpoint (secret rotated)', description: 'Oncepay extension: the endpoint with its new signing secret.' });
const deletedWebhookEndpoint = shape({
  id: id('we'),
  object: objectName('webhook_endpoint'),
  deleted: constant(true),
}, { title: 'Deleted webhook endpoint' });

const deliveryAttempt = shape({
  id: id('wha'),
  object: objectName('webhook_delivery_attempt'),
  created: timestamp(),
  event: id('evt'),
  event_type: oneOfValues(EVENT_TYPES),
  webhook_endpoint: id('we'),
  url: text(),
  attempt: int('1 for the first attempt.', 1),
  outcome: oneOfValues(['pending', 'delivered', 'failed', 'refused', 'unknown'],
    'delivered (2xx), failed (another status, a timeout or a connection error), refused (unsafe URL); pending while it is being sent; unknown when the process sending it stopped before its answer was recorded (retried, not counted against the schedule).'),
  status_code: nullable({ type: 'integer', minimum: 100, maximum: 599 }),
  latency_ms: int(undefined, 0),
  response_body_excerpt: nullable(text()),
  error: nullable(text()),
  next_retry_at: nullable(timestamp('When the next attempt is due; null once delivered or given up.')),
}, { title: 'Webhook delivery attempt', description: 'Oncepay extension: one attempt to deliver an event to an endpoint.' });

// ---- test helpers, logs, idempotency keys --------------------------------------------------------

const acquirerOperation = shape({
  object: objectName('acquirer_operation'),
  downstream_key: text('The idempotency key Oncepay sent the acquirer (a charge id, ch_...:capture, a refund id).'),
  kind: oneOfValues(['sale', 'authorization', 'capture', 'void', 'refund', 'verification']),
  reference: text('The Oncepay object the money belongs to (a PaymentIntent id).'),
  payment_method: text('The payment method (empty for follow-ups such as captures).'),
  amount: int(undefined, 0),
  currency: currencyCode(),
  outcome: oneOfValues(['approved', 'declined', 'requires_action', 'captured', 'voided', 'refunded']),
  attempts: int('How many times this downstream key was sent (the first answer is returned each time).', 1),
  created_at: { type: 'string', format: 'date-time' },
}, { title: 'Acquirer operation', description: 'Oncepay extension: one entry of the test acquirer\'s ledger.' });

const REQUEST_OUTCOMES = ['executed', 'replayed', 'conflict', 'mismatch', 'rejected'] as const;

const requestLog = shape({
  id: id('req'),
  object: objectName('request_log'),
  created: timestamp(),
  livemode: livemode(),
  method: text(),
  path: text(),
  query: nullable({ type: 'object' }),
  status: nullable({ type: 'integer', minimum: 100, maximum: 599, description: 'null: the process stopped before answering.' }),
  outcome: oneOfValues(REQUEST_OUTCOMES),
  idempotency_key: nullable(text()),
  original_request: nullable(id('req', 'For a replay: the request that first ran the key.')),
  duration_ms: nullable({ type: 'number', minimum: 0 }),
  ip_address: nullable(text()),
  user_agent: nullable(text()),
  stripe_version: nullable(text()),
  request_body: nullable({ type: 'object' }),
  response_body: nullable({ type: 'object' }),
}, { title: 'Request log', description: 'Oncepay extension: one API request, secrets masked.' });

const idempotencyKey = shape({
  id: text('The key itself.'),
  object: objectName('idempotency_key'),
  created: timestamp(),
  livemode: livemode(),
  client_supplied: bool('false for the internal key of a POST sent without Idempotency-Key.'),
  method: text(),
  path: text(),
  request_fingerprint: text(),
  state: oneOfValues(['in_progress', 'abandoned', 'finished'], 'in_progress: a live request holds it; abandoned: unfinished and unheld, the completer will finish it.'),
  locked: bool(),
  locked_at: nullable(timestamp()),
  recovery_point: text('The last step that committed.'),
  attempts: int(undefined, 0),
  replay_count: int(undefined, 0),
  original_request: id('req'),
  finished_at: nullable(timestamp()),
  expires_at: nullable(timestamp()),
  response: nullable(shape({ status: { type: 'integer', minimum: 100, maximum: 599 }, body: { type: 'object' } })),
  objects: {
    type: 'array',
    items: shape({ object: text(), id: text(), created: bool('Whether this request created it.') }),
  },
  request_logs: listOf(ref('request_log'), 'The requests that carried the key.'),
}, { title: 'Idempotency key', description: 'Oncepay extension: everything known about one idempotency key.' });

// ---- errors and operations ------------------------------------------------------------------

const error = shape({
  error: shape({
    type: oneOfValues(['api_error', 'card_error', 'idempotency_error', 'invalid_request_error', 'authentication_error', 'rate_limit_error']),
    code: text('A short string: parameter_missing, resource_missing, card_declined, idempotency_key_in_use...'),
    decline_code: text('For card errors: the issuer\'s reason.'),
    message: text('A human-readable message.'),
    param: text('The parameter the error relates to, in bracket notation (metadata[order_id]).'),
    doc_url: text(),
    charge: id('ch', 'For card errors: the failed charge.'),
    payment_intent: ref('payment_intent'),
    payment_method: ref('payment_method'),
    advice_code: text(),
    payment_method_type: constant('card'),
    setup_intent: ref('setup_intent'),
    existing_id: text('Oncepay extension, with code already_exists: the object created earlier under this external_id.'),
  }, { optional: ['code', 'decline_code', 'param', 'doc_url', 'charge', 'payment_intent', 'payment_method', 'advice_code', 'payment_method_type', 'setup_intent', 'existing_id'] }),
}, { title: 'Error', description: 'Every error, in Stripe\'s shape.' });

const health = shape({ status: constant('ok') }, { title: 'Liveness' });
const readiness = shape({
  status: oneOfValues(['ready', 'unavailable']),
  checks: {
    type: 'object',
    additionalProperties: shape({ ok: bool(), detail: text() }, { optional: ['detail'] }),
  },
}, { title: 'Readiness' });

export const COMPONENT_SCHEMAS: Record<SchemaName, JsonSchema> = {
  customer,
  deleted_customer: deletedCustomer,
  payment_intent: paymentIntent,
  payment_intent_last_payment_error: lastPaymentError,
  payment_method: paymentMethod,
  address,
  shipping: shippingSchema,
  charge,
  refund,
  balance,
  balance_transaction: balanceTransaction,
  event,
  webhook_endpoint: webhookEndpoint,
  webhook_endpoint_with_secret: webhookEndpointWithSecret,
  webhook_endpoint_rotated: webhookEndpointRotated,
  deleted_webhook_endpoint: deletedWebhookEndpoint,
  webhook_delivery_attempt: deliveryAttempt,
  acquirer_operation: acquirerOperation,
  request_log: requestLog,
  idempotency_key: idempotencyKey,
  error,
  health,
  readiness,
  ...ORDER_SCHEMAS,
  ...CATALOG_SCHEMAS,
  ...BILLING_SCHEMAS,
  ...TAX_ID_SCHEMAS,
  ...SETUP_INTENT_SCHEMAS,
  ...CHECKOUT_SCHEMAS,
  ...PORTAL_SCHEMAS,
  ...RESET_SCHEMAS,
  ...LEGACY_SCHEMAS,
};
