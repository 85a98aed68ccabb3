/**
 * The test payment methods: Stripe's documented `pm_card_*` test cards (docs.stripe.com/testing:
 * by brand, by country, declines, fraud prevention, 3-D Secure, disputes, refunds, available
 * balance), each with its card's brand, number, funding and country and the outcome Stripe
 * documents at the steps Oncepay has, plus Oncepay's own fault cards for retry drills.
 *
 * Outcomes Oncepay cannot produce yet answer as Stripe does at the payment step: the dispute cards
 * and the refund cards (pendingRefund, refundFail) succeed like any card, since disputes and
 * asynchronous refund failures do not exist here; Radar's elevated risk is reported on the charge
 * but never queues a review; avs/cvc check failures are reported, and pay (no Radar rule blocks them).
 */
import { createHmac } from 'node:crypto';
import type { CardDetails, CheckResult, Decline } from './types.ts';

export type CardBehaviour =
  | { kind: 'approve' }
  /** Every payment is declined; `verifies`: a card check (attaching it, a setup) still passes (Stripe's 0341). */
  | ({ kind: 'decline'; verifies?: boolean } & Decline)
  /**
   * 3-D Secure: requires_action until the customer authenticates; then `then` (a decline) or
   * approval. Off session it cannot authenticate: declined `authentication_required`, unless
   * `offSessionOnceSetUp` and the card was set up for off-session use (Stripe's 3155).
   */
  | { kind: 'authentication_required'; then?: Decline; offSessionOnceSetUp?: boolean }
  /** The acquirer charges, then its answer is lost (the first attempt per downstream key times out). */
  | { kind: 'timeout_after_charge' }
  /** The acquirer fails with a 5xx before charging (first attempt per downstream key); a retry succeeds. */
  | { kind: 'error_before_charge' }
  /** The acquirer approves, but only after `ms` (to rehearse client timeouts and graceful shutdown). */
  | { kind: 'slow'; ms: number };

export interface TestCard {
  /** Stripe's public test number of the card (documentation only: nothing stores a number). */
  number: string;
  card: CardDetails;
  behaviour: CardBehaviour;
}

/**
 * A card's fingerprint: the same number gives the same fingerprint, and the number cannot be read
 * back from it (a keyed hash, never the number itself). Oncepay only ever sees Stripe's public test
 * numbers, so the key guards habits more than secrets; it is fixed so fingerprints are stable across
 * installs, as a test suite comparing them expects.
 */
const FINGERPRINT_KEY = 'oncepay-card-fingerprint-v1';
export const cardFingerprint = (number: string): string =>
  createHmac('sha256', FINGERPRINT_KEY).update(number).digest('base64url').replace(/[-_]/g, '').slice(0, 16);

interface CardSpec {
  brand?: string;
  funding?: CardDetails['funding'];
  country?: string;
  network?: string;
  checks?: Partial<CardDetails['checks']>;
  risk_level?: CardDetails['risk_level'];
}

const BRAND_BY_PREFIX: [RegExp, string][] = [
  [/^3[47]/, 'amex'], [/^3(0|6|8)/, 'diners'], [/^35/, 'jcb'], [/^6011|^65/, 'discover'], [/^62/, 'unionpay'], [/^(5|2)/, 'mastercard'], [/^4/, 'visa'],
];

function card(number: string, spec: CardSpec = {}): CardDetails {
  const brand = spec.brand ?? BRAND_BY_PREFIX.find(([re]) => re.test(number))![1];
  const pass: CheckResult = 'pass';
  return {
    brand, last4: number.slice(-4), exp_month: 12, exp_year: 2034, funding: spec.funding ?? 'credit', country: spec.country ?? 'US',
    network: spec.network ?? brand,
    fingerprint: cardFingerprint(number),
    checks: { address_line1_check: null, address_postal_code_check: pass, cvc_check: pass, ...spec.checks },
    risk_level: spec.risk_level ?? 'normal',
  };
}

const approve = (number: string, spec?: CardSpec): TestCard => ({ number, card: card(number, spec), behaviour: { kind: 'approve' } });
const decline = (number: string, d: Decline, spec?: CardSpec): TestCard => ({ number, card: card(number, spec), behaviour: { kind: 'decline', ...d } });
const threeDS = (number: string, spec?: CardSpec, then?: Decline, offSessionOnceSetUp = false): TestCard =>
  ({ number, card: card(number, spec), behaviour: { kind: 'authentication_required', ...(then ? { then } : {}), ...(offSessionOnceSetUp ? { offSessionOnceSetUp } : {}) } });

const DECLINED = 'Your card was declined.';
const GENERIC: Decline = { code: 'card_declined', decline_code: 'generic_decline', message: DECLINED, advice_code: 'try_again_later' };
const INSUFFICIENT: Decline = { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.', advice_code: 'try_again_later' };
const LOST: Decline = { code: 'card_declined', decline_code: 'lost_card', message: DECLINED, advice_code: 'do_not_try_again' };
const STOLEN: Decline = { code: 'card_declined', decline_code: 'stolen_card', message: DECLINED, advice_code: 'do_not_try_again' };
const EXPIRED: Decline = { code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.', param: 'exp_month', advice_code: 'confirm_card_data' };
const INCORRECT_CVC: Decline = { code: 'incorrect_cvc', decline_code: 'incorrect_cvc', message: 'Your card\'s security code is incorrect.', param: 'cvc', advice_code: 'confirm_card_data' };
const PROCESSING: Decline = { code: 'processing_error', decline_code: 'processing_error', message: 'An error occurred while processing your card. Try again in a little bit.', advice_code: 'try_again_later' };
const VELOCITY: Decline = { code: 'card_declined', decline_code: 'card_velocity_exceeded', message: 'Your card was declined for making repeated attempts too frequently or exceeding its amount limit.', advice_code: 'try_again_later' };
const FRAUDULENT: Decline = { code: 'card_declined', decline_code: 'fraudulent', message: DECLINED };
const BLOCKED: Decline = { ...FRAUDULENT, blocked: true };

/** Stripe's cards by country (docs.stripe.com/testing#international-cards): a Visa credit card unless said. */
const BY_COUNTRY: Record<string, [number: string, spec?: CardSpec]> = {
  us: ['4242424242424242'], ar: ['4000000320000021', { country: 'AR' }], br: ['4000000760000002', { country: 'BR' }],
  ca: ['4000001240000000', { country: 'CA' }], mx: ['4000004840008001', { country: 'MX' }],
  ae: ['4000007840000001', { country: 'AE' }], ae_mastercard: ['5200007840000022', { country: 'AE' }],
  at: ['4000000400000008', { country: 'AT' }], be: ['4000000560000004', { country: 'BE' }], bg: ['4000001000000000', { country: 'BG' }],
  by: ['4000001120000005', { country: 'BY' }], hr: ['4000001910000009', { country: 'HR' }], cy: ['4000001960000008', { country: 'CY' }],
  cz: ['4000002030000002', { country: 'CZ' }], dk: ['4000002080000001', { country: 'DK' }], ee: ['4000002330000009', { country: 'EE' }],
  fi: ['4000002460000001', { country: 'FI' }], fr: ['4000002500000003', { country: 'FR' }], de: ['4000002760000016', { country: 'DE' }],
  gi: ['4000002920000005', { country: 'GI' }], gr: ['4000003000000030', { country: 'GR' }], hu: ['4000003480000005', { country: 'HU' }],
  ie: ['4000003720000005', { country: 'IE' }], it: ['4000003800000008', { country: 'IT' }], lv: ['4000004280000005', { country: 'LV' }],
  li: ['4000004380000004', { country: 'LI' }], lt: ['4000004400000000', { country: 'LT' }], lu: ['4000004420000006', { country: 'LU' }],
  mt: ['4000004700000007', { country: 'MT' }], nl: ['4000005280000002', { country: 'NL' }], no: ['4000005780000007', { country: 'NO' }],
  pl: ['4000006160000005', { country: 'PL' }], pt: ['4000006200000007', { country: 'PT' }], ro: ['4000006420000001', { country: 'RO' }],
  si: ['4000007050000006', { country: 'SI' }], sk: ['4000007030000001', { country: 'SK' }], es: ['4000007240000007', { country: 'ES' }],
  se: ['4000007520000008', { country: 'SE' }], ch: ['4000007560000009', { country: 'CH' }],
  gb: ['4000008260000000', { country: 'GB' }], gb_debit: ['4000058260000005', { country: 'GB', funding: 'debit' }],
  gb_mastercard: ['5555558265554449', { country: 'GB' }],
  au: ['4000000360000006', { country: 'AU' }], cn: ['4000001560000002', { country: 'CN' }], hk: ['4000003440000004', { country: 'HK' }],
  in: ['4000003560000008', { country: 'IN' }], jp: ['4000003920000003', { country: 'JP' }], my: ['4000004580000002', { country: 'MY' }],
  nz: ['4000005540000008', { country: 'NZ' }], sg: ['4000007020000003', { country: 'SG' }],
  th_credit: ['4000007640000003', { country: 'TH' }], th_debit: ['4000057640000008', { country: 'TH', funding: 'debit' }],
};

export const TEST_CARDS: Readonly<Record<string, TestCard>> = {
  // By brand.
  pm_card_visa: approve('4242424242424242'),
  pm_card_visa_debit: approve('4000056655665556', { funding: 'debit' }),
  pm_card_mastercard: approve('5555555555554444'),
  pm_card_mastercard_debit: approve('5200828282828210', { funding: 'debit' }),
  pm_card_mastercard_prepaid: approve('5105105105105100', { funding: 'prepaid' }),
  pm_card_amex: approve('378282246310005'),
  pm_card_discover: approve('6011111111111117'),
  pm_card_diners: approve('3056930009020004'),
  pm_card_jcb: approve('3566002020360505', { country: 'JP' }),
  pm_card_unionpay: approve('6200000000000005', { country: 'CN' }),
  pm_card_visa_cartesBancaires: approve('4000002500001001', { country: 'FR', network: 'cartes_bancaires' }),
  pm_card_mastercard_cartesBancaires: approve('5555552500001001', { country: 'FR', network: 'cartes_bancaires' }),
  pm_card_visa_debit_eftposAuCoBranded: approve('4000050360000001', { country: 'AU', funding: 'debit', network: 'eftpos_au' }),
  pm_card_mastercard_debit_eftposAuCoBranded: approve('5555050360000080', { country: 'AU', funding: 'debit', network: 'eftpos_au' }),
  // By country.
  ...Object.fromEntries(Object.entries(BY_COUNTRY).map(([c, [number, spec]]) => [`pm_card_${c}`, approve(number, spec)])),
  // Declines (the visa-less spellings are the tokens' names, accepted too).
  pm_card_visa_chargeDeclined: decline('4000000000000002', GENERIC),
  pm_card_chargeDeclined: decline('4000000000000002', GENERIC),
  pm_card_visa_chargeDeclinedInsufficientFunds: decline('4000000000009995', INSUFFICIENT),
  pm_card_chargeDeclinedInsufficientFunds: decline('4000000000009995', INSUFFICIENT),
  pm_card_visa_chargeDeclinedLostCard: decline('4000000000009987', LOST),
  pm_card_visa_chargeDeclinedStolenCard: decline('4000000000009979', STOLEN),
  pm_card_chargeDeclinedExpiredCard: decline('4000000000000069', EXPIRED),
  pm_card_visa_chargeDeclinedExpiredCard: decline('4000000000000069', EXPIRED),
  pm_card_chargeDeclinedIncorrectCvc: decline('4000000000000127', INCORRECT_CVC, { checks: { cvc_check: 'fail' } }),
  pm_card_visa_chargeDeclinedIncorrectCvc: decline('4000000000000127', INCORRECT_CVC, { checks: { cvc_check: 'fail' } }),
  pm_card_chargeDeclinedProcessingError: decline('4000000000000119', PROCESSING),
  pm_card_visa_chargeDeclinedProcessingError: decline('4000000000000119', PROCESSING),
  pm_card_visa_chargeDeclinedVelocityLimitExceeded: decline('4000000000006975', VELOCITY),
  pm_card_chargeDeclinedFraudulent: decline('4100000000000019', FRAUDULENT, { risk_level: 'highest' }),
  pm_card_visa_chargeDeclinedFraudulent: decline('4100000000000019', FRAUDULENT, { risk_level: 'highest' }),
  /** Attaches to a customer, then every charge is declined. */
  pm_card_chargeCustomerFail: { number: '4000000000000341', card: card('4000000000000341'), behaviour: { kind: 'decline', verifies: true, ...GENERIC } },
  // Fraud prevention (Radar).
  pm_card_radarBlock: decline('4100000000000019', BLOCKED, { risk_level: 'highest' }),
  pm_card_riskLevelHighest: decline('4000000000004954', BLOCKED, { risk_level: 'highest' }),
  pm_card_riskLevelElevated: approve('4000000000009235', { risk_level: 'elevated' }),
  pm_card_cvcCheckFail: approve('4000000000000101', { checks: { cvc_check: 'fail' } }),
  pm_card_avsZipFail: approve('4000000000000036', { checks: { address_postal_code_check: 'fail', address_line1_check: 'pass' } }),
  pm_card_avsLine1Fail: approve('4000000000000028', { checks: { address_line1_check: 'fail' } }),
  pm_card_avsFail: approve('4000000000000010', { checks: { address_line1_check: 'fail', address_postal_code_check: 'fail' } }),
  pm_card_avsUnchecked: approve('4000000000000044', { checks: { address_line1_check: 'unavailable', address_postal_code_check: 'unavailable' } }),
  // Disputes and refunds: the payment succeeds (Oncepay has no disputes nor asynchronous refund outcomes).
  pm_card_createDispute: approve('4000000000000259'),
  pm_card_createDisputeProductNotReceived: approve('4000000000002685'),
  pm_card_createDisputeInquiry: approve('4000000000001976'),
  pm_card_createMultipleDisputes: approve('4000000404000079'),
  pm_card_pendingRefund: approve('4000000000007726'),
  pm_card_refundFail: approve('4000000000005126'),
  // Available balance.
  pm_card_bypassPending: approve('4000000000000077'),
  pm_card_bypassPendingInternational: approve('4000003720000278', { country: 'IE' }),
  // 3-D Secure and authentication.
  pm_card_authenticationRequired: threeDS('4000002760003184', { country: 'DE' }),
  pm_card_authenticationRequiredOnSetup: threeDS('4000002500003155', { country: 'FR' }, undefined, true),
  pm_card_authenticationRequiredSetupForOffSession: threeDS('4000003800000446', { country: 'IT' }, undefined, true),
  pm_card_authenticationRequiredChargeDeclinedInsufficientFunds: threeDS('4000008260003178', { country: 'GB' }, INSUFFICIENT),
  pm_card_threeDSecure2Required: threeDS('4000000000003220'),
  pm_card_threeDSecureRequired: threeDS('4000000000003063'),
  pm_card_threeDSecureRequiredChargeDeclined: threeDS('4000008400001629', {}, GENERIC),
  pm_card_threeDSecureRequiredProcessingError: threeDS('4000008400001280', {}, PROCESSING),
  pm_card_threeDSecureOptional: approve('4000000000003055'),
  // Oncepay's fault cards.
  pm_card_oncepay_timeoutAfterCharge: { number: '4000000000000341', card: card('4000000000000341'), behaviour: { kind: 'timeout_after_charge' } },
  pm_card_oncepay_slow: { number: '4000000000001881', card: card('4000000000001881'), behaviour: { kind: 'slow', ms: 3000 } },
  pm_card_oncepay_errorBeforeCharge: { number: '4000000000000259', card: card('4000000000000259'), behaviour: { kind: 'error_before_charge' } },
};

/**
 * Stripe's documented test numbers that have no `pm_card_*` id (docs.stripe.com/testing: more
 * numbers per brand): they pay like pm_card_visa. Keyed by the acquirer's reference for them.
 */
export const NUMBER_ONLY_CARDS: Readonly<Record<string, TestCard>> = {
  'number:mastercard_2series': approve('2223003122003222'),
  'number:amex_2': approve('371449635398431'),
  'number:discover_2': approve('6011000990139424'),
  'number:discover_debit': approve('6011981111111113', { funding: 'debit' }),
  'number:diners_14': approve('36227206271667'),
  'number:bccard_dinacard': approve('6555900000604105', { brand: 'discover', country: 'KR' }),
  'number:unionpay_debit': approve('6200000000000047', { country: 'CN', funding: 'debit' }),
  'number:unionpay_19': approve('6205500000000000004', { country: 'CN' }),
};

export function findTestCard(paymentMethod: string): TestCard | undefined {
  return Object.prototype.hasOwnProperty.call(TEST_CARDS, paymentMethod) ? TEST_CARDS[paymentMethod] : undefined;
}

/** The test card the acquirer keeps under `ref` (a pm_card_* id or a number-only card). */
export function cardByRef(ref: string): TestCard | undefined {
  return findTestCard(ref) ?? (Object.prototype.hasOwnProperty.call(NUMBER_ONLY_CARDS, ref) ? NUMBER_ONLY_CARDS[ref] : undefined);
}

/**
 * Every documented number, with the reference the acquirer files it under: the first pm_card_* id
 * of that number in Stripe's own list (Oncepay's fault cards reuse numbers and are reachable only
 * by their ids), then the number-only cards.
 */
const BY_NUMBER: ReadonlyMap<string, string> = (() => {
  const byFingerprint = new Map<string, string>();
  const add = (ref: string, t: TestCard) => { if (!byFingerprint.has(t.card.fingerprint)) byFingerprint.set(t.card.fingerprint, ref); };
  for (const [ref, t] of Object.entries(TEST_CARDS)) if (!ref.startsWith('pm_card_oncepay_')) add(ref, t);
  for (const [ref, t] of Object.entries(NUMBER_ONLY_CARDS)) add(ref, t);
  return byFingerprint;
})();

/** The acquirer's reference for a documented test number, or undefined for any other number. */
export function refOfNumber(number: string): string | undefined {
  return BY_NUMBER.get(cardFingerprint(number));
}
