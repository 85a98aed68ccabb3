/**
 * Payment methods as Stripe renders them, and where they come from: Stripe's ready-made test ids
 * (`pm_card_visa`..., src/processor/cards.ts), which anybody may pay with, and the saved ones of
 * the `payment_methods` table (pm_ made from a card number, a token or a test id, and card_
 * sources, which are PaymentMethods too). Every use of a payment method goes through
 * resolvePaymentMethod, which gives the card's details and the acquirer's reference for it.
 */
import { cardByRef, findTestCard } from '../processor/cards.ts';
import type { CardDetails } from '../processor/types.ts';
import type { Queryable, Tx } from '../store/db.ts';
import { ObjectTable } from '../store/object_table.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import { nowSeconds } from '../ids.ts';
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
  networks: { available: string[]; preferred: string | null };
  regulated_status: 'regulated' | 'unregulated';
  three_d_secure_usage: { supported: boolean };
  wallet: null;
}

export interface PaymentMethod {
  id: string;
  object: 'payment_method';
  allow_redisplay: 'always' | 'limited' | 'unspecified';
  billing_details: BillingDetails;
  card: PaymentMethodCard;
  created: number;
  customer: string | null;
  customer_account: null;
  livemode: false;
  metadata: Metadata;
  type: 'card';
}

/** The saved payment methods (and card sources). `card_ref` and `set_up_for_off_session` are columns only. */
export const paymentMethods = new ObjectTable<PaymentMethod>('payment_methods', 'payment_method', {
  customer: (pm) => pm.customer,
  type: (pm) => pm.type,
});

/** The card's fields shared by a payment method and a charge's payment_method_details. */
export function cardFields(card: CardDetails) {
  return {
    brand: card.brand, checks: card.checks, country: card.country, exp_month: card.exp_month, exp_year: card.exp_year,
    fingerprint: card.fingerprint, funding: card.funding, last4: card.last4,
  };
}

/** A card payment method of `card`. */
export function buildPaymentMethod(id: string, card: CardDetails, opts: {
  created: number; customer?: string | null; billing_details?: BillingDetails; metadata?: Metadata; allow_redisplay?: PaymentMethod['allow_redisplay'];
}): PaymentMethod {
  return {
    id, object: 'payment_method', allow_redisplay: opts.allow_redisplay ?? 'unspecified', billing_details: opts.billing_details ?? { ...NO_BILLING_DETAILS },
    card: {
      ...cardFields(card), display_brand: card.brand.replace(/ /g, '_'), generated_from: null,
      networks: { available: [card.network], preferred: null }, regulated_status: card.funding === 'credit' ? 'unregulated' : 'regulated',
      three_d_secure_usage: { supported: true }, wallet: null,
    },
    created: opts.created, customer: opts.customer ?? null, customer_account: null, livemode: false, metadata: opts.metadata ?? {}, type: 'card',
  };
}

/** The ready-made payment method `id` names (pm_card_*), or undefined when it is not one. */
export function paymentMethodObject(id: string, opts: { created: number; customer?: string | null }): PaymentMethod | undefined {
  const test = findTestCard(id);
  return test ? buildPaymentMethod(id, test.card, opts) : undefined;
}

/** A payment method ready to be used: its object, its card, and what the acquirer knows it by. */
export interface ResolvedPaymentMethod {
  method: PaymentMethod;
  card: CardDetails;
  cardRef: string;
  /** A saved one (a pm_card_* id is not: using it for a customer saves a copy). */
  saved: boolean;
  setUpForOffSession: boolean;
}

/** The card of a saved payment method: its test card's, with what the customer gave (expiry, checks). */
export function cardOf(pm: PaymentMethod, cardRef: string): CardDetails {
  const test = cardByRef(cardRef)!.card;
  return { ...test, exp_month: pm.card.exp_month, exp_year: pm.card.exp_year, checks: pm.card.checks };
}

/** The shape of the ids Oncepay gives saved payment methods and card sources. */
const SAVED_ID = /^(pm|card)_[A-Za-z0-9]{24}$/;

/**
 * Static check of a payment method id (before anything runs, so nothing is saved under the key):
 * a test id, or an id shaped like a saved one (whether it exists is known in the command's phase).
 */
export function checkPaymentMethod(pm: string | null | undefined, param = 'payment_method'): void {
  if (!pm) return;
  if (findTestCard(pm)) return;
  if (!SAVED_ID.test(pm)) {
    throw invalidRequest(`No such PaymentMethod: '${pm}'. Use a saved payment method or one of the test payment methods, such as pm_card_visa.`, param, 'resource_missing');
  }
}

interface StoredRow { data: PaymentMethod; card_ref: string; set_up_for_off_session: boolean }

async function findSaved(q: Queryable, accountId: string, id: string, forUpdate: boolean): Promise<StoredRow | undefined> {
  const { rows } = await q.query<StoredRow>(
    `SELECT data, card_ref, set_up_for_off_session FROM payment_methods WHERE account_id = $1 AND id = $2${forUpdate ? ' FOR UPDATE' : ''}`,
    [accountId, id]);
  return rows[0];
}

/**
 * The payment method `id` names (a test id or a saved one), or Stripe's resource_missing naming
 * `param`. `forUpdate` locks a saved one's row.
 */
export async function resolvePaymentMethod(q: Queryable, accountId: string, id: string, opts: { param?: string; forUpdate?: boolean; created?: number } = {}): Promise<ResolvedPaymentMethod> {
  const test = findTestCard(id);
  if (test) {
    return { method: buildPaymentMethod(id, test.card, { created: opts.created ?? nowSeconds() }), card: test.card, cardRef: id, saved: false, setUpForOffSession: false };
  }
  const row = SAVED_ID.test(id) ? await findSaved(q, accountId, id, opts.forUpdate ?? false) : undefined;
  if (!row) throw resourceMissing('payment_method', id, opts.param ?? 'id');
  return { method: row.data, card: cardOf(row.data, row.card_ref), cardRef: row.card_ref, saved: true, setUpForOffSession: row.set_up_for_off_session };
}

/** Saves a payment method with the acquirer's reference of its card (deferred, in the caller's phase). */
export function insertPaymentMethod(q: Tx, accountId: string, pm: PaymentMethod, cardRef: string, setUpForOffSession = false): void {
  paymentMethods.insert(q, accountId, pm, { card_ref: cardRef, set_up_for_off_session: setUpForOffSession });
}

/** Records that a saved payment method was set up (authenticated) for off-session payments. */
export function markSetUpForOffSession(q: Tx, accountId: string, pm: PaymentMethod): void {
  paymentMethods.update(q, accountId, pm, { set_up_for_off_session: true });
}
