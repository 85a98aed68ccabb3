/**
 * The parameters of subscription create, update, cancel and resume, as Stripe documents them
 * (API version 2026-10-28.endive), and the checks that need no database. What Oncepay cannot act
 * on (tax, Connect, coupons, usage thresholds, prorations) is `unsupported`: known, and refused
 * with a 400 that names it and says why.
 */
import { invalidRequest } from '../errors.ts';
import {
  array, boolean, clearable, enumOf, expandParam, integer, metadata, nonEmptyString, object, optional, string, unsupported,
  type ParsedObject, type Schema,
} from '../schema/params.ts';
import { checkPaymentMethod } from '../payments/payment_intents.ts';
import { CANCELLATION_FEEDBACK, TRIAL_END_BEHAVIORS } from './billing_objects.ts';

/** Stripe's longest trial: two years. */
export const MAX_TRIAL_DAYS = 730;

const NO_TAX = 'Oncepay calculates no tax.';
const NO_CONNECT = 'Oncepay has no Connect (connected accounts, application fees, transfers).';
const NO_COUPONS = 'Oncepay has no coupons, promotion codes or discounts.';
const NO_PRORATION = 'Oncepay does not prorate: changes take effect from the next billing period.';
const NO_THRESHOLDS = 'Oncepay has no usage-based billing, so no billing thresholds.';
const NO_SCHEDULES = 'Oncepay has no billing schedules or subscription schedules.';
const NO_SOURCES = 'Oncepay has no Sources (legacy card objects): use default_payment_method.';
const NO_TRIAL_OFFERS = 'Oncepay has no per-item trial offers: use trial_end, trial_period_days or trial_from_plan.';
const NO_PENDING_ITEMS_INTERVAL = 'Oncepay invoices pending invoice items with the next period only.';

const emptyList = (v: unknown) => Array.isArray(v) && v.length === 0;
const disabled = (v: unknown) => typeof v === 'object' && v !== null && ['false', false].includes((v as { enabled?: unknown }).enabled as string);

/** A Unix timestamp, or `now`. */
export function timestampOrNow(): Schema<number | 'now'> {
  const int = integer({ min: 0 });
  return {
    required: true,
    parse: (v, path) => (v === 'now' ? 'now' : int.parse(v, path)),
    jsonSchema: () => ({ anyOf: [{ type: 'string', enum: ['now'] }, int.jsonSchema()] }),
  };
}

/** cancel_at: a timestamp, or one of Stripe's period-end keywords. */
function cancelAt(): Schema<number | 'max_period_end' | 'min_period_end' | 'max_billed_until'> {
  const int = integer({ min: 0 });
  const words = ['max_period_end', 'min_period_end', 'max_billed_until'] as const;
  return {
    required: true,
    parse: (v, path) => ((words as readonly unknown[]).includes(v) ? v as (typeof words)[number] : int.parse(v, path)),
    jsonSchema: () => ({ anyOf: [{ type: 'string', enum: [...words] }, int.jsonSchema()] }),
  };
}

/** Update's billing_cycle_anchor: `now` or `unchanged`, as a word or as `{ type }` (how stripe-node 23 sends it). */
function anchorReset(): Schema<'now' | 'unchanged'> {
  const word = enumOf(['now', 'unchanged'] as const);
  const hash = object({ type: word });
  return {
    required: true,
    parse: (v, path) => (typeof v === 'string' ? word.parse(v, path) : hash.parse(v, path).type),
    jsonSchema: () => ({ anyOf: [word.jsonSchema(), hash.jsonSchema()] }),
  };
}

const quantity = () => integer({ min: 1, max: 1_000_000 });

/** What every subscription item parameter hash shares. */
const itemShape = {
  price: optional(nonEmptyString(255)),
  /** Stripe's legacy name: a plan's id is its price's id. */
  plan: optional(nonEmptyString(255)),
  quantity: optional(quantity()),
  metadata: optional(metadata()),
  price_data: unsupported('Oncepay does not create prices inline: create the price with POST /v1/prices and pass its id as price.'),
  billing_thresholds: unsupported(NO_THRESHOLDS),
  current_trial: unsupported(NO_TRIAL_OFFERS),
  discounts: unsupported(NO_COUPONS, { noop: emptyList }),
  tax_rates: unsupported(NO_TAX, { noop: emptyList }),
};

const trialSettings = () => object({
  end_behavior: object({ missing_payment_method: enumOf(TRIAL_END_BEHAVIORS) }),
});

const cancellationDetails = () => object({
  comment: clearable(string({ max: 5000 })),
  feedback: clearable(enumOf(CANCELLATION_FEEDBACK)),
  feedback_option: unsupported('Oncepay has no custom cancellation feedback options: use feedback.'),
});

const invoiceSettings = () => object({
  account_tax_ids: unsupported(NO_TAX, { noop: emptyList }),
  custom_fields: clearable(array(object({ name: nonEmptyString(40), value: nonEmptyString(140) }), { max: 4 })),
  description: clearable(string({ max: 1500 })),
  footer: clearable(string({ max: 5000 })),
  issuer: optional(object({ type: enumOf(['self'] as const), account: unsupported(NO_CONNECT) })),
});

const paymentSettings = () => object({
  payment_method_types: optional(array(enumOf(['card'] as const), { max: 1 })),
  save_default_payment_method: optional(enumOf(['off', 'on_subscription'] as const)),
  payment_method_options: unsupported('Oncepay has no per-method payment options for subscription invoices.'),
});

/** The parameters create and update share, with the same meaning. */
const common = {
  add_invoice_items: unsupported('Oncepay adds one-off items through invoice items: create them with POST /v1/invoiceitems for the customer before the subscription (they go on its first invoice).', { noop: emptyList }),
  application_fee_percent: unsupported(NO_CONNECT),
  automatic_tax: unsupported(NO_TAX, { noop: disabled }),
  billing_schedules: unsupported(NO_SCHEDULES, { noop: emptyList }),
  billing_thresholds: unsupported(NO_THRESHOLDS),
  cancel_at_period_end: optional(boolean()),
  collection_method: optional(enumOf(['charge_automatically', 'send_invoice'] as const)),
  days_until_due: optional(integer({ min: 0, max: 3650 })),
  default_tax_rates: unsupported(NO_TAX, { noop: emptyList }),
  discounts: unsupported(NO_COUPONS, { noop: emptyList }),
  invoice_settings: optional(invoiceSettings()),
  metadata: optional(metadata()),
  off_session: optional(boolean()),
  on_behalf_of: unsupported(NO_CONNECT),
  payment_settings: optional(paymentSettings()),
  pending_invoice_item_interval: unsupported(NO_PENDING_ITEMS_INTERVAL),
  proration_behavior: optional(enumOf(['none', 'create_prorations', 'always_invoice'] as const)),
  transfer_data: unsupported(NO_CONNECT),
  trial_end: optional(timestampOrNow()),
  trial_from_plan: optional(boolean()),
  trial_settings: optional(trialSettings()),
  expand: expandParam(),
};

export const createSubscriptionParams = object({
  ...common,
  customer: nonEmptyString(255),
  customer_account: unsupported('Oncepay has no Accounts v2: pass customer.'),
  items: array(object(itemShape), { max: 20 }),
  backdate_start_date: unsupported(`Backdating bills a prorated past period. ${NO_PRORATION}`),
  billing_cycle_anchor: optional(integer({ min: 0 })),
  billing_cycle_anchor_config: unsupported('Oncepay anchors billing cycles by timestamp only: pass billing_cycle_anchor.'),
  billing_mode: optional(object({
    type: enumOf(['classic', 'flexible'] as const),
    flexible: optional(object({ proration_discounts: optional(enumOf(['included', 'itemized'] as const)) })),
  })),
  cancel_at: optional(cancelAt()),
  currency: optional(string({ max: 3 })),
  default_payment_method: optional(nonEmptyString(255)),
  default_source: unsupported(NO_SOURCES),
  description: optional(string({ max: 500 })),
  payment_behavior: optional(enumOf(['allow_incomplete', 'default_incomplete', 'error_if_incomplete', 'pending_if_incomplete'] as const)),
  trial_period_days: optional(integer({ min: 0, max: MAX_TRIAL_DAYS })),
  external_id: optional(nonEmptyString(255)),
});

export const updateSubscriptionParams = object({
  ...common,
  subscription: nonEmptyString(255),
  items: optional(array(object({
    ...itemShape,
    id: optional(nonEmptyString(255)),
    deleted: optional(boolean()),
    clear_usage: unsupported('Oncepay has no metered usage to clear.', { noop: (v) => v === false || v === 'false' }),
  }), { max: 20 })),
  /** Oncepay's shorthand for a one-item subscription's quantity (Stripe's legacy parameter). */
  quantity: optional(quantity()),
  billing_cycle_anchor: optional(anchorReset()),
  cancel_at: clearable(cancelAt()),
  cancellation_details: optional(cancellationDetails()),
  default_payment_method: clearable(nonEmptyString(255)),
  default_source: unsupported(NO_SOURCES),
  description: clearable(string({ max: 500 })),
  pause_collection: unsupported('Oncepay does not pause collection: cancel the subscription, or let a trial without a payment method pause it (trial_settings).'),
  payment_behavior: optional(enumOf(['allow_incomplete', 'default_incomplete', 'error_if_incomplete', 'pending_if_incomplete'] as const)),
  proration_date: unsupported(NO_PRORATION),
});

export const cancelSubscriptionParams = object({
  subscription: nonEmptyString(255),
  cancellation_details: optional(cancellationDetails()),
  invoice_now: unsupported(`Oncepay does not invoice at cancellation. ${NO_PRORATION}`, { noop: (v) => v === false || v === 'false' }),
  prorate: unsupported(NO_PRORATION, { noop: (v) => v === false || v === 'false' }),
  expand: expandParam(),
});

export const resumeSubscriptionParams = object({
  subscription: nonEmptyString(255),
  billing_cycle_anchor: optional(enumOf(['now', 'unchanged'] as const)),
  payment_behavior: optional(enumOf(['resume_on_payment_attempt', 'resume_on_payment_success'] as const)),
  proration_behavior: optional(enumOf(['none', 'create_prorations', 'always_invoice'] as const)),
  proration_date: unsupported(NO_PRORATION),
  expand: expandParam(),
});

export type CreateParams = ParsedObject<typeof createSubscriptionParams.shape>;
export type UpdateParams = ParsedObject<typeof updateSubscriptionParams.shape>;
export type CancelParams = ParsedObject<typeof cancelSubscriptionParams.shape>;
export type ResumeParams = ParsedObject<typeof resumeSubscriptionParams.shape>;

/** Oncepay bills whole periods: prorations are refused by name. */
function checkProration(p: { proration_behavior?: string }): void {
  if (p.proration_behavior && p.proration_behavior !== 'none') {
    throw invalidRequest(`Oncepay does not support proration_behavior=${p.proration_behavior}: ${NO_PRORATION} Pass proration_behavior=none.`, 'proration_behavior', 'parameter_unsupported');
  }
}

function checkPaymentBehavior(p: { payment_behavior?: string }): void {
  if (p.payment_behavior === 'error_if_incomplete' || p.payment_behavior === 'pending_if_incomplete') {
    throw invalidRequest(`Oncepay does not support payment_behavior=${p.payment_behavior}: it cannot hold a change back until its payment succeeds. Use allow_incomplete or default_incomplete.`, 'payment_behavior', 'parameter_unsupported');
  }
}

/** At most one way of asking for a trial. */
function checkTrial(p: { trial_end?: number | 'now'; trial_period_days?: number; trial_from_plan?: boolean }): void {
  const given = (['trial_end', 'trial_period_days'] as const).filter((k) => p[k] !== undefined);
  if (p.trial_from_plan && given.length > 0) throw invalidRequest(`You may only specify one of these parameters: trial_from_plan, ${given[0]}.`, given[0], 'parameters_exclusive');
  if (given.length > 1) throw invalidRequest('You may only specify one of these parameters: trial_end, trial_period_days.', 'trial_period_days', 'parameters_exclusive');
}

/** The price an item names (price, or its legacy name plan). */
export function itemPrice(it: { price?: string; plan?: string }, i: number): string | undefined {
  if (it.price !== undefined && it.plan !== undefined) throw invalidRequest(`You may only specify one of these parameters: items[${i}][price], items[${i}][plan].`, `items[${i}][plan]`, 'parameters_exclusive');
  return it.price ?? it.plan;
}

export function checkCreateSubscription(p: CreateParams): void {
  if (p.items.length === 0) throw invalidRequest('Missing required param: items[0][price]. A subscription needs at least one item.', 'items', 'parameter_missing');
  checkProration(p);
  checkPaymentBehavior(p);
  checkTrial(p);
  if (p.billing_cycle_anchor !== undefined && p.proration_behavior !== 'none') {
    throw invalidRequest(`Oncepay does not prorate the time until billing_cycle_anchor: pass proration_behavior=none, and that time is free (a $0 invoice, as Stripe issues without prorations).`, 'proration_behavior', 'parameter_unsupported');
  }
  if (p.billing_cycle_anchor !== undefined && (p.trial_end !== undefined && p.trial_end !== 'now' || p.trial_period_days || p.trial_from_plan)) {
    throw invalidRequest('Oncepay does not combine a trial with billing_cycle_anchor: a trial already anchors the billing cycle at its end.', 'billing_cycle_anchor', 'parameter_unsupported');
  }
  if (p.default_payment_method) checkPaymentMethod(p.default_payment_method, 'default_payment_method');
  const method = p.collection_method ?? 'charge_automatically';
  if (method === 'send_invoice' && p.days_until_due === undefined) throw invalidRequest('Missing required param: days_until_due (collection_method=send_invoice).', 'days_until_due', 'parameter_missing');
  if (method === 'charge_automatically' && p.days_until_due !== undefined) throw invalidRequest('days_until_due applies only to collection_method=send_invoice.', 'days_until_due');
  const seen = new Set<string>();
  p.items.forEach((it, i) => {
    const price = itemPrice(it, i);
    if (price === undefined) throw invalidRequest(`Missing required param: items[${i}][price].`, `items[${i}][price]`, 'parameter_missing');
    if (seen.has(price)) throw invalidRequest(`Price ${price} appears twice in items: give it one item with a quantity.`, `items[${i}][price]`);
    seen.add(price);
  });
}

export function checkUpdateSubscription(p: UpdateParams): void {
  checkProration(p);
  checkPaymentBehavior(p);
  checkTrial(p);
  if (p.default_payment_method) checkPaymentMethod(p.default_payment_method, 'default_payment_method');
  if (p.quantity !== undefined && p.items !== undefined) throw invalidRequest('You may only specify one of these parameters: quantity, items.', 'quantity', 'parameters_exclusive');
  (p.items ?? []).forEach((it, i) => itemPrice(it, i));
}

export function checkResumeSubscription(p: ResumeParams): void {
  checkProration(p);
  if (p.billing_cycle_anchor === 'unchanged') {
    throw invalidRequest(`Oncepay does not support billing_cycle_anchor=unchanged on resume: it would bill a prorated partial period. ${NO_PRORATION} Omit it (now).`, 'billing_cycle_anchor', 'parameter_unsupported');
  }
}
