/**
 * The acquirer's card vault, for the test acquirer: a card number comes in, a reference and the
 * card's public details (brand, last4, funding, country, fingerprint) go out. The number itself is
 * dropped here and goes nowhere else: no table, log, event or error ever holds it.
 *
 * Like Stripe in test mode, only the documented test numbers are cards: a well-formed number that
 * is not one of them is declined as a live card (`test_mode_live_card`).
 */
import type { CardDetails, CheckResult } from './types.ts';
import { cardByRef, refOfNumber } from './cards.ts';

/** What a client sends for a card (PaymentMethod card[...], Token card[...], a source hash). */
export interface CardInput {
  number: string;
  exp_month: number;
  exp_year: number;
  cvc?: string;
  /** The billing address lines the address checks run on (a check is null when its line is missing). */
  address_line1?: string | null;
  address_zip?: string | null;
}

/** A card refused before it is stored: Stripe's card_error codes for bad card data. */
export class CardRejected extends Error {
  constructor(readonly code: string, message: string, readonly param: string, readonly declineCode?: string) { super(message); }
}

/** The stored reference and the card's details, the number gone. */
export interface VaultedCard {
  ref: string;
  card: CardDetails;
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return sum % 10 === 0;
}

/** The expiry as Stripe checks it: a month 1-12, a year not past, a month not past this year. */
function checkExpiry(month: number, year: number, now: Date): void {
  if (!Number.isInteger(month) || month < 1 || month > 12) throw new CardRejected('invalid_expiry_month', 'Your card\'s expiration month is invalid.', 'exp_month');
  const full = year < 100 ? 2000 + year : year;
  const thisYear = now.getUTCFullYear();
  if (!Number.isInteger(year) || full < thisYear || full > thisYear + 50) throw new CardRejected('invalid_expiry_year', 'Your card\'s expiration year is invalid.', 'exp_year');
  if (full === thisYear && month < now.getUTCMonth() + 1) throw new CardRejected('invalid_expiry_month', 'Your card\'s expiration month is invalid.', 'exp_month');
}

/** Checks a card and files it under its test card's reference; the number is not kept. */
export function vaultCard(input: CardInput, now = new Date()): VaultedCard {
  const digits = input.number.replace(/[\s-]/g, '');
  if (!/^\d{12,19}$/.test(digits) || !luhnValid(digits)) throw new CardRejected('incorrect_number', 'Your card number is incorrect.', 'number');
  checkExpiry(input.exp_month, input.exp_year, now);
  const ref = refOfNumber(digits);
  if (!ref) {
    throw new CardRejected('card_declined', 'Your card was declined. Your request was in test mode, but used a non test (live) card. For a list of valid test cards, visit: https://docs.stripe.com/testing.', 'number', 'test_mode_live_card');
  }
  const brand = cardByRef(ref)!.card.brand;
  const cvcLength = brand === 'amex' ? 4 : 3;
  if (input.cvc !== undefined && !new RegExp(`^\\d{${cvcLength}}$`).test(input.cvc)) {
    throw new CardRejected('invalid_cvc', 'Your card\'s security code is invalid.', 'cvc');
  }
  const test = cardByRef(ref)!.card;
  // A check runs only on what was given (a card without a CVC was never checked); it then has the test card's result.
  const checked = (given: unknown, result: CheckResult | null): CheckResult | null => (given ? result ?? 'pass' : null);
  return {
    ref,
    card: {
      ...test, exp_month: input.exp_month, exp_year: input.exp_year < 100 ? 2000 + input.exp_year : input.exp_year,
      checks: {
        address_line1_check: checked(input.address_line1, test.checks.address_line1_check),
        address_postal_code_check: checked(input.address_zip, test.checks.address_postal_code_check),
        cvc_check: checked(input.cvc, test.checks.cvc_check),
      },
    },
  };
}
