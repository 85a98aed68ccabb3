/**
 * The legacy Charges API: POST /v1/charges with a source (a token, a customer's card, a payment
 * method) or a customer (its default source), capture and update. A charge is a command of three
 * phases, like a PaymentIntent's confirmation:
 *   begin (allocate the ch_ id, resolve the card: a token is used up, a customer's card must be its own)
 *   authorize at the processor with the charge id as downstream key (a sale, or a hold when capture=false)
 *   record (the charge, its balance transaction when captured, charge.succeeded / charge.failed).
 * A decline answers 402 card_error naming the failed charge, which is saved, as on Stripe. A card
 * that needs 3-D Secure cannot authenticate through this API: it is declined authentication_required.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Tx } from '../store/db.ts';
import { ApiError, invalidRequest, errorDocUrl } from '../errors.ts';
import { newId, nowSeconds } from '../ids.ts';
import {
  amount, boolean, clearable, currency, enumOf, expandParam, integer, metadata, nonEmptyString, object, optional, string, unsupported,
  type ParsedObject,
} from '../schema/params.ts';
import type { AuthorizeResult, CardDetails } from '../processor/types.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { emitEvent, previousAttributes } from '../events/outbox.ts';
import { REFUSED, shipping } from './payment_params.ts';
import { charges, type Charge } from './payment_objects.ts';
import { buildCharge } from './charges.ts';
import { recordBalanceTransaction } from './balance.ts';
import { liveCustomer } from './customers.ts';
import { buildPaymentMethod, resolvePaymentMethod, type PaymentMethod } from './payment_methods.ts';
import { usePaymentMethodFor } from './payment_method_use.ts';
import { consumeToken } from './tokens.ts';
import { legacyCardOf, type LegacyCard } from './legacy_card.ts';
import { render, type PaymentContext, type PaymentDeps } from './ports.ts';
import { formatAmount } from '../schema/money.ts';

const descriptor = () => string({ max: 22 });

export const createChargeParams = object({
  amount: amount(),
  currency: currency(),
  source: optional(nonEmptyString(255)),
  customer: optional(nonEmptyString(255)),
  capture: optional(boolean()),
  description: optional(string({ max: 40000 })),
  metadata: optional(metadata()),
  receipt_email: optional(string({ max: 800 })),
  shipping: optional(shipping()),
  statement_descriptor: optional(descriptor()),
  statement_descriptor_suffix: optional(descriptor()),
  transfer_group: optional(string({ max: 5000 })),
  application_fee: REFUSED.connect(),
  application_fee_amount: REFUSED.connect(),
  destination: REFUSED.connect(),
  on_behalf_of: REFUSED.connect(),
  transfer_data: REFUSED.connect(),
  radar_options: REFUSED.radar(),
  expand: expandParam(),
});

export const captureChargeParams = object({
  charge: nonEmptyString(255),
  amount: optional(integer({ min: 1 })),
  receipt_email: optional(string({ max: 800 })),
  statement_descriptor: optional(descriptor()),
  statement_descriptor_suffix: optional(descriptor()),
  transfer_group: optional(string({ max: 5000 })),
  application_fee: REFUSED.connect(),
  application_fee_amount: REFUSED.connect(),
  transfer_data: REFUSED.connect(),
  expand: expandParam(),
});

export const updateChargeParams = object({
  charge: nonEmptyString(255),
  customer: optional(nonEmptyString(255)),
  description: clearable(string({ max: 40000 })),
  metadata: optional(metadata()),
  receipt_email: clearable(string({ max: 800 })),
  shipping: clearable(shipping()),
  fraud_details: optional(object({ user_report: clearable(enumOf(['fraudulent', 'safe'] as const)) })),
  transfer_group: optional(string({ max: 5000 })),
  expand: expandParam(),
});

type CreateParams = ParsedObject<typeof createChargeParams.shape>;
type CaptureParams = ParsedObject<typeof captureChargeParams.shape>;
type UpdateParams = ParsedObject<typeof updateChargeParams.shape>;

/** Checks that need no database: a charge needs something to charge. */
export function checkCreateCharge(p: CreateParams): void {
  if (!p.source && !p.customer) throw invalidRequest('Must provide source or customer.', 'source', 'parameter_missing');
  if (p.source && !/^(tok|card|pm|src)_/.test(p.source)) {
    throw invalidRequest(`No such token: '${p.source}'. Pass a token (tok_visa...), a customer's card (card_...) or a payment method.`, 'source', 'resource_missing');
  }
  if (p.source?.startsWith('src_')) throw invalidRequest('Oncepay does not support Source objects (src_): the legacy Sources API is not part of it. Use a token or a card.', 'source', 'parameter_unsupported');
}

/** The card a charge pays with, as the begin phase resolved it. */
interface ChargeCard {
  paymentMethod: string;
  method: PaymentMethod;
  card: CardDetails;
  cardRef: string;
  /** The charge's `source`: the card (a token's, a customer's), or null for a payment method. */
  source: LegacyCard | null;
}

/** Resolves what a charge pays with (in the begin phase): a token is used up here. */
async function chargeCard(q: Tx, ctx: PaymentContext, p: CreateParams): Promise<ChargeCard> {
  const customer = p.customer ? await liveCustomer(q, ctx.accountId, p.customer, { param: 'customer' }) : null;
  const id = p.source ?? customer?.default_source;
  if (!id) throw invalidRequest('Cannot charge a customer that has no active card.', 'card', 'missing');
  if (id.startsWith('tok_')) {
    const t = await consumeToken(q, ctx.accountId, id, 'source');
    const method = buildPaymentMethod(t.cardId ?? newId('card'), t.card, { created: nowSeconds(), ...(t.billing ? { billing_details: t.billing } : {}) });
    return { paymentMethod: method.id, method, card: t.card, cardRef: t.ref, source: legacyCardOf(method) };
  }
  if (id.startsWith('card_')) {
    if (!customer) throw invalidRequest(`The card ${id} is a customer's card source: pass its customer to charge it.`, 'customer', 'parameter_missing');
    const r = await resolvePaymentMethod(q, ctx.accountId, id, { param: 'source' }).catch(() => undefined);
    if (!r || r.method.customer !== customer.id) throw invalidRequest(`Customer ${customer.id} does not have a linked source with ID ${id}.`, 'source', 'missing');
    return { paymentMethod: id, method: r.method, card: r.card, cardRef: r.cardRef, source: legacyCardOf(r.method) };
  }
  const r = await resolvePaymentMethod(q, ctx.accountId, id, { param: 'source', created: nowSeconds() });
  usePaymentMethodFor(r, customer?.id ?? null, 'source');
  return { paymentMethod: id, method: r.method, card: r.card, cardRef: r.cardRef, source: null };
}

/** Stripe's Charges API cannot authenticate a card: one that requires 3-D Secure is declined. */
const AUTHENTICATION_REQUIRED = {
  outcome: 'declined', code: 'card_declined', decline_code: 'authentication_required',
  message: 'Your card was declined. This transaction requires authentication.', advice_code: 'try_again_later',
} as const;

/** The card error of a declined legacy charge: it names the saved, failed charge. */
function chargeDeclined(charge: Charge, d: Extract<AuthorizeResult, { outcome: 'declined' }>): ApiError {
  return new ApiError(402, {
    type: 'card_error', code: d.code, ...(d.decline_code ? { decline_code: d.decline_code } : {}), ...(d.advice_code ? { advice_code: d.advice_code } : {}),
    ...(d.param ? { param: d.param } : {}), message: d.message, charge: charge.id, doc_url: errorDocUrl(d.code),
  });
}

export const createCharge: Command<CreateParams, PaymentDeps> = {
  name: 'charges.create',
  async run(ctx, p) {
    const plan = await ctx.atomic('begin', async (q) => {
      const c = await chargeCard(q, ctx, p);
      return { chargeId: newId('ch'), customer: p.customer ?? null, capture: p.capture ?? true, ...c };
    });
    const result = await ctx.foreign('authorize', () => ctx.deps.processor.authorize({
      accountId: ctx.accountId, downstreamKey: plan.chargeId, reference: plan.chargeId, paymentMethod: plan.paymentMethod, cardRef: plan.cardRef,
      amount: p.amount, currency: p.currency, capture: plan.capture, authenticated: false, offSession: false, setUpForOffSession: false,
    }));
    return ctx.finish('record', async (q) => {
      const answer = result.outcome === 'requires_action' ? AUTHENTICATION_REQUIRED : result;
      const now = nowSeconds();
      const charge = buildCharge({
        id: null, customer: plan.customer, description: p.description ?? null, receipt_email: p.receipt_email ?? null, shipping: p.shipping ?? null,
        statement_descriptor: p.statement_descriptor ?? null, statement_descriptor_suffix: p.statement_descriptor_suffix ?? null,
        transfer_group: p.transfer_group ?? null,
      }, {
        id: plan.chargeId, paymentMethod: plan.paymentMethod, card: plan.card, billingDetails: plan.method.billing_details, amount: p.amount,
        currency: p.currency, capture: plan.capture, authenticated: false, created: now,
      }, answer);
      charge.metadata = applyMetadata({}, p.metadata ?? {});
      charge.source = plan.source;
      if (charge.captured) {
        charge.balance_transaction = await recordBalanceTransaction(q, ctx.accountId, now, {
          amount: charge.amount, currency: charge.currency, source: charge.id, type: 'charge', description: charge.description,
        });
      }
      charges.insert(q, ctx.accountId, charge);
      emitEvent(q, ctx, answer.outcome === 'approved' ? 'charge.succeeded' : 'charge.failed', charge);
      if (answer.outcome === 'declined') return { status: 402, body: { error: chargeDeclined(charge, answer).body } };
      return { status: 200, body: await render(q, ctx, charge, p.expand) };
    });
  },
};

/** A legacy charge that may be captured now, or the refusal Stripe answers. */
function checkCapturable(charge: Charge, amountToCapture: number | undefined): void {
  if (charge.payment_intent) {
    throw invalidRequest(`Charge ${charge.id} belongs to PaymentIntent ${charge.payment_intent}: capture the PaymentIntent instead.`, 'charge');
  }
  if (charge.captured) throw invalidRequest(`Charge ${charge.id} has already been captured.`, 'charge', 'charge_already_captured');
  if (charge.status !== 'succeeded') throw invalidRequest(`Charge ${charge.id} has failed: there is nothing to capture.`, 'charge');
  if (charge.amount_refunded > 0) throw invalidRequest(`Charge ${charge.id} has been refunded: its authorization was released.`, 'charge', 'charge_already_refunded');
  if (amountToCapture !== undefined && amountToCapture > charge.amount) {
    throw invalidRequest(`The amount to capture (${formatAmount(amountToCapture, charge.currency)}) is greater than the charge's amount (${formatAmount(charge.amount, charge.currency)}).`, 'amount', 'amount_too_large');
  }
}

export const captureCharge: Command<CaptureParams, PaymentDeps> = {
  name: 'charges.capture',
  async run(ctx, p) {
    const plan = await ctx.atomic('begin', async (q) => {
      const charge = await charges.get(q, ctx.accountId, p.charge, { forUpdate: true });
      checkCapturable(charge, p.amount);
      return { chargeId: charge.id, amount: p.amount ?? charge.amount, currency: charge.currency };
    });
    await ctx.foreign('capture', () => ctx.deps.processor.capture({
      accountId: ctx.accountId, downstreamKey: `${plan.chargeId}:capture`, reference: plan.chargeId,
      authorization: plan.chargeId, amount: plan.amount, currency: plan.currency,
    }));
    return ctx.finish('record', async (q) => {
      const charge = await charges.get(q, ctx.accountId, plan.chargeId, { forUpdate: true });
      // Another request captured it meanwhile (the acquirer captured once: the same downstream key).
      checkCapturable(charge, undefined);
      const now = nowSeconds();
      charge.captured = true;
      charge.amount_captured = plan.amount;
      // As for a PaymentIntent: the uncaptured rest goes back to the customer (amount_refunded, no balance transaction).
      charge.amount_refunded += charge.amount - plan.amount;
      charge.refunded = charge.amount_refunded >= charge.amount;
      if (p.receipt_email !== undefined) charge.receipt_email = p.receipt_email;
      if (p.statement_descriptor !== undefined) charge.statement_descriptor = p.statement_descriptor;
      if (p.statement_descriptor_suffix !== undefined) charge.statement_descriptor_suffix = p.statement_descriptor_suffix;
      if (p.transfer_group !== undefined) charge.transfer_group = p.transfer_group;
      charge.balance_transaction = await recordBalanceTransaction(q, ctx.accountId, now, {
        amount: plan.amount, currency: plan.currency, source: charge.id, type: 'charge', description: charge.description,
      });
      charges.update(q, ctx.accountId, charge);
      emitEvent(q, ctx, 'charge.captured', charge);
      return { status: 200, body: await render(q, ctx, charge, p.expand) };
    });
  },
};

export const updateCharge: Command<UpdateParams, PaymentDeps> = {
  name: 'charges.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const before = await charges.get(q, ctx.accountId, p.charge, { forUpdate: true });
    const charge: Charge = structuredClone(before);
    if (p.customer !== undefined) {
      if (charge.customer && charge.customer !== p.customer) throw invalidRequest(`Charge ${charge.id} already belongs to customer ${charge.customer}.`, 'customer');
      await liveCustomer(q, ctx.accountId, p.customer, { param: 'customer' });
      charge.customer = p.customer;
    }
    if (p.description !== undefined) charge.description = p.description;
    if (p.metadata !== undefined) charge.metadata = applyMetadata(charge.metadata, p.metadata);
    if (p.receipt_email !== undefined) charge.receipt_email = p.receipt_email;
    if (p.shipping !== undefined) charge.shipping = p.shipping;
    if (p.transfer_group !== undefined) charge.transfer_group = p.transfer_group;
    if (p.fraud_details?.user_report !== undefined) charge.fraud_details = p.fraud_details.user_report ? { user_report: p.fraud_details.user_report } : {};
    const previous = previousAttributes(before, charge);
    if (Object.keys(previous).length > 0) {
      charges.update(q, ctx.accountId, charge);
      emitEvent(q, ctx, 'charge.updated', charge, previous);
    }
    return { status: 200, body: await render(q, ctx, charge, p.expand) };
  }),
};
