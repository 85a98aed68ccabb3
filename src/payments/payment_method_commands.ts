/**
 * PaymentMethods: create (from a card number or a token), update, attach, detach, as commands.
 * A card number goes to the acquirer's vault (src/processor/card_numbers.ts) inside the command's
 * phase and is dropped there; the stored method keeps brand, last4, expiry and fingerprint.
 * Attaching checks the card with the acquirer first (a zero-amount verification with a downstream
 * key), as Stripe does: a declined card cannot be attached.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Tx } from '../store/db.ts';
import { invalidRequest } from '../errors.ts';
import { newId, nowSeconds } from '../ids.ts';
import { clearable, enumOf, expandParam, integer, metadata, nonEmptyString, object, optional, string, unsupported, type ParsedObject } from '../schema/params.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { emitEvent, previousAttributes } from '../events/outbox.ts';
import { address, REFUSED } from './payment_params.ts';
import { liveCustomer } from './customers.ts';
import { render, type PaymentContext, type PaymentDeps } from './ports.ts';
import {
  buildPaymentMethod, insertPaymentMethod, paymentMethods, resolvePaymentMethod, NO_BILLING_DETAILS, type BillingDetails, type PaymentMethod,
  type ResolvedPaymentMethod,
} from './payment_methods.ts';
import { detachSaved } from './payment_method_use.ts';
import { planAttach, recordAttach, verifyForAttach } from './payment_method_attach.ts';
import { consumeToken } from './tokens.ts';
import { vaultOrReject } from './card_vault.ts';

/** Stripe's payment method types besides cards: named, and refused with the reason. */
export const OTHER_TYPES = ['alma', 'billie', 'bizum', 'crypto', 'custom', 'kakao_pay', 'kr_card', 'mb_way', 'naver_pay', 'nz_bank_account',
  'pay_by_bank', 'payco', 'paypay', 'payto', 'samsung_pay', 'satispay', 'scalapay', 'sequra', 'sunbit', 'upi', 'acss_debit', 'affirm', 'afterpay_clearpay', 'alipay', 'amazon_pay', 'au_becs_debit', 'bacs_debit', 'bancontact', 'blik',
  'boleto', 'cashapp', 'customer_balance', 'eps', 'fpx', 'giropay', 'grabpay', 'ideal', 'interac_present', 'klarna', 'konbini', 'link',
  'mobilepay', 'multibanco', 'oxxo', 'p24', 'paynow', 'paypal', 'pix', 'promptpay', 'revolut_pay', 'sepa_debit', 'sofort', 'swish', 'twint',
  'us_bank_account', 'wechat_pay', 'zip'];
const CARDS_ONLY = 'Oncepay takes cards only: other payment method types are not part of it.';

export const billingDetailsParam = () => object({
  address: clearable(address()),
  email: clearable(string({ max: 800 })),
  name: clearable(string({ max: 5000 })),
  phone: clearable(string({ max: 5000 })),
  tax_id: clearable(string({ max: 5000 })),
});

type BillingParams = ParsedObject<ReturnType<typeof billingDetailsParam>['shape']>;

function applyBilling(current: BillingDetails, p: BillingParams | undefined): BillingDetails {
  if (!p) return current;
  const out = { ...current };
  for (const k of ['address', 'email', 'name', 'phone', 'tax_id'] as const) if (p[k] !== undefined) (out[k] as unknown) = p[k];
  return out;
}

/** Card digits: kept as a string (with spaces or dashes removed later), never logged by the schema. */
const cardNumber = () => string({ max: 30 });
/** exp_year as two or four digits. */
const expYear = () => integer({ min: 0, max: 9999 });

const cardParam = object({
  number: optional(cardNumber()),
  exp_month: optional(integer({ min: 0, max: 99 })),
  exp_year: optional(expYear()),
  cvc: optional(string({ max: 10 })),
  token: optional(nonEmptyString(255)),
  networks: optional(object({ preferred: optional(string({ max: 50 })) })),
});

export const createPaymentMethodParams = object({
  type: optional(enumOf(['card', ...OTHER_TYPES] as const)),
  card: optional(cardParam),
  billing_details: optional(billingDetailsParam()),
  metadata: optional(metadata()),
  allow_redisplay: optional(enumOf(['always', 'limited', 'unspecified'] as const)),
  customer: unsupported('cloning a customer\'s payment method for a connected account is Connect, which is not part of Oncepay.'),
  payment_method: unsupported('cloning a payment method for a connected account is Connect, which is not part of Oncepay.'),
  radar_options: REFUSED.radar(),
  ...Object.fromEntries(OTHER_TYPES.map((t) => [t, unsupported(CARDS_ONLY)])),
  expand: expandParam(),
});

export const updatePaymentMethodParams = object({
  payment_method: nonEmptyString(255),
  billing_details: optional(billingDetailsParam()),
  metadata: optional(metadata()),
  allow_redisplay: optional(enumOf(['always', 'limited', 'unspecified'] as const)),
  card: optional(object({ exp_month: optional(integer({ min: 1, max: 12 })), exp_year: optional(expYear()), networks: optional(object({ preferred: clearable(string({ max: 50 })) })) })),
  us_bank_account: unsupported(CARDS_ONLY),
  expand: expandParam(),
});

export const attachPaymentMethodParams = object({
  payment_method: nonEmptyString(255),
  customer: optional(nonEmptyString(255)),
  customer_account: REFUSED.customerAccount(),
  expand: expandParam(),
});

export const detachPaymentMethodParams = object({ payment_method: nonEmptyString(255), expand: expandParam() });

type CreateParams = ParsedObject<typeof createPaymentMethodParams.shape>;

/** Checks on create's parameters that need no database. */
export function checkCreatePaymentMethod(p: CreateParams): void {
  if (!p.type) throw invalidRequest('Missing required param: type.', 'type', 'parameter_missing');
  if (p.type !== 'card') throw invalidRequest(`Oncepay does not support payment method type '${p.type}': ${CARDS_ONLY}`, 'type', 'parameter_unsupported');
  const c = p.card;
  if (!c) throw invalidRequest('Missing required param: card.', 'card', 'parameter_missing');
  if (c.token) {
    if (c.number !== undefined) throw invalidRequest('You cannot pass both card[token] and card[number]: give the card\'s details or a token of them.', 'card[number]');
    return;
  }
  for (const k of ['number', 'exp_month', 'exp_year'] as const) if (c[k] === undefined) throw invalidRequest(`Missing required param: card[${k}].`, `card[${k}]`, 'parameter_missing');
}

/** The card a create names: vaulted from its details, or the one a token holds (the token is used up). */
async function cardFor(q: Tx, ctx: PaymentContext, p: CreateParams, billing: BillingDetails) {
  const c = p.card!;
  if (c.token) return consumeToken(q, ctx.accountId, c.token, 'card[token]');
  return vaultOrReject({
    number: c.number!, exp_month: c.exp_month!, exp_year: c.exp_year!, cvc: c.cvc,
    address_line1: billing.address?.line1 ?? null, address_zip: billing.address?.postal_code ?? null,
  });
}

export const createPaymentMethod: Command<CreateParams, PaymentDeps> = {
  name: 'payment_methods.create',
  run: (ctx, p) => ctx.finish('create', async (q) => {
    const billing = applyBilling({ ...NO_BILLING_DETAILS }, p.billing_details);
    const { ref, card } = await cardFor(q, ctx, p, billing);
    const pm = buildPaymentMethod(newId('pm'), card, {
      created: nowSeconds(), billing_details: billing, metadata: applyMetadata({}, p.metadata ?? {}), allow_redisplay: p.allow_redisplay,
    });
    insertPaymentMethod(q, ctx.accountId, pm, ref);
    return { status: 200, body: await render(q, ctx, pm, p.expand) };
  }),
};

/** A saved payment method, locked, or the 404 (or a refusal for a test id, which cannot change). */
async function lockSaved(q: Tx, accountId: string, id: string, action: string): Promise<ResolvedPaymentMethod> {
  const r = await resolvePaymentMethod(q, accountId, id, { forUpdate: true });
  if (!r.saved) throw invalidRequest(`You cannot ${action} the test payment method ${id}: it is shared by everyone. Attach it to a customer to get a saved copy, or create one.`, 'payment_method');
  return r;
}

export const updatePaymentMethod: Command<ParsedObject<typeof updatePaymentMethodParams.shape>, PaymentDeps> = {
  name: 'payment_methods.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const { method } = await lockSaved(q, ctx.accountId, p.payment_method, 'update');
    const pm: PaymentMethod = structuredClone(method);
    pm.billing_details = applyBilling(pm.billing_details, p.billing_details);
    if (p.metadata !== undefined) pm.metadata = applyMetadata(pm.metadata, p.metadata);
    if (p.allow_redisplay !== undefined) pm.allow_redisplay = p.allow_redisplay;
    if (p.card?.exp_month !== undefined) pm.card.exp_month = p.card.exp_month;
    if (p.card?.exp_year !== undefined) pm.card.exp_year = p.card.exp_year < 100 ? 2000 + p.card.exp_year : p.card.exp_year;
    if (p.card?.networks?.preferred !== undefined) pm.card.networks.preferred = p.card.networks.preferred;
    const previous = previousAttributes(method, pm);
    if (Object.keys(previous).length > 0) {
      paymentMethods.update(q, ctx.accountId, pm);
      emitEvent(q, ctx, 'payment_method.updated', pm, previous);
    }
    return { status: 200, body: await render(q, ctx, pm, p.expand) };
  }),
};

export const attachPaymentMethod: Command<ParsedObject<typeof attachPaymentMethodParams.shape>, PaymentDeps> = {
  name: 'payment_methods.attach',
  async run(ctx, p) {
    if (!p.customer) throw invalidRequest('Missing required param: customer.', 'customer', 'parameter_missing');
    const customer = p.customer;
    const plan = await ctx.atomic('plan', async (q) => {
      await liveCustomer(q, ctx.accountId, customer, { param: 'customer' });
      return planAttach(q, ctx.accountId, p.payment_method, customer);
    });
    await verifyForAttach(ctx, plan, customer);
    return ctx.finish('record', async (q) => {
      const pm = await recordAttach(q, ctx, plan, customer);
      return { status: 200, body: await render(q, ctx, pm, p.expand) };
    });
  },
};

export const detachPaymentMethod: Command<ParsedObject<typeof detachPaymentMethodParams.shape>, PaymentDeps> = {
  name: 'payment_methods.detach',
  run: (ctx, p) => ctx.finish('detach', async (q) => {
    const { method } = await lockSaved(q, ctx.accountId, p.payment_method, 'detach');
    const detached = await detachSaved(q, ctx, method);
    return { status: 200, body: await render(q, ctx, detached, p.expand) };
  }),
};

/** The card check and its decline error live with attaching (payment_method_attach.ts); setups use them from here too. */
export { verificationDeclined, verifyCard } from './payment_method_attach.ts';
export { cardRejected, vaultOrReject } from './card_vault.ts';
