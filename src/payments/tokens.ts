/**
 * Card tokens: Stripe's ready-made test tokens (`tok_visa`, `tok_chargeDeclined`...: each names
 * the test card of the same name, pm_card_visa...) and the single-use tokens POST /v1/tokens
 * makes from a card number. Using one up gives the card it holds, vaulted.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Queryable, Tx } from '../store/db.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import { newId, nowSeconds } from '../ids.ts';
import { cardByRef, findTestCard } from '../processor/cards.ts';
import type { VaultedCard } from '../processor/card_numbers.ts';
import { ObjectTable } from '../store/object_table.ts';
import { expandParam, integer, metadata, object, optional, string, unsupported, type ParsedObject, type Schema } from '../schema/params.ts';
import { buildPaymentMethod, NO_BILLING_DETAILS, type BillingDetails } from './payment_methods.ts';
import { legacyCardOf, type LegacyCard } from './legacy_card.ts';
import { vaultOrReject } from './card_vault.ts';
import type { PaymentDeps } from './ports.ts';

/** Documented token names whose test card is spelled differently (Stripe's visa-only decline cards). */
const TOKEN_ALIASES: Record<string, string> = {
  tok_chargeDeclinedLostCard: 'pm_card_visa_chargeDeclinedLostCard',
  tok_chargeDeclinedStolenCard: 'pm_card_visa_chargeDeclinedStolenCard',
  tok_chargeDeclinedVelocityLimitExceeded: 'pm_card_visa_chargeDeclinedVelocityLimitExceeded',
};

/** The test card a ready-made token names (tok_visa -> pm_card_visa), or undefined. */
export function testTokenRef(id: string): string | undefined {
  if (!id.startsWith('tok_')) return undefined;
  const ref = TOKEN_ALIASES[id] ?? `pm_card_${id.slice(4)}`;
  return findTestCard(ref) && !ref.startsWith('pm_card_oncepay_') ? ref : undefined;
}

/** Stripe's Token (type card). */
export interface Token {
  id: string;
  object: 'token';
  card: LegacyCard;
  client_ip: string | null;
  created: number;
  livemode: false;
  type: 'card';
  used: boolean;
}

export const tokens = new ObjectTable<Token>('tokens', 'token');

/** A card's hash as the legacy API takes it (a token's card[...], a source hash). */
/** A legacy card's holder fields (name and address_*), as tokens, sources and their updates take them. */
export const legacyHolderShape = {
  name: optional(string({ max: 5000 })),
  address_line1: optional(string({ max: 5000 })),
  address_line2: optional(string({ max: 5000 })),
  address_city: optional(string({ max: 5000 })),
  address_state: optional(string({ max: 5000 })),
  address_zip: optional(string({ max: 5000 })),
  address_country: optional(string({ max: 5000 })),
};

export const legacyCardShape = {
  // First: a refused parameter is refused before the others are checked.
  currency: unsupported('a card\'s currency is for payouts to a connected account\'s debit card: Connect is not part of Oncepay.'),
  number: string({ max: 30 }),
  exp_month: integer({ min: 0, max: 99 }),
  exp_year: integer({ min: 0, max: 9999 }),
  cvc: optional(string({ max: 10 })),
  ...legacyHolderShape,
  networks: optional(object({ preferred: optional(string({ max: 50 })) })),
};

export const legacyCardParam = () => object(legacyCardShape);
export type LegacyCardInput = ParsedObject<typeof legacyCardShape>;

/** The billing details a legacy card hash carries (name and address_*). */
export function billingOfLegacy(c: Partial<LegacyCardInput>): BillingDetails {
  const address = { city: c.address_city ?? null, country: c.address_country ?? null, line1: c.address_line1 ?? null, line2: c.address_line2 ?? null,
    postal_code: c.address_zip ?? null, state: c.address_state ?? null };
  const any = Object.values(address).some((v) => v !== null);
  return { ...NO_BILLING_DETAILS, name: c.name ?? null, address: any ? address : null };
}

/** Vaults a legacy card hash: the card, its billing details, or the card_error naming `${prefix}[field]`. */
export function vaultLegacyCard(c: LegacyCardInput, prefix: string) {
  const vaulted = vaultOrReject({
    number: c.number, exp_month: c.exp_month, exp_year: c.exp_year, cvc: c.cvc, address_line1: c.address_line1 ?? null, address_zip: c.address_zip ?? null,
  }, prefix);
  return { ...vaulted, billing: billingOfLegacy(c) };
}

/** A legacy card hash, or a string (a token or an id) where the legacy API takes either. */
export function cardOrId<S extends Schema<unknown>>(hash: S): Schema<string | NonNullable<ReturnType<S['parse']>>> {
  const id = string({ max: 255 });
  return {
    required: true,
    parse: (v, path) => (typeof v === 'string' ? id.parse(v, path) : hash.parse(v, path)) as string | NonNullable<ReturnType<S['parse']>>,
    jsonSchema: () => ({ anyOf: [{ type: 'string' }, hash.jsonSchema()] }),
  };
}

export const createTokenParams = object({
  card: optional(cardOrId(legacyCardParam())),
  customer: unsupported('a token of a customer\'s card is for sharing it with a connected account: Connect is not part of Oncepay.'),
  bank_account: unsupported('bank account tokens are not part of Oncepay: it takes cards only.'),
  account: unsupported('account tokens are Connect, which is not part of Oncepay.'),
  person: unsupported('person tokens are Connect, which is not part of Oncepay.'),
  pii: unsupported('PII tokens (id_number) are not part of Oncepay: it takes cards only.'),
  cvc_update: unsupported('CVC update tokens are not part of Oncepay.'),
  metadata: optional(metadata()),
  expand: expandParam(),
});

type CreateTokenParams = ParsedObject<typeof createTokenParams.shape>;

export function checkCreateToken(p: CreateTokenParams): void {
  if (p.card === undefined) throw invalidRequest('Missing required param: card.', 'card', 'parameter_missing');
  if (typeof p.card === 'string') {
    throw invalidRequest('Oncepay does not support \'card\' as an id: tokenizing a saved card for a connected account is Connect, which is not part of Oncepay. Pass the card\'s details (card[number], card[exp_month], card[exp_year]).', 'card', 'parameter_unsupported');
  }
}

export const createToken: Command<CreateTokenParams, PaymentDeps> = {
  name: 'tokens.create',
  run: (ctx, p) => ctx.finish('create', async (q) => {
    const c = p.card as LegacyCardInput;
    const { ref, card, billing } = vaultLegacyCard(c, 'card');
    const created = nowSeconds();
    const pm = buildPaymentMethod(newId('card'), card, { created, billing_details: billing });
    const token: Token = { id: newId('tok'), object: 'token', card: legacyCardOf(pm), client_ip: null, created, livemode: false, type: 'card', used: false };
    tokens.insert(q, ctx.accountId, token, { card_ref: ref });
    return { status: 200, body: token };
  }),
};

/** A token for GET: a made one, or a ready-made one's token (its card a fresh rendering of the test card). */
export async function retrieveToken(q: Queryable, accountId: string, id: string): Promise<Token> {
  const testRef = testTokenRef(id);
  if (testRef) {
    const pm = buildPaymentMethod(`card_${id.slice(4)}`.slice(0, 60), cardByRef(testRef)!.card, { created: 0 });
    return { id, object: 'token', card: legacyCardOf(pm), client_ip: null, created: 0, livemode: false, type: 'card', used: false };
  }
  const token = await tokens.find(q, accountId, id);
  if (!token) throw resourceMissing('token', id);
  return token;
}

/** The card a token holds: vaulted, with the billing details and the card id a made token carries. */
export interface TokenCard extends VaultedCard {
  /** A made token's card id (a source made from it keeps it, as on Stripe); none for a ready-made one. */
  cardId?: string;
  billing?: BillingDetails;
}

interface TokenRow { card_ref: string; used: boolean; data: Token }

/**
 * Uses a token up (in the caller's phase): a ready-made one any number of times, a made one once,
 * as Stripe allows. Answers the card it holds.
 */
export async function consumeToken(q: Tx, accountId: string, id: string, param: string): Promise<TokenCard> {
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
    ref: row.card_ref, cardId: c.id,
    billing: billingOfLegacy({
      name: c.name ?? undefined, address_line1: c.address_line1 ?? undefined, address_line2: c.address_line2 ?? undefined,
      address_city: c.address_city ?? undefined, address_state: c.address_state ?? undefined, address_zip: c.address_zip ?? undefined,
      address_country: c.address_country ?? undefined,
    }),
    card: {
      ...test, exp_month: c.exp_month, exp_year: c.exp_year, fingerprint: c.fingerprint,
      checks: { address_line1_check: c.address_line1_check as never, address_postal_code_check: c.address_zip_check as never, cvc_check: c.cvc_check as never },
    },
  };
}
