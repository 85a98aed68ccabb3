/**
 * Handing a card a client sent to the acquirer's vault (src/processor/card_numbers.ts), with bad
 * card data answered as Stripe does: a 402 card_error naming the card field. Shared by payment
 * methods, tokens and sources; the number itself goes no further than the vault.
 */
import { ApiError, errorDocUrl } from '../errors.ts';
import { CardRejected, vaultCard, type CardInput } from '../processor/card_numbers.ts';

/** Stripe's card_error for bad card data, naming the card field. 402, like every card error. */
export function cardRejected(e: CardRejected, prefix = 'card'): ApiError {
  return new ApiError(402, {
    type: 'card_error', code: e.code, ...(e.declineCode ? { decline_code: e.declineCode } : {}), message: e.message,
    param: prefix ? `${prefix}[${e.param}]` : e.param, doc_url: errorDocUrl(e.code),
  });
}

/** Vaults a card, turning bad card data into its card_error (the number never reaches the error). */
export function vaultOrReject(input: CardInput, prefix = 'card') {
  try {
    return vaultCard(input);
  } catch (e) {
    if (e instanceof CardRejected) throw cardRejected(e, prefix);
    throw e;
  }
}
