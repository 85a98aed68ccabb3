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
  livemode, objectName, expandable, nullableExpandable, listOf,
} from './blocks.ts';

import { ORDER_SCHEMAS } from './orders.ts';
import { CATALOG_SCHEMAS } from './catalog.ts';
import { BILLING_SCHEMAS } from './billing.ts';
import { type SchemaName } from './schema_names.ts';

export type { JsonSchema };
export { ref, listOf };
export { SCHEMA_NAMES, isSchemaName, schemaName, type SchemaName } from './schema_names.ts';


// ---- payments ---------------------------------------------------------------------------------

const customer = shape({
  id: id('cus'),
  object: objectName('customer'),
  address: alwaysNull('Not supported by Oncepay: always null.'),
  balance: int('Always 0 (customer balances are not supported).'),
  created: timestamp(),
  currency: nullable(currencyCode()),
  default_source: alwaysNull(),
  delinquent: bool(),
  description: nullable(text()),
  email: nullable(text()),
  invoice_prefix: { type: 'string', pattern: '^[A-Z0-9]+$' },
  invoice_settings: shape({
    custom_fields: alwaysNull(),
    default_payment_method: nullable(text('The id of the customer\'s default payment method.')),
    footer: alwaysNull(),
    rendering_options: alwaysNull(),
  }),
  livemode: livemode(),
  metadata: metadata(),
  name: nullable(text()),
  phone: nullable(text()),
  preferred_locales: { type: 'array', items: { type: 'string' } },
  shipping: alwaysNull(),
  tax_exempt: oneOfValues(['none']),
  test_clock: nullable(id('clock', 'The test clock this customer was created on (set at creation only).')),
}, { title: 'Customer' });

const deletedCustomer = shape({
  id: id('cus'),
  object: objectName('customer'),
  deleted: constant(true),
}, { title: 'Deleted customer', description: 'What a deleted customer renders as (on DELETE, and on retrieval afterwards).' });

const cardDetails = shape({
  brand: text('Card brand: visa, mastercard, amex...'),
  last4: { type: 'string', pattern: '^[0-9]{4}$' },
  exp_month: { type: 'integer', minimum: 1, maximum: 12 },
  exp_year: int(),
  funding: oneOfValues(['credit', 'debit', 'prepaid']),
  country: { type: 'string', pattern: '^[A-Z]{2}$' },
}, { title: 'Card details' });

const paymentMethodCard = shape({
  id: text('The payment method id, such as pm_card_visa.'),
  object: objectName('payment_method'),
  type: constant('card'),
  card: ref('card_details'),
}, { title: 'Payment method (card)', description: 'The test payment method used, as rendered inside payment errors.' });

const lastPaymentError = shape({
  type: constant('card_error'),
  code: text('Stripe error code, such as card_declined or expired_card.'),
  decline_code: text('The issuer\'s reason, such as insufficient_funds.'),
  message: text(),
  charge: id('ch', 'The failed charge.'),
  doc_url: text(),
  payment_method: ref('payment_method_card'),
}, { optional: ['decline_code', 'doc_url'], title: 'Payment error', description: 'The error of the last payment attempt (a decline).' });

const paymentIntent = shape({
  id: id('pi'),
  object: objectName('payment_intent'),
  amount: int('Amount intended to be collected, in the currency\'s smallest unit.', 1),
  amount_capturable: int('Amount that can be captured (manual capture).', 0),
  amount_received: int('Amount that was collected.', 0),
  canceled_at: nullable(timestamp()),
  cancellation_reason: nullable(oneOfValues(['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'])),
  capture_method: oneOfValues(['automatic', 'automatic_async', 'manual']),
  client_secret: { type: 'string', pattern: '^pi_[A-Za-z0-9]+_secret_[A-Za-z0-9]+$' },
  confirmation_method: oneOfValues(['automatic', 'manual']),
  created: timestamp(),
  currency: currencyCode(),
  customer: nullableExpandable('The customer this payment belongs to.', 'customer', 'deleted_customer'),
  description: nullable(text()),
  external_id: nullable(text('Oncepay extension: the caller\'s permanent business key for this payment (creating it twice returns the first).')),
  invoice: nullable(id('in', 'The invoice this payment pays: confirming it settles the invoice.')),
  last_payment_error: nullable(ref('payment_intent_last_payment_error')),
  latest_charge: nullableExpandable('The latest charge created by this intent.', 'charge'),
  livemode: livemode(),
  metadata: metadata(),
  next_action: nullable(shape({
    type: constant('use_stripe_sdk'),
    use_stripe_sdk: shape({ type: constant('three_d_secure_redirect'), stripe_js: text('Where the customer authenticates.') }),
  }, { description: 'What the customer must do next (3-D Secure) when the status is requires_action.' })),
  order: nullable(id('order', 'Oncepay extension: the order this payment pays.')),
  payment_method: nullable(text('The payment method id, such as pm_card_visa.')),
  payment_method_types: { type: 'array', items: oneOfValues(['card']) },
  receipt_email: nullable(text()),
  setup_future_usage: alwaysNull(),
  statement_descriptor: nullable(text()),
  statement_descriptor_suffix: nullable(text()),
  status: oneOfValues(PAYMENT_INTENT_STATUSES),
}, { title: 'PaymentIntent' });

const charge = shape({
  id: id('ch'),
  object: objectName('charge'),
  amount: int(undefined, 1),
  amount_captured: int(undefined, 0),
  amount_refunded: int(undefined, 0),
  balance_transaction: nullableExpandable('The balance transaction of the capture.', 'balance_transaction'),
  captured: bool(),
  created: timestamp(),
  currency: currencyCode(),
  customer: nullableExpandable('The customer of the payment.', 'customer', 'deleted_customer'),
  description: nullable(text()),
  disputed: bool(),
  failure_code: nullable(text()),
  failure_message: nullable(text()),
  livemode: livemode(),
  metadata: metadata(),
  outcome: shape({
    network_status: oneOfValues(['approved_by_network', 'declined_by_network']),
    reason: nullable(text()),
    risk_level: oneOfValues(['normal']),
    seller_message: text(),
    type: oneOfValues(['authorized', 'issuer_declined']),
  }),
  paid: bool(),
  payment_intent: nullableExpandable('The PaymentIntent that created this charge.', 'payment_intent'),
  payment_method: text(),
  payment_method_details: shape({
    type: constant('card'),
    card: shape({
      brand: text(), last4: { type: 'string', pattern: '^[0-9]{4}$' }, exp_month: { type: 'integer', minimum: 1, maximum: 12 },
      exp_year: int(), funding: oneOfValues(['credit', 'debit', 'prepaid']), country: { type: 'string', pattern: '^[A-Z]{2}$' },
      network: text(),
    }),
  }),
  receipt_email: nullable(text()),
  refunded: bool(),
  status: oneOfValues(['succeeded', 'pending', 'failed']),
}, { title: 'Charge' });

const refund = shape({
  id: id('re'),
  object: objectName('refund'),
  amount: int(undefined, 1),
  balance_transaction: nullableExpandable('Set once the refund succeeded.', 'balance_transaction'),
  charge: expandable('The refunded charge.', 'charge'),
  created: timestamp(),
  currency: currencyCode(),
  external_id: nullable(text('Oncepay extension: the caller\'s permanent business key for this refund.')),
  failure_reason: nullable(text()),
  metadata: metadata(),
  payment_intent: nullableExpandable('The PaymentIntent of the refunded charge.', 'payment_intent'),
  reason: nullable(oneOfValues(['duplicate', 'fraudulent', 'requested_by_customer'])),
  status: oneOfValues(['pending', 'succeeded', 'failed', 'canceled']),
}, { title: 'Refund' });

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
  created: timestamp(),
  currency: currencyCode(),
  description: nullable(text()),
  exchange_rate: alwaysNull(),
  fee: int(undefined, 0),
  fee_details: { type: 'array', maxItems: 0 },
  net: int(),
  reporting_category: oneOfValues(['charge', 'refund']),
  source: text('The id of the charge or refund.'),
  status: oneOfValues(['available']),
  type: oneOfValues(['charge', 'refund']),
}, { title: 'Balance transaction' });

// ---- events and webhooks ----------------------------------------------------------------------

/** Which object an event carries, by the pattern of its type (`customer.subscription.*` is not a customer's). */
const EVENT_OBJECTS: [pattern: string, schema: SchemaName][] = [
  ['^customer\\.(created|updated|deleted)$', 'customer'], ['^customer\\.subscription\\.', 'subscription'],
  ['^payment_intent\\.', 'payment_intent'], ['^charge\\.', 'charge'], ['^refund\\.', 'refund'],
  ['^webhook_endpoint\\.', 'webhook_endpoint'], ['^order\\.', 'order'], ['^product\\.', 'product'], ['^price\\.', 'price'],
  ['^invoice\\.', 'invoice'], ['^invoiceitem\\.', 'invoiceitem'], ['^test_helpers\\.test_clock\\.', 'test_helpers.test_clock'],
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
  kind: oneOfValues(['sale', 'authorization', 'capture', 'void', 'refund']),
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
    payment_method: ref('payment_method_card'),
    existing_id: text('Oncepay extension, with code already_exists: the object created earlier under this external_id.'),
  }, { optional: ['code', 'decline_code', 'param', 'doc_url', 'charge', 'payment_intent', 'payment_method', 'existing_id'] }),
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
  payment_method_card: paymentMethodCard,
  card_details: cardDetails,
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
};
