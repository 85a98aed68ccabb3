/**
 * Component schemas of subscriptions and their items, in the shape of API version
 * 2026-10-28.endive (src/billing/subscription_build.ts renders them): the current period is on
 * the items; what Oncepay has no feature for is present with Stripe's empty value.
 */
import {
  type JsonSchema, alwaysNull, bool, constant, currencyCode, expandable, id, int, livemode, metadata, nullable, nullableExpandable,
  objectName, oneOfValues, ref, shape, text, timestamp,
} from './blocks.ts';
import { CANCELLATION_FEEDBACK, PRICE_INTERVALS, SUBSCRIPTION_STATUSES, TRIAL_END_BEHAVIORS } from '../../billing/billing_objects.ts';

const emptyArray = (description = 'Not supported by Oncepay: always empty.'): JsonSchema => ({ type: 'array', maxItems: 0, description });

export const subscriptionItem = shape({
  id: id('si'),
  object: objectName('subscription_item'),
  billing_thresholds: alwaysNull(),
  created: timestamp(),
  current_period_end: timestamp('The end of the item\'s current period (a trial\'s end while trialing).'),
  current_period_start: timestamp(),
  current_trial: alwaysNull(),
  discounts: emptyArray(),
  metadata: metadata(),
  plan: ref('plan'),
  price: ref('price'),
  quantity: int(undefined, 0),
  subscription: id('sub'),
  tax_rates: emptyArray(),
}, { title: 'Subscription item' });

const embeddedItems = shape({
  object: constant('list'),
  data: { type: 'array', items: ref('subscription_item') },
  has_more: constant(false),
  total_count: int('How many items the subscription has.', 1),
  url: { type: 'string', pattern: '^/v1/' },
});

export const subscription = shape({
  id: id('sub'),
  object: objectName('subscription'),
  application: alwaysNull(),
  application_fee_percent: alwaysNull(),
  automatic_tax: shape({ disabled_reason: alwaysNull(), enabled: constant(false), liability: alwaysNull() }),
  billing_cycle_anchor: timestamp('Periods are counted from here (a trial\'s end, or a later anchor given at creation).'),
  billing_cycle_anchor_config: alwaysNull(),
  billing_mode: shape({
    flexible: nullable(shape({ proration_discounts: oneOfValues(['included']) })),
    type: oneOfValues(['classic', 'flexible']),
    updated_at: timestamp(),
  }),
  billing_schedules: emptyArray(),
  billing_thresholds: alwaysNull(),
  cancel_at: nullable(timestamp()),
  cancel_at_period_end: bool(),
  canceled_at: nullable(timestamp()),
  cancellation_details: shape({
    comment: nullable(text()),
    feedback: nullable(oneOfValues(CANCELLATION_FEEDBACK)),
    feedback_option: alwaysNull('Oncepay has no custom feedback options.'),
    reason: nullable(oneOfValues(['cancellation_requested', 'payment_failed'])),
  }),
  collection_method: oneOfValues(['charge_automatically', 'send_invoice']),
  created: timestamp(),
  currency: currencyCode(),
  customer: expandable('The customer billed.', 'customer', 'deleted_customer'),
  customer_account: alwaysNull(),
  days_until_due: nullable(int(undefined, 0)),
  default_payment_method: nullableExpandable('The payment method its invoices are charged to (before the customer\'s default).', 'payment_method'),
  default_source: alwaysNull(),
  default_tax_rates: emptyArray(),
  description: nullable(text()),
  discounts: emptyArray(),
  ended_at: nullable(timestamp()),
  external_id: nullable(text('Oncepay extension: the caller\'s permanent business key.')),
  invoice_settings: shape({
    account_tax_ids: alwaysNull(),
    custom_fields: nullable({ type: 'array', maxItems: 4, items: shape({ name: text(), value: text() }) }),
    description: nullable(text('The description of its invoices.')),
    footer: nullable(text('The footer of its invoices.')),
    issuer: shape({ type: constant('self') }),
  }),
  items: embeddedItems,
  latest_invoice: nullableExpandable('The latest invoice.', 'invoice'),
  livemode: livemode(),
  managed_payments: alwaysNull(),
  metadata: metadata(),
  next_pending_invoice_item_invoice: alwaysNull(),
  on_behalf_of: alwaysNull(),
  pause_collection: alwaysNull(),
  payment_settings: shape({
    payment_method_options: alwaysNull(), payment_method_types: alwaysNull(),
    save_default_payment_method: oneOfValues(['off', 'on_subscription']),
  }),
  pending_invoice_item_interval: alwaysNull(),
  pending_setup_intent: alwaysNull(),
  pending_update: alwaysNull(),
  schedule: alwaysNull(),
  start_date: timestamp(),
  status: oneOfValues(SUBSCRIPTION_STATUSES),
  test_clock: nullableExpandable('The test clock of its customer.', 'test_helpers.test_clock'),
  transfer_data: alwaysNull(),
  trial_end: nullable(timestamp()),
  trial_settings: shape({
    end_behavior: shape({ billing_cycle_anchor: alwaysNull(), missing_payment_method: oneOfValues(TRIAL_END_BEHAVIORS) }),
  }),
  trial_start: nullable(timestamp()),
}, { title: 'Subscription' });
