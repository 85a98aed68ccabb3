/** Stripe-shaped objects this service stores and renders, and their tables. */
import { ObjectTable } from '../store/object_table.ts';
import type { PaymentIntentStatus } from './state.ts';
import type { CardDetails } from '../processor/types.ts';
import type { BillingDetails, PaymentMethod } from './payment_methods.ts';
import type { LegacyCard } from './legacy_card.ts';

import type { Metadata } from '../schema/metadata.ts';

export type { Metadata };

export interface Address {
  city: string | null;
  country: string | null;
  line1: string | null;
  line2: string | null;
  postal_code: string | null;
  state: string | null;
}

export interface Shipping {
  address: Address;
  carrier?: string | null;
  name: string;
  phone?: string | null;
  tracking_number?: string | null;
}

export interface Customer {
  id: string;
  object: 'customer';
  address: Address | null;
  balance: number;
  /** Only once set. */
  business_name?: string;
  created: number;
  currency: string | null;
  customer_account: null;
  default_source: string | null;
  delinquent: boolean;
  description: string | null;
  email: string | null;
  /** Only once set. */
  individual_name?: string;
  invoice_prefix: string;
  invoice_settings: {
    custom_fields: { name: string; value: string }[] | null;
    default_payment_method: string | null;
    footer: string | null;
    rendering_options: { amount_tax_display: string | null; template: string | null } | null;
  };
  livemode: false;
  metadata: Metadata;
  name: string | null;
  next_invoice_sequence: number;
  phone: string | null;
  preferred_locales: string[];
  shipping: Shipping | null;
  tax_exempt: 'none' | 'exempt' | 'reverse';
  /** The test clock whose time this customer's billing follows. */
  test_clock: string | null;
}

/** What a deleted customer reads as (its object is kept for its history). */
export interface DeletedCustomer {
  id: string;
  object: 'customer';
  deleted: true;
}

/** A decline as Stripe reports it: the 402's error and the intent's last_payment_error. */
export interface PaymentError {
  type: 'card_error';
  code: string;
  decline_code?: string;
  advice_code?: string;
  message: string;
  param?: string;
  charge?: string;
  doc_url?: string;
  payment_method: PaymentMethod;
  payment_method_type?: 'card';
}

export type SetupFutureUsage = 'off_session' | 'on_session';

export interface PaymentIntent {
  id: string;
  object: 'payment_intent';
  allowed_payment_method_types: null;
  amount: number;
  amount_capturable: number;
  amount_received: number;
  application: null;
  application_fee_amount: null;
  automatic_payment_methods: { allow_redirects?: 'always' | 'never'; enabled: boolean } | null;
  canceled_at: number | null;
  cancellation_reason: string | null;
  capture_method: 'automatic' | 'automatic_async' | 'manual';
  client_secret: string;
  confirmation_method: 'automatic' | 'manual';
  created: number;
  currency: string;
  customer: string | null;
  customer_account: null;
  description: string | null;
  excluded_payment_method_types: string[] | null;
  external_id: string | null;
  /** The invoice this intent pays (Stripe's older API versions show it too); confirming it settles that invoice. */
  invoice: string | null;
  last_payment_error: PaymentError | null;
  latest_charge: string | null;
  livemode: false;
  managed_payments: null;
  metadata: Metadata;
  next_action: null | NextAction;
  on_behalf_of: null;
  /** Oncepay extension: the order this payment pays (src/billing/orders.ts). */
  order: string | null;
  payment_method: string | null;
  payment_method_configuration_details: null;
  /** As given (stored and echoed; Oncepay's card payments act on none of the options). */
  payment_method_options: Record<string, unknown> | null;
  payment_method_types: string[];
  payment_record: null;
  processing: null;
  receipt_email: string | null;
  review: null;
  setup_future_usage: SetupFutureUsage | null;
  shipping: Shipping | null;
  source: null;
  statement_descriptor: string | null;
  statement_descriptor_suffix: string | null;
  status: PaymentIntentStatus;
  transfer_group: string | null;
}

export interface ChargeCard {
  amount_authorized: number | null;
  authorization_code: string | null;
  brand: string;
  checks: CardDetails['checks'];
  country: string;
  electronic_commerce_indicator: null;
  exp_month: number;
  exp_year: number;
  extended_authorization: { status: 'disabled' };
  fingerprint: string;
  funding: CardDetails['funding'];
  incremental_authorization: { status: 'unavailable' };
  installments: null;
  last4: string;
  mandate: null;
  multicapture: { status: 'unavailable' };
  network: string;
  network_token: { used: false };
  network_transaction_id: string | null;
  overcapture: { maximum_amount_capturable: number; status: 'unavailable' };
  regulated_status: 'unregulated';
  three_d_secure: null | {
    authentication_flow: 'challenge'; electronic_commerce_indicator: '05'; exemption_indicator: null; result: 'authenticated';
    result_reason: null; transaction_id: string; version: '2.2.0';
  };
  transaction_link_id: null;
  wallet: null;
}

export interface Charge {
  id: string;
  object: 'charge';
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  application: null;
  application_fee: null;
  application_fee_amount: null;
  balance_transaction: string | null;
  billing_details: BillingDetails;
  calculated_statement_descriptor: string;
  captured: boolean;
  created: number;
  currency: string;
  customer: string | null;
  description: string | null;
  disputed: boolean;
  failure_balance_transaction: null;
  failure_code: string | null;
  failure_message: string | null;
  fraud_details: Record<string, string>;
  livemode: false;
  metadata: Metadata;
  on_behalf_of: null;
  outcome: {
    advice_code: string | null;
    network_advice_code: null;
    network_decline_code: null;
    network_status: 'approved_by_network' | 'declined_by_network' | 'not_sent_to_network';
    reason: string | null;
    risk_level: CardDetails['risk_level'];
    risk_score: number;
    seller_message: string;
    type: 'authorized' | 'issuer_declined' | 'blocked';
  };
  paid: boolean;
  payment_intent: string | null;
  payment_method: string;
  payment_method_details: { card: ChargeCard; type: 'card' };
  receipt_email: string | null;
  receipt_number: null;
  receipt_url: null;
  refunded: boolean;
  review: null;
  shipping: Shipping | null;
  /** A legacy charge's card (src/payments/legacy_charges.ts); null for a PaymentIntent's. */
  source: LegacyCard | null;
  source_transfer: null;
  statement_descriptor: string | null;
  statement_descriptor_suffix: string | null;
  status: 'succeeded' | 'pending' | 'failed';
  transfer_data: null;
  transfer_group: string | null;
}

export interface Refund {
  id: string;
  object: 'refund';
  amount: number;
  balance_transaction: string | null;
  charge: string;
  created: number;
  currency: string;
  customer: string | null;
  customer_account: null;
  destination_details: { card: { reference?: string; reference_status: 'pending' | 'available'; reference_type: 'acquirer_reference_number'; type: 'refund' }; type: 'card' };
  external_id: string | null;
  instructions_email?: string;
  metadata: Metadata;
  payment_intent: string | null;
  payment_method: string | null;
  reason: 'duplicate' | 'fraudulent' | 'requested_by_customer' | null;
  receipt_number: null;
  source_transfer_reversal: null;
  status: 'pending' | 'succeeded' | 'failed' | 'canceled';
  transfer_reversal: null;
}

export interface BalanceTransaction {
  id: string;
  object: 'balance_transaction';
  amount: number;
  available_on: number;
  balance_type: 'payments';
  created: number;
  currency: string;
  description: string | null;
  exchange_rate: null;
  fee: number;
  fee_details: never[];
  net: number;
  reporting_category: 'charge' | 'refund';
  source: string;
  status: 'available';
  type: 'charge' | 'refund';
}

export const customers = new ObjectTable<Customer & { deleted?: boolean }>('customers', 'customer', {
  deleted: (c) => c.deleted === true,
  email: (c) => c.email,
  test_clock: (c) => c.test_clock,
});
export const paymentIntents = new ObjectTable<PaymentIntent>('payment_intents', 'payment_intent', {
  customer: (p) => p.customer,
  order_id: (p) => p.order ?? null,
});
export const charges = new ObjectTable<Charge>('charges', 'charge', {
  payment_intent: (c) => c.payment_intent,
  customer: (c) => c.customer,
});
export const refunds = new ObjectTable<Refund>('refunds', 'refund', {
  charge: (r) => r.charge,
  payment_intent: (r) => r.payment_intent,
});
export const balanceTransactions = new ObjectTable<BalanceTransaction>('balance_transactions', 'balance_transaction', {
  source: (t) => t.source,
  type: (t) => t.type,
});

/** What an intent waiting for 3-D Secure asks the client to do (a payment's or a setup's next_action). */
export interface NextAction { type: 'use_stripe_sdk'; use_stripe_sdk: { type: 'three_d_secure_redirect'; stripe_js: string } }

export const threeDSecureAction = (intentId: string): NextAction =>
  ({ type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: `https://oncepay.test/3ds/${intentId}` } });
