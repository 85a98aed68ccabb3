/**
 * A card saved by a SetupIntent, charged later while the customer is away (issue 13): after a
 * setup with usage=off_session, `off_session=true&confirm=true` payment intents succeed for
 * cards that need nothing more (pm_card_visa) and for cards that need authentication only once
 * set up (Stripe's 3155, pm_card_authenticationRequiredOnSetup); a card that always needs
 * authentication (3184) fails with authentication_required; "attach succeeds, charge fails"
 * (0341) sets up and then declines. The acquirer's ledger shows one verification per setup
 * attempt and one sale per successful charge.
 */
process.env.ONCEPAY_STRIPE_TYPES = 'enforce';

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { stripeError } from '../helpers/stripe_errors.ts';
import { sales } from '../helpers/ledger.ts';

const { server, stripe } = useTestServer();

/** A customer and a card set up for it, through a SetupIntent (3-D Secure completed by confirming again). */
async function setUp(card: string, usage: 'off_session' | 'on_session' = 'off_session'): Promise<{ customer: string; pm: string; seti: string }> {
  const cus = await stripe.customers.create({ email: `${card}@example.com` });
  let si = await stripe.setupIntents.create({ customer: cus.id, payment_method: card, confirm: true, usage });
  if (si.status === 'requires_action') si = await stripe.setupIntents.confirm(si.id);
  assert.equal(si.status, 'succeeded', card);
  const pm = si.payment_method as string;
  assert.equal((await stripe.paymentMethods.retrieve(pm)).customer, cus.id);
  return { customer: cus.id, pm, seti: si.id };
}

const chargeOffSession = (customer: string, pm: string, amount = 1500) =>
  stripe.paymentIntents.create({ amount, currency: 'usd', customer, payment_method: pm, off_session: true, confirm: true });

describe('charging a set-up card off session', () => {
  test('pm_card_visa: succeeded, one verification for the setup and one sale for the payment', async () => {
    const { customer, pm, seti } = await setUp('pm_card_visa');
    const pi = await chargeOffSession(customer, pm, 2100);
    assert.equal(pi.status, 'succeeded');
    assert.equal(pi.amount_received, 2100);
    assert.equal(pi.payment_method, pm);
    const setupLedger = await server.ledger(seti);
    assert.deepEqual(setupLedger.map((e) => [e.kind, e.outcome, e.amount]), [['verification', 'approved', 0]]);
    const sold = sales(await server.ledger(pi.id));
    assert.equal(sold.length, 1);
    assert.equal(sold[0].amount, 2100);
  });

  test('pm_card_authenticationRequiredOnSetup (3155): set up with 3-D Secure, then exempt: succeeded off session', async () => {
    const { customer, pm, seti } = await setUp('pm_card_authenticationRequiredOnSetup');
    assert.deepEqual((await server.ledger(seti)).map((e) => [e.kind, e.outcome]), [['verification', 'requires_action'], ['verification', 'approved']]);
    const pi = await chargeOffSession(customer, pm);
    assert.equal(pi.status, 'succeeded');
    assert.equal(sales(await server.ledger(pi.id)).length, 1);
  });

  test('pm_card_authenticationRequired (3184): sets up, but every payment needs authentication: 402 authentication_required', async () => {
    const { customer, pm } = await setUp('pm_card_authenticationRequired');
    const err = await stripeError(chargeOffSession(customer, pm));
    assert.equal(err.statusCode, 402);
    assert.equal(err.type, 'StripeCardError');
    assert.equal(err.code, 'authentication_required');
    const pi = (err.raw as { payment_intent?: Stripe.PaymentIntent }).payment_intent!;
    assert.equal(pi.status, 'requires_payment_method');
    assert.equal(pi.last_payment_error!.code, 'authentication_required');
    const stored = await stripe.paymentIntents.retrieve(pi.id);
    assert.equal(stored.status, 'requires_payment_method');
    assert.equal(stored.last_payment_error!.code, 'authentication_required');
    assert.equal(sales(await server.ledger(pi.id)).length, 0, 'no money moved');
  });

  test('usage=on_session leaves 3155 not set up for off-session payments: authentication_required', async () => {
    const { customer, pm } = await setUp('pm_card_authenticationRequiredOnSetup', 'on_session');
    const err = await stripeError(chargeOffSession(customer, pm));
    assert.equal(err.code, 'authentication_required');
    // And set up off session afterwards (a second setup of the same saved card), it goes through.
    let si = await stripe.setupIntents.create({ customer, payment_method: pm, confirm: true });
    if (si.status === 'requires_action') si = await stripe.setupIntents.confirm(si.id);
    assert.equal(si.status, 'succeeded');
    assert.equal(si.payment_method, pm, 'the same saved card');
    assert.equal((await chargeOffSession(customer, pm)).status, 'succeeded');
  });

  test('pm_card_chargeCustomerFail (0341): the setup succeeds, the charge is declined', async () => {
    const { customer, pm, seti } = await setUp('pm_card_chargeCustomerFail');
    assert.deepEqual((await server.ledger(seti)).map((e) => e.outcome), ['approved']);
    const err = await stripeError(chargeOffSession(customer, pm));
    assert.equal(err.statusCode, 402);
    assert.equal(err.code, 'card_declined');
    const pi = (err.raw as { payment_intent?: Stripe.PaymentIntent }).payment_intent!;
    assert.equal(pi.status, 'requires_payment_method');
    assert.equal(sales(await server.ledger(pi.id)).length, 0);
  });

  test('a card set up for one customer cannot pay for another, nor without its customer', async () => {
    const { pm } = await setUp('pm_card_visa');
    const other = await stripe.customers.create({ email: 'other@example.com' });
    const err = await stripeError(chargeOffSession(other.id, pm));
    assert.equal(err.statusCode, 400);
    assert.equal(err.param, 'payment_method');
    const noCustomer = await stripeError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: pm, off_session: true, confirm: true }));
    assert.equal(noCustomer.statusCode, 400);
    assert.equal(noCustomer.param, 'payment_method');
    const theirs = await stripe.setupIntents.create({ customer: other.id });
    const setup = await stripeError(stripe.setupIntents.confirm(theirs.id, { payment_method: pm }));
    assert.equal(setup.statusCode, 400);
    assert.equal(setup.param, 'payment_method');
  });
});
