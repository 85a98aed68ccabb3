/**
 * Stripe's legacy Card object (a token's card, a customer's card source, a legacy charge's
 * `source`), rendered from the payment method Oncepay keeps for it: a card source is a row of the
 * payment_methods table whose id starts card_, and a token's card is built the same way.
 */
import type { Metadata } from '../schema/metadata.ts';
import type { PaymentMethod } from './payment_methods.ts';

/** The brand as the legacy Card names it (Stripe's `brand` of a card: "Visa", "American Express"...). */
const LEGACY_BRANDS: Record<string, string> = {
  visa: 'Visa', mastercard: 'MasterCard', amex: 'American Express', discover: 'Discover', diners: 'Diners Club', jcb: 'JCB',
  unionpay: 'UnionPay', cartes_bancaires: 'Cartes Bancaires', eftpos_au: 'Eftpos Australia', interac: 'Interac',
};

export const legacyBrand = (brand: string): string => LEGACY_BRANDS[brand] ?? 'Unknown';

export interface LegacyCard {
  id: string;
  object: 'card';
  address_city: string | null;
  address_country: string | null;
  address_line1: string | null;
  address_line1_check: string | null;
  address_line2: string | null;
  address_state: string | null;
  address_zip: string | null;
  address_zip_check: string | null;
  allow_redisplay: 'always' | 'limited' | 'unspecified';
  brand: string;
  country: string | null;
  customer: string | null;
  cvc_check: string | null;
  dynamic_last4: null;
  exp_month: number;
  exp_year: number;
  fingerprint: string;
  funding: string;
  last4: string;
  metadata: Metadata;
  name: string | null;
  networks: { preferred: string | null };
  regulated_status: 'regulated' | 'unregulated';
  tokenization_method: null;
}

/** The legacy Card of a card payment method (a card source's row, or a token's card). */
export function legacyCardOf(pm: PaymentMethod): LegacyCard {
  const a = pm.billing_details.address ?? {};
  const c = pm.card;
  return {
    id: pm.id, object: 'card',
    address_city: a.city ?? null, address_country: a.country ?? null, address_line1: a.line1 ?? null,
    address_line1_check: c.checks.address_line1_check, address_line2: a.line2 ?? null, address_state: a.state ?? null,
    address_zip: a.postal_code ?? null, address_zip_check: c.checks.address_postal_code_check,
    allow_redisplay: pm.allow_redisplay, brand: legacyBrand(c.brand), country: c.country, customer: pm.customer,
    cvc_check: c.checks.cvc_check, dynamic_last4: null, exp_month: c.exp_month, exp_year: c.exp_year, fingerprint: c.fingerprint,
    funding: c.funding, last4: c.last4, metadata: pm.metadata, name: pm.billing_details.name,
    networks: { preferred: c.networks.preferred }, regulated_status: c.regulated_status, tokenization_method: null,
  };
}

/** A deleted card source, as DELETE answers it. */
export interface DeletedCard { id: string; object: 'card'; deleted: true }
