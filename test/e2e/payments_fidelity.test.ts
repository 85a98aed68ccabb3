/**
 * Payments as Stripe's API version 2026-10-28.endive has them, through the official client:
 * documented parameters stored and echoed (or refused with a reason), expansion by the registry
 * (nested, on lists, null where there is nothing), Stripe's validation rules, and every
 * documented pm_card_* test card with its outcome.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { TEST_CARDS } from '../../src/processor/cards.ts';
import { PAYMENT_EXPANSIONS } from '../../src/api/expansion.ts';
import { expandableFields } from '../helpers/stripe_declarations.ts';

const { stripe } = useTestServer();

const address = { line1: '1 Main St', city: 'Springfield', postal_code: '12345', country: 'US' };
const rejection = (p: Promise<unknown>) => p.then(() => assert.fail('expected an error'), (e) => e as Stripe.errors.StripeError);

describe('customer parameters', () => {
  test('address, shipping, phone, preferred_locales, balance, tax_exempt, invoice_prefix and invoice_settings are stored and echoed', async () => {
    const c = await stripe.customers.create({
      address, shipping: { name: 'Ada', address }, phone: '+15555550100', preferred_locales: ['fr', 'en'], balance: -500,
      tax_exempt: 'exempt', invoice_prefix: 'ADA123', invoice_settings: { footer: 'Thanks', custom_fields: [{ name: 'VAT', value: 'X1' }] },
    });
    assert.deepEqual(c.address, { ...address, line2: null, state: null });
    assert.equal(c.shipping?.name, 'Ada');
    assert.deepEqual(c.preferred_locales, ['fr', 'en']);
    assert.equal(c.balance, -500);
    assert.equal(c.tax_exempt, 'exempt');
    assert.equal(c.invoice_prefix, 'ADA123');
    assert.equal(c.invoice_settings.footer, 'Thanks');
    const got = await stripe.customers.retrieve(c.id) as Stripe.Customer;
    assert.deepEqual([got.phone, got.balance, got.address?.city], ['+15555550100', -500, 'Springfield']);
    const cleared = await stripe.customers.update(c.id, { address: '', tax_exempt: 'none' } as Stripe.CustomerUpdateParams);
    assert.equal(cleared.address, null);
    assert.equal(cleared.tax_exempt, 'none');
  });

  test('tax is documented but refused with a 400 naming it and why; a legacy source is a card', async () => {
    const e = await rejection(stripe.customers.create({ tax: { validate_location: 'immediately' } }));
    assert.equal(e.statusCode, 400);
    assert.equal(e.param, 'tax');
    assert.equal(e.code, 'parameter_unsupported');
    assert.match(e.message, /taxes/);
    const c = await stripe.customers.create({ source: 'tok_visa' });
    assert.match(c.default_source as string, /^card_/);
  });

  test('the test_clock list filter lists the clock\'s customers only', async () => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000) });
    const on = await stripe.customers.create({ test_clock: clock.id });
    await stripe.customers.create({});
    const list = await stripe.customers.list({ test_clock: clock.id });
    assert.deepEqual(list.data.map((c) => c.id), [on.id]);
  });
});

describe('payment intent parameters', () => {
  test('setup_future_usage, shipping, payment_method_options and receipt_email are stored; update and confirm change them', async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 1000, currency: 'usd', setup_future_usage: 'off_session', shipping: { name: 'Ada', address },
      payment_method_options: { card: { request_three_d_secure: 'any' } }, receipt_email: 'a@example.com', transfer_group: 'g1',
    });
    assert.equal(pi.setup_future_usage, 'off_session');
    assert.equal(pi.shipping?.address?.line1, '1 Main St');
    assert.equal(pi.payment_method_options?.card?.request_three_d_secure, 'any');
    assert.equal(pi.transfer_group, 'g1');
    const up = await stripe.paymentIntents.update(pi.id, { setup_future_usage: 'on_session' });
    assert.equal(up.setup_future_usage, 'on_session');
    const done = await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa', receipt_email: 'b@example.com' });
    assert.equal(done.status, 'succeeded');
    assert.equal(done.receipt_email, 'b@example.com');
    const charge = await stripe.charges.retrieve(done.latest_charge as string);
    assert.equal(charge.shipping?.name, 'Ada');
    assert.equal(charge.billing_details.email, null);
  });

  test('Connect parameters are refused with a 400 naming them', async () => {
    for (const params of [{ application_fee_amount: 10 }, { on_behalf_of: 'acct_1' }, { transfer_data: { destination: 'acct_1' } }]) {
      const e = await rejection(stripe.paymentIntents.create({ amount: 1000, currency: 'usd', ...params }));
      assert.equal(e.statusCode, 400);
      assert.equal(e.param, Object.keys(params)[0]);
      assert.match(e.message, /Connect/);
    }
  });

  test('off_session=true without confirm=true is refused (Stripe: only when confirm=true)', async () => {
    const e = await rejection(stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', off_session: true }));
    assert.equal(e.statusCode, 400);
    assert.equal(e.param, 'off_session');
    const ok = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', off_session: true, confirm: true });
    assert.equal(ok.status, 'succeeded');
  });

  test('a missing customer named in the body is 400 resource_missing with param (Stripe answers 400 for body references)', async () => {
    const e = await rejection(stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: 'cus_missing' }));
    assert.deepEqual([e.statusCode, e.code, e.param], [400, 'resource_missing', 'customer']);
    const r = await rejection(stripe.refunds.create({ charge: 'ch_missing' }));
    assert.deepEqual([r.statusCode, r.code, r.param], [400, 'resource_missing', 'charge']);
  });

  test('refunds: currency must be the charge\'s; instructions_email is echoed; origin is refused', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const wrong = await rejection(stripe.refunds.create({ payment_intent: pi.id, currency: 'eur' }));
    assert.equal(wrong.param, 'currency');
    const origin = await rejection(stripe.refunds.create({ payment_intent: pi.id, origin: 'customer_balance' }));
    assert.equal(origin.param, 'origin');
    const re = await stripe.refunds.create({ payment_intent: pi.id, amount: 100, currency: 'usd', instructions_email: 'r@example.com' });
    assert.equal(re.instructions_email, 'r@example.com');
    assert.equal(re.payment_method, 'pm_card_visa');
  });
});

describe('expansion', () => {
  test('payment_intent.payment_method, latest_charge.balance_transaction, customer and always-null fields', async () => {
    const customer = await stripe.customers.create({ invoice_settings: { default_payment_method: 'pm_card_mastercard' } });
    const pi = await stripe.paymentIntents.create({
      amount: 1500, currency: 'usd', customer: customer.id, payment_method: 'pm_card_visa', confirm: true,
      expand: ['payment_method', 'latest_charge.balance_transaction', 'latest_charge.refunds', 'customer', 'review', 'on_behalf_of'],
    });
    const pm = pi.payment_method as Stripe.PaymentMethod;
    assert.deepEqual([pm.object, pm.card?.brand, pm.card?.last4], ['payment_method', 'visa', '4242']);
    const charge = pi.latest_charge as Stripe.Charge;
    assert.equal((charge.balance_transaction as Stripe.BalanceTransaction).amount, 1500);
    assert.deepEqual(charge.refunds?.data, []);
    assert.equal((pi.customer as Stripe.Customer).id, customer.id);
    assert.equal(pi.review, null);
    const c = await stripe.customers.retrieve(customer.id, { expand: ['default_source', 'invoice_settings.default_payment_method', 'subscriptions'] }) as Stripe.Customer;
    assert.equal(c.default_source, null);
    assert.equal((c.invoice_settings.default_payment_method as Stripe.PaymentMethod).card?.brand, 'mastercard');
    assert.equal(c.subscriptions?.object, 'list');
  });

  test('on lists with data., refunds with charge and payment_intent, and an unknown path answers 400 naming expand', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 700, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    await stripe.refunds.create({ payment_intent: pi.id, amount: 100 });
    const list = await stripe.refunds.list({ payment_intent: pi.id, expand: ['data.charge', 'data.payment_intent', 'data.balance_transaction.source'] });
    const r = list.data[0];
    assert.equal((r.charge as Stripe.Charge).object, 'charge');
    assert.equal((r.payment_intent as Stripe.PaymentIntent).id, pi.id);
    assert.equal(((r.balance_transaction as Stripe.BalanceTransaction).source as Stripe.Refund).id, r.id);
    const e = await rejection(stripe.paymentIntents.retrieve(pi.id, { expand: ['nope'] }));
    assert.deepEqual([e.statusCode, e.param], [400, 'expand']);
    const onCreate = await rejection(stripe.paymentIntents.create({ amount: 700, currency: 'usd', expand: ['latest_charge.nope'] }));
    assert.deepEqual([onCreate.statusCode, onCreate.param], [400, 'expand']);
  });

  test('every field Stripe declares expandable on the payments objects is in the registry', () => {
    const types: Record<string, string> = {
      customer: 'Customer', payment_intent: 'PaymentIntent', charge: 'Charge', refund: 'Refund',
      balance_transaction: 'BalanceTransaction', payment_method: 'PaymentMethod',
    };
    // customer's subscriptions and test_clock are billing's entries (src/api/billing_expansions.ts).
    const billing = new Set(['customer.subscriptions', 'customer.test_clock']);
    for (const [object, typeName] of Object.entries(types)) {
      const missing = expandableFields(typeName).filter((f) => !(f in PAYMENT_EXPANSIONS[object]) && !billing.has(`${object}.${f}`));
      assert.deepEqual(missing, [], `${object}: expandable in Stripe's types but not in the registry`);
    }
  });
});

describe('test payment methods', () => {
  const ids = Object.keys(TEST_CARDS).filter((id) => !id.startsWith('pm_card_oncepay_'));

  test(`every documented pm_card_* id (${ids.length}) is accepted with its card and its documented outcome`, async () => {
    assert.ok(ids.length >= 90, `only ${ids.length} test cards`);
    for (const id of ids) {
      const { card, behaviour } = TEST_CARDS[id];
      const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: id, confirm: true, expand: ['payment_method'] })
        .catch((e: Stripe.errors.StripeCardError) => e);
      if (behaviour.kind === 'decline') {
        const e = pi as Stripe.errors.StripeCardError;
        assert.equal(e.statusCode, 402, id);
        assert.deepEqual([e.code, e.decline_code], [behaviour.code, behaviour.decline_code], id);
        assert.equal(e.payment_method?.card?.last4, card.last4, id);
        assert.equal(typeof e.payment_method?.created, 'number', id);
      } else if (behaviour.kind === 'authentication_required') {
        assert.equal((pi as Stripe.PaymentIntent).status, 'requires_action', id);
      } else {
        const ok = pi as Stripe.PaymentIntent;
        assert.equal(ok.status, 'succeeded', id);
        const pm = ok.payment_method as Stripe.PaymentMethod;
        assert.deepEqual([pm.card?.brand, pm.card?.last4, pm.card?.funding, pm.card?.country], [card.brand, card.last4, card.funding, card.country], id);
      }
    }
  });

  test('3-D Secure then declined: authenticating answers the decline Stripe documents', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_authenticationRequiredChargeDeclinedInsufficientFunds', confirm: true });
    assert.equal(pi.status, 'requires_action');
    const e = await rejection(stripe.paymentIntents.confirm(pi.id));
    assert.deepEqual([e.statusCode, (e as Stripe.errors.StripeCardError).decline_code], [402, 'insufficient_funds']);
  });

  test('Radar blocks and elevated risk show on the charge outcome', async () => {
    const blocked = await rejection(stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_radarBlock', confirm: true }));
    const charge = await stripe.charges.retrieve((blocked as Stripe.errors.StripeCardError).charge!);
    assert.deepEqual([charge.outcome?.type, charge.outcome?.risk_level, charge.outcome?.network_status], ['blocked', 'highest', 'not_sent_to_network']);
    const elevated = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_riskLevelElevated', confirm: true, expand: ['latest_charge'] });
    assert.equal((elevated.latest_charge as Stripe.Charge).outcome?.risk_level, 'elevated');
    const cvc = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_cvcCheckFail', confirm: true, expand: ['latest_charge'] });
    assert.equal((cvc.latest_charge as Stripe.Charge).payment_method_details?.card?.checks?.cvc_check, 'fail');
  });
});
