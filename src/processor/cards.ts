/**
 * The test payment methods: Stripe's test cards plus Oncepay's fault cards for retry drills.
 */
import type { CardDetails } from './types.ts';

export type CardBehaviour =
  | { kind: 'approve' }
  | { kind: 'decline'; code: string; decline_code?: string; message: string }
  | { kind: 'authentication_required' }
  /** The acquirer charges, then its answer is lost (the first attempt per downstream key times out). */
  | { kind: 'timeout_after_charge' }
  /** The acquirer fails with a 5xx before charging (first attempt per downstream key); a retry succeeds. */
  | { kind: 'error_before_charge' }
  /** The acquirer approves, but only after `ms` (to rehearse client timeouts and graceful shutdown). */
  | { kind: 'slow'; ms: number };

export interface TestCard {
  card: CardDetails;
  behaviour: CardBehaviour;
}

const card = (brand: string, last4: string, funding: CardDetails['funding'] = 'credit'): CardDetails => ({
  brand, last4, exp_month: 12, exp_year: 2034, funding, country: 'US',
});

const declined = (code: string, decline_code: string | undefined, message: string): CardBehaviour =>
  ({ kind: 'decline', code, decline_code, message });

export const TEST_CARDS: Readonly<Record<string, TestCard>> = {
  pm_card_visa: { card: card('visa', '4242'), behaviour: { kind: 'approve' } },
  pm_card_visa_debit: { card: card('visa', '5556', 'debit'), behaviour: { kind: 'approve' } },
  pm_card_mastercard: { card: card('mastercard', '4444'), behaviour: { kind: 'approve' } },
  pm_card_amex: { card: card('amex', '8431'), behaviour: { kind: 'approve' } },
  pm_card_visa_chargeDeclined: {
    card: card('visa', '0002'),
    behaviour: declined('card_declined', 'generic_decline', 'Your card was declined.'),
  },
  pm_card_visa_chargeDeclinedInsufficientFunds: {
    card: card('visa', '9995'),
    behaviour: declined('card_declined', 'insufficient_funds', 'Your card has insufficient funds.'),
  },
  pm_card_chargeDeclinedExpiredCard: {
    card: card('visa', '0069'),
    behaviour: declined('expired_card', 'expired_card', 'Your card has expired.'),
  },
  pm_card_chargeDeclinedProcessingError: {
    card: card('visa', '0119'),
    behaviour: declined('processing_error', 'processing_error', 'An error occurred while processing your card. Try again in a little bit.'),
  },
  pm_card_authenticationRequired: { card: card('visa', '3184'), behaviour: { kind: 'authentication_required' } },
  pm_card_oncepay_timeoutAfterCharge: { card: card('visa', '0341'), behaviour: { kind: 'timeout_after_charge' } },
  pm_card_oncepay_slow: { card: card('visa', '1881'), behaviour: { kind: 'slow', ms: 3000 } },
  pm_card_oncepay_errorBeforeCharge: { card: card('visa', '0259'), behaviour: { kind: 'error_before_charge' } },
};

export function findTestCard(paymentMethod: string): TestCard | undefined {
  return Object.prototype.hasOwnProperty.call(TEST_CARDS, paymentMethod) ? TEST_CARDS[paymentMethod] : undefined;
}
