/**
 * Payment methods as Stripe renders them. Oncepay's payment methods are Stripe's test ones
 * (`pm_card_visa`...) and its fault cards (src/processor/cards.ts): each renders as a card
 * payment method of that card, wherever it appears (expanded, or inside a decline's error).
 */
import { findTestCard } from '../processor/cards.ts';
import type { CardDetails } from '../processor/types.ts';
import type { Metadata } from '../schema/metadata.ts';

export interface BillingDetails {
  address: null | Record<string, string | null>;
  email: string | null;
  name: string | null;
  phone: string | null;
  tax_id: string | null;
}

export const NO_BILLING_DETAILS: BillingDetails = { address: null, email: null, name: null, phone: null, tax_id: null };

export type CheckResult = 'pass' | 'fail' | 'unavailable' | 'unchecked' | null;

/** The card as a payment method shows it (Stripe's PaymentMethod.Card). */
export interface PaymentMethodCard {
  brand: string;
  checks: { address_line1_check: CheckResult; address_postal_code_check: CheckResult; cvc_check: CheckResult };
  country: string | null;
  display_brand: string;
  exp_month: number;
  exp_year: number;
  fingerprint: string;
  funding: CardDetails['funding'];
  generated_from: null;
  last4: string;
  networks: { available: string[]; preferred: null };
  regulated_status: 'regulated' | 'unregulated';
  three_d_secure_usage: { supported: boolean };
  wallet: null;
}

export interface PaymentMethod {
  id: string;
  object: 'payment_method';
  allow_redisplay: 'unspecified';
  billing_details: BillingDetails;
  card: PaymentMethodCard;
  created: number;
  customer: string | null;
  customer_account: null;
  livemode: false;
  metadata: Metadata;
  type: 'card';
}

/** The card's fields shared by a payment method and a charge's payment_method_details. */
export function cardFields(card: CardDetails) {
  return {
    brand: card.brand, checks: card.checks, country: card.country, exp_month: card.exp_month, exp_year: card.exp_year,
    fingerprint: card.fingerprint, funding: card.funding, last4: card.last4,
  };
}

/** The payment method `id` names, or undefined when it is not one of the test payment methods. */
export function paymentMethodObject(id: string, opts: { created: number; customer?: string | null }): PaymentMethod | undefined {
  const test = findTestCard(id);
  if (!test) return undefined;
  const card = test.card;
  return {
    id, object: 'payment_method', allow_redisplay: 'unspecified', billing_details: { ...NO_BILLING_DETAILS },
    card: {
      ...cardFields(card), display_brand: card.brand.replace(/ /g, '_'), generated_from: null,
      networks: { available: [card.network], preferred: null }, regulated_status: card.funding === 'credit' ? 'unregulated' : 'regulated',
      three_d_secure_usage: { supported: true }, wallet: null,
    },
    created: opts.created, customer: opts.customer ?? null, customer_account: null, livemode: false, metadata: {}, type: 'card',
  };
}
