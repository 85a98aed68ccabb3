/** Stripe-shaped objects this service stores and renders, and their tables. */
import { ObjectTable } from '../store/object_table.ts';
import type { PaymentIntentStatus } from './state.ts';
import type { CardDetails } from '../processor/types.ts';

import type { Metadata } from '../schema/metadata.ts';

export type { Metadata };

export interface Customer {
  id: string;
  object: 'customer';
  address: null;
  balance: number;
  created: number;
  currency: string | null;
  default_source: null;
  delinquent: boolean;
  description: string | null;
  email: string | null;
  invoice_prefix: string;
  invoice_settings: { custom_fields: null; default_payment_method: string | null; footer: null; rendering_options: null };
  livemode: false;
  metadata: Metadata;
  name: string | null;
  phone: string | null;
  preferred_locales: string[];
  shipping: null;
  tax_exempt: 'none';
  /** The test clock whose time this customer's billing follows. */
  test_clock: string | null;
}

/** What a deleted customer reads as (its object is kept for its history). */
export interface DeletedCustomer {
  id: string;
  object: 'customer';
  deleted: true;
}

export interface PaymentError {
  type: 'card_error';
  code: string;
  decline_code?: string;
  message: string;
  charge?: string;
  doc_url?: string;
  payment_method: { id: string; object: 'payment_method'; type: 'card'; card: CardDetails };
}

export interface PaymentIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_capturable: number;
  amount_received: number;
  canceled_at: number | null;
  cancellation_reason: string | null;
  capture_method: 'automatic' | 'automatic_async' | 'manual';
  client_secret: string;
  confirmation_method: 'automatic' | 'manual';
  created: number;
  currency: string;
  customer: string | null;
  description: string | null;
  external_id: string | null;
  /** The invoice this intent pays (Stripe's older API versions show it too); confirming it settles that invoice. */
  invoice: string | null;
  last_payment_error: PaymentError | null;
  latest_charge: string | null;
  livemode: false;
  metadata: Metadata;
  next_action: null | { type: 'use_stripe_sdk'; use_stripe_sdk: { type: 'three_d_secure_redirect'; stripe_js: string } };
  /** Oncepay extension: the order this payment pays (src/billing/orders.ts). */
  order: string | null;
  payment_method: string | null;
  payment_method_types: string[];
  receipt_email: string | null;
  setup_future_usage: null;
  statement_descriptor: string | null;
  statement_descriptor_suffix: string | null;
  status: PaymentIntentStatus;
}

export interface Charge {
  id: string;
  object: 'charge';
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  balance_transaction: string | null;
  captured: boolean;
  created: number;
  currency: string;
  customer: string | null;
  description: string | null;
  disputed: boolean;
  failure_code: string | null;
  failure_message: string | null;
  livemode: false;
  metadata: Metadata;
  outcome: {
    network_status: string;
    reason: string | null;
    risk_level: 'normal';
    seller_message: string;
    type: 'authorized' | 'issuer_declined';
  };
  paid: boolean;
  payment_intent: string | null;
  payment_method: string;
  payment_method_details: { type: 'card'; card: CardDetails & { network: string } };
  receipt_email: string | null;
  refunded: boolean;
  status: 'succeeded' | 'pending' | 'failed';
}

export interface Refund {
  id: string;
  object: 'refund';
  amount: number;
  balance_transaction: string | null;
  charge: string;
  created: number;
  currency: string;
  external_id: string | null;
  failure_reason: string | null;
  metadata: Metadata;
  payment_intent: string | null;
  reason: 'duplicate' | 'fraudulent' | 'requested_by_customer' | null;
  status: 'pending' | 'succeeded' | 'failed' | 'canceled';
}

export interface BalanceTransaction {
  id: string;
  object: 'balance_transaction';
  amount: number;
  available_on: number;
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
