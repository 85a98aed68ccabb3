/**
 * Checkout Sessions as stored and rendered: Stripe's `checkout.session` object (API version
 * 2026-10-28.endive), its line items (`item`), and what a session keeps beside the object:
 *
 *   url_token   the unguessable token of its hosted page (never derivable from the session id,
 *               which the merchant's success_url shows)
 *   line_items  the items, rendered only through GET .../line_items or expand[]=line_items
 *   progress    how far the customer got: the attempt counter every page submission's key is
 *               derived from, the last card error, a pending 3-D Secure step, the customer made
 *   settings    what completing makes the payment, subscription or setup with (payment_intent_data...)
 *   locked_by   the key of the completion in flight (any other write on the session waits)
 */
import type { Queryable, Tx } from '../store/db.ts';
import { isPageToken } from '../ids.ts';
import { ObjectTable } from '../store/object_table.ts';
import { objectBusy, resourceMissing } from '../errors.ts';
import type { Metadata } from '../schema/metadata.ts';
import type { Price } from '../billing/billing_objects.ts';

export type CheckoutMode = 'payment' | 'subscription' | 'setup';
export type CheckoutStatus = 'open' | 'complete' | 'expired';
export type PaymentStatus = 'paid' | 'unpaid' | 'no_payment_required';

export interface CheckoutLineItem {
  id: string;
  object: 'item';
  adjustable_quantity: null;
  amount_discount: number;
  amount_subtotal: number;
  amount_tax: number;
  amount_total: number;
  currency: string;
  description: string | null;
  metadata: Metadata;
  price: Price;
  quantity: number;
}

export interface CustomerDetails {
  address: null;
  business_name: null;
  email: string | null;
  individual_name: null;
  name: string | null;
  phone: null;
  tax_exempt: 'none' | 'exempt' | 'reverse';
  tax_ids: [];
}

/** Stripe's customer_details from what Oncepay knows of the customer: an email, a name, the tax status. */
export const customerDetails = (c: { email: string | null; name: string | null; tax_exempt?: CustomerDetails['tax_exempt'] | null }): CustomerDetails => ({
  address: null, business_name: null, email: c.email, individual_name: null, name: c.name, phone: null, tax_exempt: c.tax_exempt ?? 'none', tax_ids: [],
});

export interface CheckoutSession {
  id: string;
  object: 'checkout.session';
  adaptive_pricing: null;
  after_expiration: null;
  allow_promotion_codes: null;
  allowed_payment_method_types: null;
  amount_subtotal: number | null;
  amount_total: number | null;
  automatic_tax: { enabled: false; liability: null; provider: null; status: null };
  billing_address_collection: null;
  cancel_url: string | null;
  client_reference_id: string | null;
  client_secret: null;
  collected_information: null;
  consent: null;
  consent_collection: null;
  created: number;
  currency: string | null;
  currency_conversion: null;
  custom_fields: [];
  custom_text: { after_submit: null; shipping_address: null; submit: null; terms_of_service_acceptance: null };
  customer: string | null;
  customer_account: null;
  customer_creation: 'always' | 'if_required' | null;
  customer_details: CustomerDetails | null;
  customer_email: string | null;
  discounts: [];
  expires_at: number;
  integration_identifier: string | null;
  invoice: null;
  invoice_creation: { enabled: false; invoice_data: { account_tax_ids: null; custom_fields: null; description: null; footer: null; issuer: null; metadata: Metadata; rendering_options: null } } | null;
  livemode: false;
  locale: string | null;
  managed_payments: null;
  metadata: Metadata;
  mode: CheckoutMode;
  origin_context: null;
  payment_intent: string | null;
  payment_link: null;
  payment_method_collection: 'always' | null;
  payment_method_configuration_details: null;
  payment_method_options: Record<string, unknown>;
  payment_method_types: ['card'];
  payment_status: PaymentStatus;
  permissions: null;
  recovered_from: null;
  saved_payment_method_options: { allow_redisplay_filters: ['always']; payment_method_remove: null; payment_method_save: null } | null;
  setup_intent: string | null;
  shipping_address_collection: null;
  shipping_cost: null;
  shipping_options: [];
  status: CheckoutStatus;
  submit_type: 'auto' | 'book' | 'donate' | 'pay' | 'subscribe' | null;
  subscription: string | null;
  success_url: string | null;
  total_details: { amount_discount: number; amount_shipping: number; amount_tax: number } | null;
  ui_mode: 'hosted_page';
  url: string | null;
  wallet_options: null;
}

/** A card error the customer saw on the page (the last failed attempt). */
export interface AttemptError {
  message: string;
  code: string;
  decline_code?: string;
}

/**
 * How far the customer got. `attempt` counts the attempts that ended (declined, failed
 * authentication); the next submission's key is derived from it, so a resubmitted form (double
 * click, reload, a second tab showing the same attempt) is the same request.
 */
export interface Progress {
  attempt: number;
  /** A 3-D Secure step waits on the customer (the intent named by the session answered requires_action). */
  awaiting_action: boolean;
  error: AttemptError | null;
  /** What the session's settings say to fill into the customer it creates (subscription mode, customer_creation=always). */
  customer_made: boolean;
}

/** The create parameters that shape what completing makes (not part of the session object). */
export interface SessionSettings {
  payment_intent_data?: {
    capture_method?: 'automatic' | 'automatic_async' | 'manual';
    metadata?: Record<string, string | null> | null;
    setup_future_usage?: 'off_session' | 'on_session' | null;
    description?: string;
    receipt_email?: string;
    statement_descriptor?: string;
    statement_descriptor_suffix?: string;
  };
  subscription_data?: { trial_period_days?: number; metadata?: Record<string, string | null> | null; description?: string };
}

export const NO_PROGRESS: Progress = { attempt: 0, awaiting_action: false, error: null, customer_made: false };

/** The extra columns: filters of the list, and the hosted page's token (unique: it finds the session from its URL). */
export const checkoutSessions = new ObjectTable<CheckoutSession>('checkout_sessions', 'checkout.session', {
  status: (s) => s.status,
  customer: (s) => s.customer,
  payment_intent: (s) => s.payment_intent,
  subscription: (s) => s.subscription,
  customer_email: (s) => s.customer_details?.email ?? s.customer_email,
  expires_at: (s) => s.expires_at,
});

export interface StoredSession {
  session: CheckoutSession;
  lineItems: CheckoutLineItem[];
  progress: Progress;
  settings: SessionSettings;
  token: string;
  lockedBy: string | null;
}

interface SessionRow {
  data: CheckoutSession;
  line_items: CheckoutLineItem[];
  progress: Progress;
  settings: SessionSettings;
  url_token: string;
  locked_by: string | null;
}

const fromRow = (r: SessionRow): StoredSession => ({
  session: r.data, lineItems: r.line_items, progress: r.progress, settings: r.settings, token: r.url_token, lockedBy: r.locked_by,
});

const COLUMNS = 'data, line_items, progress, settings, url_token, locked_by';

/** The session with what it keeps beside the object; resource_missing when there is none. */
export async function loadSession(q: Queryable, accountId: string, id: string, opts: { param?: string } = {}): Promise<StoredSession> {
  const { rows } = await q.query<SessionRow>(`SELECT ${COLUMNS} FROM checkout_sessions WHERE account_id = $1 AND id = $2`, [accountId, id]);
  if (!rows[0]) throw resourceMissing('checkout.session', id, opts.param ?? 'session');
  return fromRow(rows[0]);
}

/**
 * Locks the session row for a write. A completion in flight under another key holds it: the
 * write is refused as busy (409, retryable), like a payment intent being confirmed.
 */
export async function lockSession(q: Tx, accountId: string, id: string, key: string, opts: { param?: string } = {}): Promise<StoredSession> {
  const { rows } = await q.query<SessionRow>(`SELECT ${COLUMNS} FROM checkout_sessions WHERE account_id = $1 AND id = $2 FOR UPDATE`, [accountId, id]);
  if (!rows[0]) throw resourceMissing('checkout.session', id, opts.param ?? 'session');
  if (rows[0].locked_by !== null && rows[0].locked_by !== key) throw objectBusy('Checkout Session', id);
  return fromRow(rows[0]);
}

/** Saves the session and what it keeps beside it (one deferred statement). */
export function saveSession(q: Tx, accountId: string, s: Pick<StoredSession, 'session' | 'progress'>, lockedBy: string | null): void {
  checkoutSessions.update(q, accountId, s.session, { progress: JSON.stringify(s.progress), locked_by: lockedBy });
}

/** The hosted page of a session: `<public URL>/c/pay/<token>`. */
export const checkoutPath = (token: string) => `/c/pay/${token}`;

/** The session a hosted page's token names, with its account; undefined for a token that names none. */
export async function sessionByToken(q: Queryable, token: string): Promise<(StoredSession & { accountId: string }) | undefined> {
  if (!isPageToken(token)) return undefined;
  const { rows } = await q.query<SessionRow & { account_id: string }>(`SELECT account_id, ${COLUMNS} FROM checkout_sessions WHERE url_token = $1`, [token]);
  return rows[0] ? { ...fromRow(rows[0]), accountId: rows[0].account_id } : undefined;
}
