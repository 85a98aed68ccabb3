/**
 * Attaching a payment method to a customer, as a command's steps: plan (resolve, check, pick the
 * id of a test id's saved copy), check the card at the acquirer (a zero-amount verification with
 * its downstream key: a declined card cannot be attached, as on Stripe), record. Shared by
 * attach, customer create (`payment_method`) and setups.
 */
import type { Tx } from '../store/db.ts';
import { ApiError, invalidRequest, errorDocUrl } from '../errors.ts';
import { newId, nowSeconds } from '../ids.ts';
import type { VerifyResult } from '../processor/types.ts';
import { emitEvent } from '../events/outbox.ts';
import type { PaymentContext } from './ports.ts';
import { resolvePaymentMethod, type PaymentMethod, type ResolvedPaymentMethod } from './payment_methods.ts';
import { attachSaved, savedCopy } from './payment_method_use.ts';

/** The card error of a verification the issuer declined (attaching, a setup). */
export function verificationDeclined(result: Extract<VerifyResult, { outcome: 'declined' }>, method: PaymentMethod, extra: Record<string, unknown> = {}): ApiError {
  return new ApiError(402, {
    type: 'card_error', code: result.code, ...(result.decline_code ? { decline_code: result.decline_code } : {}),
    ...(result.advice_code ? { advice_code: result.advice_code } : {}), ...(result.param ? { param: result.param } : {}),
    message: result.message, doc_url: errorDocUrl(result.code),
    payment_method: method, payment_method_type: 'card', ...extra,
  });
}

/** Checks a card with the acquirer before it is attached: a foreign call with its downstream key. */
export function verifyCard(ctx: PaymentContext, step: string, v: { downstreamKey: string; reference: string; method: ResolvedPaymentMethod; setup?: boolean; authenticated?: boolean }) {
  return ctx.foreign(step, () => ctx.deps.processor.verify({
    accountId: ctx.accountId, downstreamKey: v.downstreamKey, reference: v.reference, paymentMethod: v.method.method.id,
    cardRef: v.method.cardRef, setup: v.setup ?? false, authenticated: v.authenticated ?? false,
  }));
}

/** The plan step: what an attach will do, checked (journaled by the caller's phase). */
export async function planAttach(q: Tx, accountId: string, id: string, customer: string, param = 'payment_method') {
  const r = await resolvePaymentMethod(q, accountId, id, { param: param === 'payment_method' ? 'id' : param });
  if (r.saved && r.method.customer && r.method.customer !== customer) {
    throw invalidRequest('The payment method you provided has already been attached to a customer.', param);
  }
  return { id, copyId: r.saved ? null : newId('pm'), method: r.method, cardRef: r.cardRef, alreadyAttached: r.saved && r.method.customer === customer };
}

export type AttachPlan = Awaited<ReturnType<typeof planAttach>>;

/** The record step of an attach: the saved payment method attached (a test id's copy saved attached). */
export async function recordAttach(q: Tx, ctx: PaymentContext, plan: AttachPlan, customer: string): Promise<PaymentMethod> {
  const r = await resolvePaymentMethod(q, ctx.accountId, plan.id, { forUpdate: true });
  if (plan.copyId) {
    const copy = savedCopy(q, ctx.accountId, r, { id: plan.copyId, created: nowSeconds(), customer });
    emitEvent(q, ctx, 'payment_method.attached', copy.method);
    return copy.method;
  }
  return attachSaved(q, ctx, r, customer);
}

export async function verifyForAttach(ctx: PaymentContext, plan: AttachPlan, customer: string): Promise<void> {
  if (plan.alreadyAttached) return;
  const result = await verifyCard(ctx, 'verify', {
    downstreamKey: `${plan.copyId ?? plan.id}:attach:${customer}`, reference: plan.copyId ?? plan.id,
    method: { method: plan.method, cardRef: plan.cardRef } as ResolvedPaymentMethod,
  });
  if (result.outcome === 'declined') throw verificationDeclined(result, plan.method);
}
