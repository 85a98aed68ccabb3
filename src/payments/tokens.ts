/**
 * Card tokens: Stripe's ready-made test tokens (`tok_visa`, `tok_chargeDeclined`...: each names
 * the test card of the same name, pm_card_visa...) and the single-use tokens POST /v1/tokens
 * makes from a card number. Using one up gives the card it holds, vaulted.
 */
import type { Tx } from '../store/db.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import { cardByRef, findTestCard } from '../processor/cards.ts';
import type { VaultedCard } from '../processor/card_numbers.ts';

/** The test card a ready-made token names (tok_visa -> pm_card_visa), or undefined. */
export function testTokenRef(id: string): string | undefined {
  if (!id.startsWith('tok_')) return undefined;
  const ref = `pm_card_${id.slice(4)}`;
  return findTestCard(ref) && !ref.startsWith('pm_card_oncepay_') ? ref : undefined;
}

interface TokenRow { card_ref: string; used: boolean; data: { card: { exp_month: number; exp_year: number; cvc_check: VaultedCard['card']['checks']['cvc_check']; address_line1_check: VaultedCard['card']['checks']['address_line1_check']; address_zip_check: VaultedCard['card']['checks']['address_postal_code_check'] } } }

/**
 * Uses a token up (in the caller's phase): a ready-made one any number of times, a made one once,
 * as Stripe allows. Answers the card it holds.
 */
export async function consumeToken(q: Tx, accountId: string, id: string, param: string): Promise<VaultedCard> {
  const testRef = testTokenRef(id);
  if (testRef) return { ref: testRef, card: cardByRef(testRef)!.card };
  const { rows } = await q.query<TokenRow>('SELECT card_ref, used, data FROM tokens WHERE account_id = $1 AND id = $2 FOR UPDATE', [accountId, id]);
  const row = rows[0];
  if (!row) throw resourceMissing('token', id, param);
  if (row.used) throw invalidRequest(`You cannot use a Stripe token more than once: ${id}.`, param, 'token_already_used');
  q.write('UPDATE tokens SET used = true, data = $3 WHERE account_id = $1 AND id = $2', [accountId, id, JSON.stringify({ ...row.data, used: true })]);
  const c = row.data.card;
  const test = cardByRef(row.card_ref)!.card;
  return {
    ref: row.card_ref,
    card: { ...test, exp_month: c.exp_month, exp_year: c.exp_year, checks: { address_line1_check: c.address_line1_check, address_postal_code_check: c.address_zip_check, cvc_check: c.cvc_check } },
  };
}
