/**
 * The customer portal as stored and rendered: Stripe's `billing_portal.configuration` and
 * `billing_portal.session` objects (API version 2026-10-28), their tables, and the lookup the
 * hosted portal page starts from.
 *
 * A session keeps beside the object:
 *   url_token   the unguessable token of its page (`/p/session/<token>`), never derived from its id
 *   expires_at  when the URL stops working. Stripe documents a portal session only as "short-lived"
 *               (no number): Oncepay gives it SESSION_LIFETIME (1 hour) from creation.
 * A configuration keeps `active` and `is_default` as columns: the list's filters, and at most one
 * default per account (a unique index).
 */
import type { Queryable } from '../store/db.ts';
import { ObjectTable } from '../store/object_table.ts';
import { isPageToken, nowSeconds } from '../ids.ts';
import type { Metadata } from '../schema/metadata.ts';

export type CancellationReasonOption =
  'customer_service' | 'low_quality' | 'missing_features' | 'other' | 'switched_service' | 'too_complex' | 'too_expensive' | 'unused';
export type CustomerUpdateField = 'address' | 'email' | 'name' | 'phone' | 'shipping' | 'tax_id';

export interface PortalProduct {
  adjustable_quantity: { enabled: boolean; maximum: number | null; minimum: number };
  prices: string[];
  product: string;
}

export interface PortalFeatures {
  customer_update: { allowed_updates: CustomerUpdateField[]; enabled: boolean };
  invoice_history: { enabled: boolean };
  payment_method_update: { enabled: boolean; payment_method_configuration: null };
  subscription_cancel: {
    cancellation_reason: { enabled: boolean; feedback_options: null; options: CancellationReasonOption[] };
    enabled: boolean;
    mode: 'at_period_end' | 'immediately';
    proration_behavior: 'none';
  };
  subscription_pause: { duration: { interval_options: { interval: 'month'; interval_count: 1 }[]; type: 'interval_options' }; enabled: false };
  subscription_update: {
    billing_cycle_anchor: 'unchanged' | null;
    default_allowed_updates: ('price' | 'quantity')[];
    enabled: boolean;
    products: PortalProduct[];
    proration_behavior: 'none';
    schedule_at_period_end: { conditions: [] };
    trial_update_behavior: 'end_trial';
  };
}

export interface PortalConfiguration {
  id: string;
  object: 'billing_portal.configuration';
  active: boolean;
  application: null;
  business_profile: { headline: string | null; privacy_policy_url: string | null; terms_of_service_url: string | null };
  created: number;
  default_return_url: string | null;
  features: PortalFeatures;
  is_default: boolean;
  livemode: false;
  login_page: { enabled: false; url: null };
  metadata: Metadata;
  name: string | null;
  updated: number;
}

export type FlowType = 'customer_update' | 'payment_method_update' | 'subscription_cancel' | 'subscription_update' | 'subscription_update_confirm';

export interface PortalFlow {
  after_completion: {
    hosted_confirmation: { custom_message: string | null } | null;
    redirect: { return_url: string } | null;
    type: 'hosted_confirmation' | 'portal_homepage' | 'redirect';
  };
  customer_update: Record<string, never> | null;
  subscription_cancel: { retention: null; subscription: string } | null;
  subscription_pause: null;
  subscription_update: { subscription: string } | null;
  subscription_update_confirm: {
    discounts: [];
    items: { id: string; price: string | null; quantity?: number }[];
    subscription: string;
  } | null;
  type: FlowType;
}

export interface PortalSession {
  id: string;
  object: 'billing_portal.session';
  configuration: string;
  created: number;
  customer: string;
  customer_account: null;
  flow: PortalFlow | null;
  livemode: false;
  locale: string | null;
  on_behalf_of: null;
  return_url: string | null;
  url: string;
}

export const portalConfigurations = new ObjectTable<PortalConfiguration>('billing_portal_configurations', 'billing_portal.configuration', {
  active: (c) => c.active,
  is_default: (c) => c.is_default,
});

export const portalSessions = new ObjectTable<PortalSession>('billing_portal_sessions', 'billing_portal.session', {
  customer: (s) => s.customer,
  configuration: (s) => s.configuration,
});

/** How long a portal session's URL works (Stripe says only "short-lived"): one hour, in seconds. */
export const SESSION_LIFETIME = 60 * 60;

/** The portal page of a session: `<public URL>/p/session/<token>`. */
export const portalPath = (token: string) => `/p/session/${token}`;

export interface PortalSessionByToken {
  accountId: string;
  session: PortalSession;
  configuration: PortalConfiguration;
  /** The URL's lifetime (SESSION_LIFETIME from creation) is over: the page should not serve it. */
  expired: boolean;
}

/**
 * The session a portal page URL names, with its account and configuration (as they are now: an
 * update of the configuration applies to open sessions, as on Stripe); undefined for a token of
 * the wrong form or one no session has.
 */
export async function portalSessionByToken(q: Queryable, token: string): Promise<PortalSessionByToken | undefined> {
  if (!isPageToken(token)) return undefined;
  const { rows } = await q.query<{ account_id: string; data: PortalSession; expires_at: string | number }>(
    'SELECT account_id, data, expires_at FROM billing_portal_sessions WHERE url_token = $1', [token]);
  const row = rows[0];
  if (!row) return undefined;
  const configuration = await portalConfigurations.find(q, row.account_id, row.data.configuration);
  if (!configuration) return undefined;
  return { accountId: row.account_id, session: row.data, configuration, expired: nowSeconds() >= Number(row.expires_at) };
}
