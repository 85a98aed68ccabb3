/**
 * A customer failing 3-D Secure on a hosted page (the test authentication step's `Fail` button, as
 * Stripe's test mode offers): the intent waiting in requires_action goes back to
 * requires_payment_method with Stripe's authentication failure as its last error, so the customer
 * can try another card. Completing authentication needs no command of its own: confirming again
 * with the same card is an authenticated confirmation (payment_intents.ts, setup_intents.ts).
 *
 * Not API routes: the hosted pages run these through the engine (src/checkout/completion.ts).
 */
import type { Command } from '../idempotency/engine.ts';
import { ApiError, errorDocUrl } from '../errors.ts';
import { nonEmptyString, object, type ParsedObject } from '../schema/params.ts';
import { emitEvent } from '../events/outbox.ts';
import { paymentIntents, type PaymentError } from './payment_objects.ts';
import { resolvePaymentMethod } from './payment_methods.ts';
import { render, type PaymentDeps } from './ports.ts';
import { lockIntent } from './payment_intents.ts';
import { lockSetupIntent, setupIntents, type SetupError } from './setup_intents.ts';

export const failAuthenticationParams = object({ intent: nonEmptyString(255) });
type Params = ParsedObject<typeof failAuthenticationParams.shape>;

const notAwaiting = (kind: string, id: string, status: string, code: string) => new ApiError(400, {
  type: 'invalid_request_error', code,
  message: `This ${kind} (${id}) is ${status}: only one that requires_action can fail authentication.`,
});

/** Stripe's card error for a failed authentication: the same fields on a payment's and a setup's last error. */
const authenticationFailure = (code: string, message: string, method: PaymentError['payment_method']) => ({
  type: 'card_error' as const, code, doc_url: errorDocUrl(code), message, payment_method: method, payment_method_type: 'card' as const,
});

export const failPaymentAuthentication: Command<Params, PaymentDeps> = {
  name: 'payment_intents.fail_authentication',
  run: (ctx, p) => ctx.finish('fail', async (q) => {
    const pi = await lockIntent(q, ctx, p.intent);
    if (pi.status !== 'requires_action') throw notAwaiting('PaymentIntent', pi.id, pi.status, 'payment_intent_unexpected_state');
    const method = await resolvePaymentMethod(q, ctx.accountId, pi.payment_method!, { param: 'payment_method' });
    const error: PaymentError = authenticationFailure('payment_intent_authentication_failure',
      'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.',
      method.method);
    pi.status = 'requires_payment_method';
    pi.payment_method = null;
    pi.next_action = null;
    pi.last_payment_error = error;
    paymentIntents.update(q, ctx.accountId, pi);
    emitEvent(q, ctx, 'payment_intent.payment_failed', pi);
    await ctx.deps.purposes.authorized(q, ctx, pi);
    return { status: 200, body: await render(q, ctx, pi, undefined) };
  }),
};

export const failSetupAuthentication: Command<Params, PaymentDeps> = {
  name: 'setup_intents.fail_authentication',
  run: (ctx, p) => ctx.finish('fail', async (q) => {
    const si = await lockSetupIntent(q, ctx, p.intent);
    if (si.status !== 'requires_action') throw notAwaiting('SetupIntent', si.id, si.status, 'setup_intent_unexpected_state');
    const method = await resolvePaymentMethod(q, ctx.accountId, si.payment_method!, { param: 'payment_method' });
    const error: SetupError = authenticationFailure('setup_intent_authentication_failure',
      'The latest attempt to set up the payment method has failed because authentication failed.', method.method);
    si.status = 'requires_payment_method';
    si.payment_method = null;
    si.next_action = null;
    si.last_setup_error = error;
    setupIntents.update(q, ctx.accountId, si);
    emitEvent(q, ctx, 'setup_intent.setup_failed', si);
    return { status: 200, body: await render(q, ctx, si, undefined) };
  }),
};
