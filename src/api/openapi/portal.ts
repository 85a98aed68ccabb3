/** Component schemas of the customer portal's configurations and sessions (rendered by src/portal/). */
import { PORTAL_SCHEMA_NAMES } from './schema_names.ts';
import {
  type JsonSchema, shape, nullable, id, text, int, bool, oneOfValues, constant, alwaysNull, timestamp, livemode, objectName, metadata, expandable,
} from './blocks.ts';
import { CANCELLATION_REASONS, CUSTOMER_UPDATE_FIELDS, LOCALES } from '../../portal/portal_params.ts';

const strings = (values: readonly string[]): JsonSchema => ({ type: 'array', items: oneOfValues(values) });

const features = shape({
  customer_update: shape({ allowed_updates: strings(CUSTOMER_UPDATE_FIELDS), enabled: bool() }),
  invoice_history: shape({ enabled: bool() }),
  payment_method_update: shape({
    enabled: bool(), payment_method_configuration: alwaysNull('Oncepay has no payment method configurations: the portal takes cards.'),
  }),
  subscription_cancel: shape({
    cancellation_reason: shape({ enabled: bool(), feedback_options: alwaysNull(), options: strings(CANCELLATION_REASONS) }),
    enabled: bool(),
    mode: oneOfValues(['at_period_end', 'immediately']),
    proration_behavior: constant('none', 'Oncepay does not prorate.'),
  }),
  subscription_pause: shape({
    duration: shape({
      interval_options: { type: 'array', items: shape({ interval: oneOfValues(['day', 'week', 'month', 'year']), interval_count: int(undefined, 1) }) },
      type: oneOfValues(['indefinite', 'interval_options']),
    }),
    enabled: constant(false, 'Oncepay\'s portal does not pause subscriptions.'),
  }),
  subscription_update: shape({
    billing_cycle_anchor: nullable(constant('unchanged')),
    default_allowed_updates: strings(['price', 'quantity']),
    enabled: bool(),
    products: {
      type: 'array',
      items: shape({
        adjustable_quantity: shape({ enabled: bool(), maximum: nullable(int(undefined, 1)), minimum: int(undefined, 0) }),
        prices: { type: 'array', items: id('price') },
        product: id('prod'),
      }),
    },
    proration_behavior: constant('none', 'Oncepay does not prorate.'),
    schedule_at_period_end: shape({ conditions: { type: 'array', maxItems: 0 } }),
    trial_update_behavior: constant('end_trial'),
  }),
});

const configuration = shape({
  id: id('bpc'),
  object: objectName('billing_portal.configuration'),
  active: bool('Whether sessions may be created with it.'),
  application: alwaysNull('Oncepay has no Connect applications.'),
  business_profile: shape({ headline: nullable(text()), privacy_policy_url: nullable(text()), terms_of_service_url: nullable(text()) }),
  created: timestamp(),
  default_return_url: nullable(text('Where the portal\'s link back to your site goes when a session names no return_url.')),
  features,
  is_default: bool('The account\'s first configuration (or the one a session without `configuration` made): what such sessions use.'),
  livemode: livemode(),
  login_page: shape({ enabled: constant(false, 'Oncepay\'s portal has no login page.'), url: alwaysNull() }),
  metadata: metadata(),
  name: nullable(text()),
  updated: timestamp(),
}, { title: 'Portal configuration' });

const flow = nullable(shape({
  after_completion: shape({
    hosted_confirmation: nullable(shape({ custom_message: nullable(text()) })),
    redirect: nullable(shape({ return_url: text() })),
    type: oneOfValues(['hosted_confirmation', 'portal_homepage', 'redirect']),
  }),
  customer_update: nullable(shape({})),
  subscription_cancel: nullable(shape({ retention: alwaysNull('Oncepay has no coupons: no retention offers.'), subscription: id('sub') })),
  subscription_pause: alwaysNull('Oncepay\'s portal does not pause subscriptions.'),
  subscription_update: nullable(shape({ subscription: id('sub') })),
  subscription_update_confirm: nullable(shape({
    discounts: { type: 'array', maxItems: 0 },
    items: { type: 'array', items: shape({ id: id('si'), price: nullable(id('price')), quantity: int(undefined, 0) }, { optional: ['quantity'] }) },
    subscription: id('sub'),
  })),
  type: oneOfValues(['customer_update', 'payment_method_update', 'subscription_cancel', 'subscription_update', 'subscription_update_confirm']),
}));

const session = shape({
  id: id('bps'),
  object: objectName('billing_portal.session'),
  configuration: expandable('The configuration the session uses.', 'billing_portal.configuration'),
  created: timestamp(),
  customer: id('cus'),
  customer_account: alwaysNull(),
  flow,
  livemode: livemode(),
  locale: nullable(oneOfValues(LOCALES)),
  on_behalf_of: alwaysNull('Oncepay has no Connect.'),
  return_url: nullable(text()),
  url: text('The portal page: an unguessable URL on ONCEPAY_PUBLIC_URL, usable for one hour from creation.'),
}, { title: 'Portal session' });

export const PORTAL_SCHEMAS: Record<(typeof PORTAL_SCHEMA_NAMES)[number], JsonSchema> = {
  'billing_portal.configuration': configuration,
  'billing_portal.session': session,
};
