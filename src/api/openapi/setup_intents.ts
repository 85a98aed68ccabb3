/** Component schemas of setup intents (rendered by src/payments/setup_intents.ts). */
import { SETUP_INTENT_SCHEMA_NAMES } from './schema_names.ts';
import {
  type JsonSchema, shape, nullable, id, text, bool, oneOfValues, constant, alwaysNull, timestamp, livemode, objectName, metadata, ref,
  nullableExpandable, cardErrorFields, threeDSecureNextAction,
} from './blocks.ts';

const alwaysNullExpandable = (): JsonSchema => alwaysNull('Not part of Oncepay (setup attempts, mandates, Connect): always null (expanding it answers null).');

const lastSetupError = shape({
  ...cardErrorFields(),
  doc_url: text(),
  payment_method: ref('payment_method'),
  payment_method_type: constant('card'),
}, { optional: ['decline_code', 'advice_code', 'param', 'doc_url'], title: 'Setup error', description: 'The error of the last setup attempt (a declined card check).' });

const setupIntent = shape({
  id: id('seti'),
  object: objectName('setup_intent'),
  allowed_payment_method_types: alwaysNull(),
  application: alwaysNullExpandable(),
  automatic_payment_methods: nullable(shape({ allow_redirects: oneOfValues(['always', 'never']), enabled: bool() }, { optional: ['allow_redirects'] })),
  cancellation_reason: nullable(oneOfValues(['abandoned', 'duplicate', 'requested_by_customer'])),
  client_secret: { type: 'string', pattern: '^seti_[A-Za-z0-9]+_secret_[A-Za-z0-9]+$' },
  created: timestamp(),
  customer: nullableExpandable('The customer the payment method is attached to on success.', 'customer', 'deleted_customer'),
  customer_account: alwaysNull(),
  description: nullable(text()),
  excluded_payment_method_types: nullable({ type: 'array', items: text() }),
  flow_directions: alwaysNull('Only inbound setups: always null.'),
  last_setup_error: nullable(lastSetupError),
  latest_attempt: alwaysNullExpandable(),
  livemode: livemode(),
  mandate: alwaysNullExpandable(),
  metadata: metadata(),
  next_action: threeDSecureNextAction(),
  on_behalf_of: alwaysNullExpandable(),
  payment_method: nullableExpandable('The payment method being set up (a test id\'s saved copy once confirmed).', 'payment_method'),
  payment_method_configuration_details: alwaysNull(),
  payment_method_options: nullable({ type: 'object', description: 'As given, over the card defaults.' }),
  payment_method_types: { type: 'array', items: oneOfValues(['card']) },
  single_use_mandate: alwaysNullExpandable(),
  status: oneOfValues(['requires_payment_method', 'requires_confirmation', 'requires_action', 'processing', 'succeeded', 'canceled']),
  usage: oneOfValues(['off_session', 'on_session']),
}, { title: 'SetupIntent' });

export const SETUP_INTENT_SCHEMAS: Record<(typeof SETUP_INTENT_SCHEMA_NAMES)[number], JsonSchema> = { setup_intent: setupIntent };
