/**
 * SetupIntents (issue 13) through the official client: create, retrieve, update, confirm, cancel
 * and list; the statuses requires_payment_method -> requires_confirmation -> requires_action ->
 * succeeded | canceled; on success the card attached to the customer (a test id's saved copy);
 * declines as a 402 card_error carrying the setup intent and its last_setup_error; 3-D Secure cards
 * answer requires_action until confirmed again with the same card; events in Stripe's order; the
 * acquirer's ledger shows one verification per attempt; retried and concurrent confirms attach once;
 * a publishable key retrieves and confirms with the client_secret; every refusal in Stripe's shape.
 */
process.env.ONCEPAY_STRIPE_TYPES = 'enforce';

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { eventsAbout } from '../helpers/events.ts';
import { stripeError, send, form, assertStripeError } from '../helpers/stripe_errors.ts';
import { publishableKeyFor } from '../../src/accounts/keys.ts';
import { uniqueKey } from '../helpers/unique.ts';

const { server, stripe } = useTestServer();

const verifications = async (seti: string) => (await server.ledger(seti)).filter((e) => e.kind === 'verification');
const errorSetupIntent = (err: Stripe.errors.StripeError) => (err.raw as { setup_intent?: Stripe.SetupIntent }).setup_intent;
const customer = () => stripe.customers.create({ email: 'setup@example.com' });

describe('create, retrieve, update, list', () => {
  test('a new setup intent: requires_payment_method, usage off_session by default, its client secret, setup_intent.created', async () => {
    const cus = await customer();
    const si = await stripe.setupIntents.create({ customer: cus.id, metadata: { plan: 'pro' }, description: 'save a card', flow_directions: ['inbound'] });
    assert.match(si.id, /^seti_/);
    assert.equal(si.object, 'setup_intent');
    assert.equal(si.status, 'requires_payment_method');
    assert.equal(si.usage, 'off_session');
    assert.equal(si.customer, cus.id);
    assert.equal(si.payment_method, null);
    assert.equal(si.latest_attempt, null);
    assert.equal(si.mandate, null);
    assert.deepEqual(si.payment_method_types, ['card']);
    assert.match(si.client_secret!, new RegExp(`^${si.id}_secret_[A-Za-z0-9]+$`));
    assert.deepEqual(si.metadata, { plan: 'pro' });
    assert.equal(si.description, 'save a card');
    assert.deepEqual((await eventsAbout(stripe, 'setup_intent.*', si.id)).map((e) => e.type), ['setup_intent.created']);

    const got = await stripe.setupIntents.retrieve(si.id, { expand: ['customer'] });
    assert.equal((got.customer as Stripe.Customer).id, cus.id);

    const updated = await stripe.setupIntents.update(si.id, { payment_method: 'pm_card_visa', metadata: { plan: null as unknown as string, seats: '3' } });
    assert.equal(updated.status, 'requires_confirmation');
    assert.equal(updated.payment_method, 'pm_card_visa');
    assert.deepEqual(updated.metadata, { seats: '3' });

    const onSession = await stripe.setupIntents.create({ usage: 'on_session' });
    assert.equal(onSession.usage, 'on_session');
    assert.equal(onSession.customer, null);

    const mine = await stripe.setupIntents.list({ customer: cus.id });
    assert.deepEqual(mine.data.map((s) => s.id), [si.id]);
    const all = await stripe.setupIntents.list({ limit: 100 });
    assert.ok(all.data.some((s) => s.id === onSession.id) && all.data.some((s) => s.id === si.id));
    assert.equal((await stripe.setupIntents.list({ attach_to_self: true })).data.length, 0);
  });

  test('refusals: unknown ids (resource_missing naming the param), documented params Oncepay lacks, bad values', async () => {
    const missing = await stripeError(stripe.setupIntents.retrieve('seti_nope'));
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.code, 'resource_missing');
    const noCustomer = await stripeError(stripe.setupIntents.create({ customer: 'cus_nope' }));
    assert.equal(noCustomer.code, 'resource_missing');
    assert.equal(noCustomer.param, 'customer');
    const noMethod = await stripeError(stripe.setupIntents.create({ payment_method: 'pm_nope', confirm: true }));
    assert.equal(noMethod.code, 'resource_missing');
    assert.equal(noMethod.param, 'payment_method');
    const single = await stripeError(stripe.setupIntents.create({ single_use: { amount: 100, currency: 'usd' } }));
    assert.equal(single.code, 'parameter_unsupported');
    assert.match(single.param!, /^single_use/);
    const outbound = await stripeError(stripe.setupIntents.create({ flow_directions: ['outbound'] }));
    assert.equal(outbound.code, 'parameter_unsupported');
    const usage = await stripeError(stripe.setupIntents.create({ usage: 'sometimes' as 'on_session' }));
    assert.equal(usage.param, 'usage');
    const confirmNoMethod = await stripeError(stripe.setupIntents.create({ confirm: true }));
    assert.equal(confirmNoMethod.code, 'parameter_missing');
    assert.equal(confirmNoMethod.param, 'payment_method');
  });
});

describe('confirm', () => {
  test('pm_card_visa for a customer: succeeded, a saved copy attached to the customer, events in order, one verification', async () => {
    const cus = await customer();
    const si = await stripe.setupIntents.create({ customer: cus.id, payment_method: 'pm_card_visa' });
    assert.equal(si.status, 'requires_confirmation');
    const done = await stripe.setupIntents.confirm(si.id, {}, { idempotencyKey: uniqueKey('seti-confirm') });
    assert.equal(done.status, 'succeeded');
    assert.equal(done.last_setup_error, null);
    assert.equal(done.next_action, null);
    const pmId = done.payment_method as string;
    assert.match(pmId, /^pm_[A-Za-z0-9]{24}$/, 'a saved copy, not the test id');
    const pm = await stripe.paymentMethods.retrieve(pmId);
    assert.equal(pm.customer, cus.id);
    assert.equal(pm.card!.last4, '4242');
    assert.deepEqual((await stripe.customers.listPaymentMethods(cus.id)).data.map((p) => p.id), [pmId]);
    assert.deepEqual((await eventsAbout(stripe, 'setup_intent.*', si.id)).map((e) => e.type), ['setup_intent.created', 'setup_intent.succeeded']);
    const attached = await eventsAbout(stripe, 'payment_method.attached', pmId);
    assert.equal(attached.length, 1);
    const ledger = await verifications(si.id);
    assert.equal(ledger.length, 1);
    assert.equal(ledger[0].outcome, 'approved');
    assert.equal(ledger[0].amount, 0);

    const again = await stripeError(stripe.setupIntents.confirm(si.id));
    assert.equal(again.code, 'setup_intent_unexpected_state');
    assert.equal(errorSetupIntent(again)?.status, 'succeeded');
    const cancel = await stripeError(stripe.setupIntents.cancel(si.id));
    assert.equal(cancel.code, 'setup_intent_unexpected_state');
    const update = await stripeError(stripe.setupIntents.update(si.id, { description: 'late' }));
    assert.equal(update.code, 'setup_intent_unexpected_state');

    const expanded = await stripe.setupIntents.retrieve(si.id, { expand: ['payment_method', 'latest_attempt', 'mandate'] });
    assert.equal((expanded.payment_method as Stripe.PaymentMethod).id, pmId);
    assert.equal(expanded.latest_attempt, null);
    assert.deepEqual((await stripe.setupIntents.list({ payment_method: pmId })).data.map((s) => s.id), [si.id]);
  });

  test('create with confirm=true: created (without its payment method) then succeeded', async () => {
    const cus = await customer();
    const si = await stripe.setupIntents.create({ customer: cus.id, payment_method: 'pm_card_mastercard', confirm: true, return_url: 'https://example.com/back', use_stripe_sdk: true });
    assert.equal(si.status, 'succeeded');
    const events = await eventsAbout(stripe, 'setup_intent.*', si.id);
    assert.deepEqual(events.map((e) => e.type), ['setup_intent.created', 'setup_intent.succeeded']);
    assert.equal((events[0].data.object as Stripe.SetupIntent).status, 'requires_payment_method');
    assert.equal((await stripe.paymentMethods.retrieve(si.payment_method as string)).customer, cus.id);
  });

  test('without a customer: succeeded, the saved copy attached to nobody', async () => {
    const si = await stripe.setupIntents.create({ payment_method: 'pm_card_visa', confirm: true });
    assert.equal(si.status, 'succeeded');
    assert.equal((await stripe.paymentMethods.retrieve(si.payment_method as string)).customer, null);
  });

  test('a declined card: 402 card_error carrying the setup intent, back to requires_payment_method with last_setup_error, setup_failed', async () => {
    const cus = await customer();
    const si = await stripe.setupIntents.create({ customer: cus.id });
    const err = await stripeError(stripe.setupIntents.confirm(si.id, { payment_method: 'pm_card_chargeDeclinedInsufficientFunds' }));
    assert.equal(err.statusCode, 402);
    assert.equal(err.type, 'StripeCardError');
    assert.equal(err.code, 'card_declined');
    assert.equal(err.decline_code, 'insufficient_funds');
    const failed = errorSetupIntent(err)!;
    assert.equal(failed.id, si.id);
    assert.equal(failed.status, 'requires_payment_method');
    assert.equal(failed.payment_method, null);
    assert.equal(failed.last_setup_error!.type, 'card_error');
    assert.equal(failed.last_setup_error!.code, 'card_declined');
    assert.equal(failed.last_setup_error!.decline_code, 'insufficient_funds');
    assert.equal(failed.last_setup_error!.payment_method!.card!.last4, '9995');
    const stored = await stripe.setupIntents.retrieve(si.id);
    assert.equal(stored.status, 'requires_payment_method');
    assert.equal(stored.last_setup_error!.code, 'card_declined');
    assert.deepEqual((await eventsAbout(stripe, 'setup_intent.*', si.id)).map((e) => e.type), ['setup_intent.created', 'setup_intent.setup_failed']);
    assert.equal((await stripe.customers.listPaymentMethods(cus.id)).data.length, 0, 'nothing attached');

    // Another card afterwards succeeds and clears the error.
    const ok = await stripe.setupIntents.confirm(si.id, { payment_method: 'pm_card_visa' });
    assert.equal(ok.status, 'succeeded');
    assert.equal(ok.last_setup_error, null);
    assert.deepEqual((await verifications(si.id)).map((e) => e.outcome), ['declined', 'approved']);
  });

  test('3-D Secure: requires_action with next_action use_stripe_sdk, confirmed again with the same card: succeeded', async () => {
    for (const card of ['pm_card_authenticationRequiredOnSetup', 'pm_card_authenticationRequired', 'pm_card_threeDSecure2Required']) {
      const cus = await customer();
      const si = await stripe.setupIntents.create({ customer: cus.id, payment_method: card, confirm: true });
      assert.equal(si.status, 'requires_action', card);
      assert.equal(si.next_action!.type, 'use_stripe_sdk');
      assert.equal((await stripe.customers.listPaymentMethods(cus.id)).data.length, 0, 'not attached before authentication');
      // The client passes the test id again (or nothing): the same card, now authenticated.
      const done = await stripe.setupIntents.confirm(si.id, card === 'pm_card_authenticationRequired' ? {} : { payment_method: card });
      assert.equal(done.status, 'succeeded', card);
      assert.equal(done.payment_method, si.payment_method, 'the same saved copy');
      assert.equal(done.next_action, null);
      assert.deepEqual((await eventsAbout(stripe, 'setup_intent.*', si.id)).map((e) => e.type),
        ['setup_intent.created', 'setup_intent.requires_action', 'setup_intent.succeeded']);
      assert.deepEqual((await verifications(si.id)).map((e) => e.outcome), ['requires_action', 'approved']);
      assert.equal((await stripe.customers.listPaymentMethods(cus.id)).data.length, 1);
    }
  });

  test('3-D Secure, then another card: not authenticated, its own check', async () => {
    const si = await stripe.setupIntents.create({ payment_method: 'pm_card_threeDSecureRequired', confirm: true });
    assert.equal(si.status, 'requires_action');
    const other = await stripe.setupIntents.confirm(si.id, { payment_method: 'pm_card_authenticationRequired' });
    assert.equal(other.status, 'requires_action');
    assert.notEqual(other.payment_method, si.payment_method);
  });

  test('missing payment method, canceled intents, another customer\'s card: Stripe\'s refusals', async () => {
    const si = await stripe.setupIntents.create({});
    const none = await stripeError(stripe.setupIntents.confirm(si.id));
    assert.equal(none.statusCode, 400);
    assert.equal(none.code, 'setup_intent_unexpected_state');
    assert.equal(none.param, 'payment_method');
    const canceled = await stripe.setupIntents.cancel(si.id, { cancellation_reason: 'abandoned' });
    assert.equal(canceled.status, 'canceled');
    assert.equal(canceled.cancellation_reason, 'abandoned');
    assert.deepEqual((await eventsAbout(stripe, 'setup_intent.*', si.id)).map((e) => e.type), ['setup_intent.created', 'setup_intent.canceled']);
    for (const call of [() => stripe.setupIntents.confirm(si.id, { payment_method: 'pm_card_visa' }), () => stripe.setupIntents.cancel(si.id)]) {
      const err = await stripeError(call());
      assert.equal(err.code, 'setup_intent_unexpected_state');
      assert.equal(errorSetupIntent(err)?.status, 'canceled');
    }
    assert.equal((await verifications(si.id)).length, 0);

    const owner = await customer();
    const saved = await stripe.paymentMethods.attach('pm_card_visa', { customer: owner.id });
    const stranger = await customer();
    const theirs = await stripe.setupIntents.create({ customer: stranger.id });
    const refused = await stripeError(stripe.setupIntents.confirm(theirs.id, { payment_method: saved.id }));
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.param, 'payment_method');
    assert.equal((await stripe.setupIntents.retrieve(theirs.id)).status, 'requires_payment_method');
    const missing = await stripeError(stripe.setupIntents.confirm(theirs.id, { payment_method: 'pm_aaaaaaaaaaaaaaaaaaaaaaaa' }));
    assert.equal(missing.code, 'resource_missing');
    assert.equal(missing.param, 'payment_method');
    const nope = await stripeError(stripe.setupIntents.confirm('seti_nope', { payment_method: 'pm_card_visa' }));
    assert.equal(nope.statusCode, 404);
  });
});

describe('exactly once', () => {
  test('a retried confirm (same key) replays: one verification, one attach', async () => {
    const cus = await customer();
    const si = await stripe.setupIntents.create({ customer: cus.id, payment_method: 'pm_card_visa' });
    const key = uniqueKey('seti-retry');
    const first = await stripe.setupIntents.confirm(si.id, {}, { idempotencyKey: key });
    const second = await stripe.setupIntents.confirm(si.id, {}, { idempotencyKey: key });
    assert.equal(second.lastResponse.headers['idempotent-replayed'], 'true');
    assert.deepEqual(second.payment_method, first.payment_method);
    assert.equal((await verifications(si.id)).length, 1);
    assert.equal((await eventsAbout(stripe, 'payment_method.attached', first.payment_method as string)).length, 1);
    assert.equal((await stripe.customers.listPaymentMethods(cus.id)).data.length, 1);
  });

  test('concurrent confirms with different keys: one succeeds, the others are refused (409 or unexpected state); attached once', async () => {
    const cus = await customer();
    const si = await stripe.setupIntents.create({ customer: cus.id, payment_method: 'pm_card_visa' });
    const client = server.stripe({ neverRetry: true });
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) =>
      client.setupIntents.confirm(si.id, {}, { idempotencyKey: uniqueKey(`seti-race-${i}`) })));
    const ok = results.filter((r) => r.status === 'fulfilled');
    assert.equal(ok.length, 1, JSON.stringify(results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as Stripe.errors.StripeError).code))));
    for (const r of results) {
      if (r.status === 'rejected') {
        const e = r.reason as Stripe.errors.StripeError;
        assert.ok((e.statusCode === 409 && e.code === 'lock_timeout') || (e.statusCode === 400 && e.code === 'setup_intent_unexpected_state'), `${e.statusCode} ${e.code}`);
      }
    }
    assert.equal((await stripe.setupIntents.retrieve(si.id)).status, 'succeeded');
    assert.equal((await verifications(si.id)).length, 1);
    const pms = (await stripe.customers.listPaymentMethods(cus.id)).data;
    assert.equal(pms.length, 1);
    assert.equal((await eventsAbout(stripe, 'payment_method.attached', pms[0].id)).length, 1);
    assert.equal((await eventsAbout(stripe, 'setup_intent.succeeded', si.id)).length, 1);
  });
});

describe('publishable key', () => {
  test('retrieves and confirms with the client_secret; without it or with another: 400 naming client_secret; other calls 401', async () => {
    const pk = publishableKeyFor(server.key);
    const si = await stripe.setupIntents.create({});
    const other = await stripe.setupIntents.create({});
    const client = server.stripe({ key: pk });
    assert.equal((await client.setupIntents.retrieve(si.id, { client_secret: si.client_secret! })).id, si.id);
    assert.equal((await stripeError(client.setupIntents.retrieve(si.id))).param, 'client_secret');
    assert.equal((await stripeError(client.setupIntents.retrieve(si.id, { client_secret: other.client_secret! }))).param, 'client_secret');
    assert.equal((await stripeError(client.setupIntents.create({}))).statusCode, 401);
    assert.equal((await stripeError(client.setupIntents.cancel(si.id))).statusCode, 401);
    const wrong = await send(server, 'POST', `/v1/setup_intents/${si.id}/confirm`,
      { key: pk, body: form({ client_secret: other.client_secret!, payment_method: 'pm_card_visa' }) });
    assertStripeError(wrong, { status: 400, param: 'client_secret' });
    const confirmed = await send(server, 'POST', `/v1/setup_intents/${si.id}/confirm`,
      { key: pk, body: form({ client_secret: si.client_secret!, payment_method: 'pm_card_visa' }), headers: { 'Idempotency-Key': uniqueKey('pk-seti') } });
    assert.equal(confirmed.status, 200, confirmed.text);
    assert.equal(confirmed.json.status, 'succeeded');
    assert.equal((await stripe.setupIntents.retrieve(other.id)).status, 'requires_payment_method');
  });
});
