/**
 * Refunds: begin (lock the charge, reserve the amount as a pending refund so concurrent refunds
 * can never exceed what was captured), refund at the processor with the refund id as downstream
 * key, record (refund succeeded, charge totals, balance transaction, response).
 *
 * The pending row is only Oncepay's reservation while the processor answers: a card refund is
 * created `succeeded` (Stripe's refunds guide: card refunds in test mode succeed at once), so the
 * record phase emits `charge.refunded` and then `refund.created` carrying the succeeded refund,
 * and nothing shows it pending. A later update (metadata) emits `refund.updated` and, as
 * Stripe does for card refunds, `charge.refund.updated`.
 */
import type { Command } from '../idempotency/engine.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import { newId, nowSeconds } from '../ids.ts';
import { amount, currency, enumOf, expandParam, metadata, nonEmptyString, object, optional, string, type ParsedObject } from '../schema/params.ts';
import { REFUSED } from './payment_params.ts';
import { charges, paymentIntents, refunds, type Refund } from './payment_objects.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { recordBalanceTransaction } from './balance.ts';
import { claimExternalId, payloadFingerprint } from './external_ids.ts';
import { formatAmount } from '../schema/money.ts';
import { emitEvent } from '../events/outbox.ts';
import { render, type PaymentDeps } from './ports.ts';

export const createRefundParams = object({
  charge: optional(nonEmptyString(255)),
  payment_intent: optional(nonEmptyString(255)),
  amount: optional(amount()),
  reason: optional(enumOf(['duplicate', 'fraudulent', 'requested_by_customer'] as const)),
  metadata: optional(metadata()),
  currency: optional(currency()),
  customer: optional(nonEmptyString(255)),
  instructions_email: optional(string({ max: 800 })),
  origin: REFUSED.cashBalance(),
  refund_application_fee: REFUSED.connect(),
  reverse_transfer: REFUSED.connect(),
  external_id: optional(nonEmptyString(255)),
  expand: expandParam(),
});

export const updateRefundParams = object({
  refund: nonEmptyString(255),
  metadata: optional(metadata()),
  expand: expandParam(),
});

type CreateParams = ParsedObject<typeof createRefundParams.shape>;
type UpdateParams = ParsedObject<typeof updateRefundParams.shape>;

export function checkRefundTarget(p: CreateParams): void {
  if (!p.charge && !p.payment_intent) throw invalidRequest('One of the following params should be provided for this request: payment_intent or charge.', 'charge', 'parameter_missing');
  if (p.charge && p.payment_intent) throw invalidRequest('You cannot specify both charge and payment_intent. Pass one of them.', 'payment_intent', 'parameters_exclusive');
}

export const createRefund: Command<CreateParams, PaymentDeps> = {
  name: 'refunds.create',
  async run(ctx, p) {
    const plan = await ctx.atomic('begin', async (q) => {
      const id = newId('re');
      if (p.external_id) {
        const existing = await claimExternalId(q, ctx.accountId, 'refund', p.external_id, id, payloadFingerprint(p), ctx.idempotencyKey);
        if (existing) return { existing, refund: id, charge: '', amount: 0, currency: '' };
      }
      let chargeId = p.charge;
      if (p.payment_intent) {
        const pi = await paymentIntents.get(q, ctx.accountId, p.payment_intent, { param: 'payment_intent' });
        if (pi.status !== 'succeeded' || !pi.latest_charge) {
          throw invalidRequest(`This PaymentIntent (${pi.id}) does not have a successful charge to refund (its status is ${pi.status}).`, 'payment_intent', 'charge_not_refundable');
        }
        chargeId = pi.latest_charge;
      }
      const charge = await charges.get(q, ctx.accountId, chargeId!, { forUpdate: true, param: 'charge' });
      // A legacy charge held with capture=false is refunded whole: its authorization is released (a void, no balance transaction).
      const release = !charge.captured && !charge.payment_intent && charge.status === 'succeeded';
      if (!charge.captured && !release) {
        throw invalidRequest(`Charge ${charge.id} has not been captured: cancel its PaymentIntent to release the funds instead of refunding.`, 'charge', 'charge_not_refundable');
      }
      const { rows } = await q.query<{ pending: number }>(
        `SELECT COALESCE(SUM((data->>'amount')::bigint), 0)::int8 AS pending FROM refunds
          WHERE account_id = $1 AND charge = $2 AND data->>'status' = 'pending'`, [ctx.accountId, charge.id]);
      // amount_refunded also counts an authorization's uncaptured part, released at capture.
      const refundable = charge.amount - charge.amount_refunded - rows[0].pending;
      const amt = p.amount ?? refundable;
      if (refundable <= 0) {
        throw invalidRequest(`Charge ${charge.id} has already been refunded.`, 'charge', 'charge_already_refunded');
      }
      if (release && amt !== refundable) {
        throw invalidRequest(`Charge ${charge.id} has not been captured: it is refunded whole (${formatAmount(refundable, charge.currency)}), which releases its authorization.`, 'amount');
      }
      if (amt > refundable) {
        throw invalidRequest(`Refund amount (${formatAmount(amt, charge.currency)}) is greater than the amount left to refund on charge ${charge.id} (${formatAmount(refundable, charge.currency)}).`, 'amount', 'amount_too_large');
      }
      if (p.currency && p.currency !== charge.currency) {
        throw invalidRequest(`The refund's currency (${p.currency}) must be the charge's (${charge.currency}).`, 'currency');
      }
      if (p.customer && p.customer !== charge.customer) {
        throw invalidRequest(`Charge ${charge.id} does not belong to customer ${p.customer}.`, 'customer');
      }
      const refund: Refund = {
        id, object: 'refund', amount: amt, balance_transaction: null, charge: charge.id, created: nowSeconds(),
        currency: charge.currency, customer: charge.customer, customer_account: null,
        destination_details: { card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' }, type: 'card' },
        external_id: p.external_id ?? null, ...(p.instructions_email ? { instructions_email: p.instructions_email } : {}),
        metadata: applyMetadata({}, p.metadata ?? {}), payment_intent: charge.payment_intent, payment_method: charge.payment_method,
        reason: p.reason ?? null, receipt_number: null, source_transfer_reversal: null, status: 'pending', transfer_reversal: null,
      };
      refunds.insert(q, ctx.accountId, refund);
      return { existing: null as string | null, refund: id, charge: charge.id, amount: amt, currency: charge.currency, reference: charge.payment_intent ?? charge.id, release };
    });
    if (plan.existing) {
      const existing = plan.existing;
      return ctx.finish('respond', async (q) => ({ status: 200, body: await render(q, ctx, await refunds.get(q, ctx.accountId, existing), p.expand) }));
    }
    const release = (plan as { release?: boolean }).release === true;
    await ctx.foreign('refund', (): Promise<{ outcome: string }> => {
      const req = {
        accountId: ctx.accountId, downstreamKey: release ? `${plan.charge}:void` : plan.refund, reference: (plan as { reference: string }).reference,
        authorization: plan.charge, amount: plan.amount, currency: plan.currency,
      };
      return release ? ctx.deps.processor.void(req) : ctx.deps.processor.refund(req);
    });
    return ctx.finish('record', async (q) => {
      const refund = await refunds.get(q, ctx.accountId, plan.refund, { forUpdate: true });
      const charge = await charges.get(q, ctx.accountId, plan.charge, { forUpdate: true });
      const now = nowSeconds();
      refund.status = 'succeeded';
      refund.destination_details.card = { ...refund.destination_details.card, reference: refund.id.slice(3, 26).toUpperCase(), reference_status: 'available' };
      // A released authorization moved no money: no balance transaction.
      if (!release) {
        refund.balance_transaction = await recordBalanceTransaction(q, ctx.accountId, now, {
          amount: -refund.amount, currency: refund.currency, source: refund.id, type: 'refund', description: null,
        });
      }
      refunds.update(q, ctx.accountId, refund);
      charge.amount_refunded += refund.amount;
      charge.refunded = charge.amount_refunded >= charge.amount;
      charges.update(q, ctx.accountId, charge);
      emitEvent(q, ctx, 'charge.refunded', charge);
      emitEvent(q, ctx, 'refund.created', refund);
      if (charge.payment_intent) {
        await ctx.deps.purposes.refunded(q, ctx, await paymentIntents.get(q, ctx.accountId, charge.payment_intent), refund.amount);
      }
      return { status: 200, body: await render(q, ctx, refund, p.expand) };
    });
  },
};

export const updateRefund: Command<UpdateParams, PaymentDeps> = {
  name: 'refunds.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const refund = await refunds.find(q, ctx.accountId, p.refund, { forUpdate: true });
    if (!refund) throw resourceMissing('refund', p.refund);
    const before = refund.metadata;
    if (p.metadata !== undefined) refund.metadata = applyMetadata(refund.metadata, p.metadata);
    refunds.update(q, ctx.accountId, refund);
    if (JSON.stringify(before) !== JSON.stringify(refund.metadata)) {
      emitEvent(q, ctx, 'charge.refund.updated', refund, { metadata: before });
      emitEvent(q, ctx, 'refund.updated', refund, { metadata: before });
    }
    return { status: 200, body: await render(q, ctx, refund, p.expand) };
  }),
};
