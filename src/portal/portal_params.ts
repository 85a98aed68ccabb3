/**
 * The parameters of the customer portal's endpoints (configurations, sessions), and the checks
 * between them that need no database. What Oncepay's portal cannot do (pausing, prorations,
 * promotion codes, a login page, Connect, retention offers) is refused by name with the reason,
 * never ignored; a value that asks for nothing Oncepay lacks (`enabled=false`, `none`) passes.
 */
import { invalidRequest } from '../errors.ts';
import {
  array, boolean, clearable, enumOf, expandParam, integer, metadata, nonEmptyString, object, optional, string, unsupported, type ParsedObject, type Schema,
} from '../schema/params.ts';
import { REFUSED } from '../payments/payment_params.ts';

const NO_PRORATION = 'Oncepay does not prorate: only proration_behavior=none.';
const NO_DISCOUNTS = 'Oncepay has no coupons or promotion codes.';
const NO_PAUSE = 'Oncepay\'s portal does not let customers pause subscriptions.';
const NO_LOGIN_PAGE = 'Oncepay\'s portal has no login page of its own: a customer reaches it through a session your server creates.';
const disabled = (v: unknown) => typeof v === 'object' && v !== null && String((v as { enabled?: unknown }).enabled).toLowerCase() === 'false';
const emptyArray = (v: unknown) => (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);

/** A URL a browser is sent to: http(s) only. */
export const portalUrl = () => string({
  max: 5000, pattern: /^https?:\/\/[^\s]+$/i,
  patternMessage: 'Not a valid URL: use an absolute http:// or https:// URL.',
});

export const CUSTOMER_UPDATE_FIELDS = ['address', 'email', 'name', 'phone', 'shipping', 'tax_id'] as const;
export const CANCELLATION_REASONS = [
  'customer_service', 'low_quality', 'missing_features', 'other', 'switched_service', 'too_complex', 'too_expensive', 'unused',
] as const;

/** An Emptyable list: `""` (or an empty array) clears it, parsed as []. */
function emptyableList<T>(item: Schema<T>, max = 20): Schema<T[] | undefined> {
  const list = array(item, { max });
  return {
    required: false,
    parse: (v, p) => (v === undefined ? undefined : v === '' || v === null ? [] : list.parse(v, p)),
    jsonSchema: () => ({ anyOf: [list.jsonSchema(), { type: 'string', enum: [''] }] }),
  };
}

/** The allowed updates of subscription_update: price and quantity; promotion codes are refused by name. */
const allowedSubscriptionUpdate: Schema<'price' | 'quantity'> = {
  required: true,
  parse(v, p) {
    const value = enumOf(['price', 'quantity', 'promotion_code'] as const).parse(v, p);
    if (value === 'promotion_code') throw invalidRequest(`Oncepay does not support '${p}' = promotion_code: ${NO_DISCOUNTS}`, p, 'parameter_unsupported');
    return value;
  },
  jsonSchema: () => ({ type: 'string', enum: ['price', 'quantity'], description: `promotion_code is refused: ${NO_DISCOUNTS}` }),
};

const portalProduct = object({
  product: nonEmptyString(255),
  prices: array(nonEmptyString(255), { max: 10 }),
  adjustable_quantity: optional(object({
    enabled: boolean(),
    maximum: optional(integer({ min: 1, max: 99 })),
    minimum: optional(integer({ min: 0, max: 99 })),
  })),
});

/**
 * The features hash. On create every feature's `enabled` is required as Stripe's types say; on
 * update (`partial`) a feature may change one setting at a time.
 */
function featuresParams(partial: boolean) {
  const enabled = () => (partial ? optional(boolean()) : boolean());
  return object({
    customer_update: optional(object({
      enabled: enabled(),
      allowed_updates: emptyableList(enumOf(CUSTOMER_UPDATE_FIELDS), 6),
    })),
    invoice_history: optional(object({ enabled: boolean() })),
    payment_method_update: optional(object({
      enabled: boolean(),
      payment_method_configuration: REFUSED.paymentMethodConfiguration(),
    })),
    subscription_cancel: optional(object({
      enabled: enabled(),
      mode: optional(enumOf(['at_period_end', 'immediately'] as const)),
      proration_behavior: unsupported(NO_PRORATION, { noop: (v) => v === 'none' }),
      cancellation_reason: optional(object({
        enabled: boolean(),
        options: partial ? emptyableList(enumOf(CANCELLATION_REASONS), 8) : { ...emptyableList(enumOf(CANCELLATION_REASONS), 8), required: true },
        feedback_options: unsupported('Oncepay\'s portal offers the standard cancellation reasons only (options).', { noop: emptyArray }),
      })),
    })),
    subscription_pause: unsupported(NO_PAUSE, { noop: disabled }),
    subscription_update: optional(object({
      enabled: enabled(),
      default_allowed_updates: emptyableList(allowedSubscriptionUpdate, 3),
      products: emptyableList(portalProduct, 10),
      proration_behavior: unsupported(NO_PRORATION, { noop: (v) => v === 'none' }),
      billing_cycle_anchor: unsupported('a portal update keeps the subscription\'s billing cycle (billing_cycle_anchor=unchanged).', { noop: (v) => v === 'unchanged' }),
      schedule_at_period_end: unsupported('Oncepay applies a portal update at once: no updates scheduled for the period end.', { noop: (v) => emptyArray(v) || emptyArray((v as { conditions?: unknown })?.conditions ?? null) }),
      trial_update_behavior: unsupported('a portal update ends a trial (trial_update_behavior=end_trial).', { noop: (v) => v === 'end_trial' }),
    })),
  });
}

const businessProfile = (update: boolean) => object({
  headline: clearable(string({ max: 60 })),
  privacy_policy_url: update ? clearable(portalUrl()) : optional(portalUrl()),
  terms_of_service_url: update ? clearable(portalUrl()) : optional(portalUrl()),
});

// login_page before features: a refusal names itself even when the required features is missing too.
export const createConfigurationParams = object({
  login_page: unsupported(NO_LOGIN_PAGE, { noop: disabled }),
  features: featuresParams(false),
  business_profile: optional(businessProfile(false)),
  default_return_url: clearable(portalUrl()),
  metadata: optional(metadata()),
  name: clearable(string({ max: 256 })),
  expand: expandParam(),
});

export const updateConfigurationParams = object({
  configuration: nonEmptyString(255),
  active: optional(boolean()),
  features: optional(featuresParams(true)),
  business_profile: optional(businessProfile(true)),
  default_return_url: clearable(portalUrl()),
  login_page: unsupported(NO_LOGIN_PAGE, { noop: disabled }),
  metadata: optional(metadata()),
  name: clearable(string({ max: 256 })),
  expand: expandParam(),
});

export type CreateConfigurationParams = ParsedObject<typeof createConfigurationParams.shape>;
export type UpdateConfigurationParams = ParsedObject<typeof updateConfigurationParams.shape>;
export type FeaturesParams = ParsedObject<ReturnType<typeof featuresParams>['shape']>;

export const LOCALES = [
  'auto', 'bg', 'cs', 'da', 'de', 'el', 'en', 'en-AU', 'en-CA', 'en-GB', 'en-IE', 'en-IN', 'en-NZ', 'en-SG', 'es', 'es-419', 'et', 'fi', 'fil',
  'fr', 'fr-CA', 'hr', 'hu', 'id', 'it', 'ja', 'ko', 'lt', 'lv', 'ms', 'mt', 'nb', 'nl', 'pl', 'pt', 'pt-BR', 'ro', 'ru', 'sk', 'sl', 'sv', 'th',
  'tr', 'vi', 'zh', 'zh-HK', 'zh-TW',
] as const;

const FLOW_TYPES = ['customer_update', 'payment_method_update', 'subscription_cancel', 'subscription_pause', 'subscription_update', 'subscription_update_confirm'] as const;

const flowData = object({
  type: enumOf(FLOW_TYPES),
  after_completion: optional(object({
    type: enumOf(['hosted_confirmation', 'portal_homepage', 'redirect'] as const),
    hosted_confirmation: optional(object({ custom_message: optional(string({ max: 500 })) })),
    redirect: optional(object({ return_url: portalUrl() })),
  })),
  subscription_cancel: optional(object({
    subscription: nonEmptyString(255),
    retention: unsupported(`retention offers need coupons: ${NO_DISCOUNTS}`),
  })),
  subscription_pause: unsupported(NO_PAUSE),
  subscription_update: optional(object({ subscription: nonEmptyString(255) })),
  subscription_update_confirm: optional(object({
    subscription: nonEmptyString(255),
    items: array(object({ id: nonEmptyString(255), price: optional(nonEmptyString(255)), quantity: optional(integer({ min: 0, max: 999_999 })) }), { max: 20 }),
    discounts: unsupported(NO_DISCOUNTS, { noop: emptyArray }),
  })),
});

export const createSessionParams = object({
  customer: nonEmptyString(255),
  configuration: optional(nonEmptyString(255)),
  return_url: optional(portalUrl()),
  locale: optional(enumOf(LOCALES)),
  flow_data: optional(flowData),
  on_behalf_of: REFUSED.connect(),
  customer_account: REFUSED.customerAccount(),
  after_expiration: unsupported('Oncepay\'s portal has no customer login after a session expires: create a new session.'),
  expand: expandParam(),
});

export type CreateSessionParams = ParsedObject<typeof createSessionParams.shape>;
export type FlowDataParams = NonNullable<CreateSessionParams['flow_data']>;

/** The flow's own hash must come with its type (and no other's); after_completion's with its type. */
export function checkCreateSession(p: CreateSessionParams): void {
  const flow = p.flow_data;
  if (!flow) return;
  if (flow.type === 'subscription_pause') {
    throw invalidRequest(`Oncepay does not support 'flow_data[type]' = subscription_pause: ${NO_PAUSE}`, 'flow_data[type]', 'parameter_unsupported');
  }
  for (const t of ['subscription_cancel', 'subscription_update', 'subscription_update_confirm'] as const) {
    if (flow.type === t && flow[t] === undefined) throw invalidRequest(`Missing required param: flow_data[${t}] (a ${t} flow names its subscription).`, `flow_data[${t}]`, 'parameter_missing');
    if (flow.type !== t && flow[t] !== undefined) throw invalidRequest(`flow_data[${t}] can only be passed when flow_data[type] is ${t}, not ${flow.type}.`, `flow_data[${t}]`);
  }
  if (flow.type === 'subscription_update_confirm' && flow.subscription_update_confirm!.items.length === 0) {
    throw invalidRequest('flow_data[subscription_update_confirm][items] must name at least one subscription item.', 'flow_data[subscription_update_confirm][items]');
  }
  const done = flow.after_completion;
  if (done) {
    if (done.type === 'redirect' && !done.redirect) throw invalidRequest('Missing required param: flow_data[after_completion][redirect] (a redirect needs its return_url).', 'flow_data[after_completion][redirect]', 'parameter_missing');
    if (done.type !== 'redirect' && done.redirect) throw invalidRequest(`flow_data[after_completion][redirect] can only be passed when flow_data[after_completion][type] is redirect, not ${done.type}.`, 'flow_data[after_completion][redirect]');
    if (done.type !== 'hosted_confirmation' && done.hosted_confirmation) throw invalidRequest(`flow_data[after_completion][hosted_confirmation] can only be passed when flow_data[after_completion][type] is hosted_confirmation, not ${done.type}.`, 'flow_data[after_completion][hosted_confirmation]');
  }
}

/** Configurations' list filters: active and is_default (with Stripe's paging). */
export const listConfigurationFilters = { active: optional(boolean()), is_default: optional(boolean()) };
