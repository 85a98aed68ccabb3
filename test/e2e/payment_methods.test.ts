/**
 * PaymentMethods through the official stripe client: cards made from Stripe's documented test
 * numbers (brand, funding, country, last4, a stable fingerprint, and the outcome of a payment
 * with each), the refusals of bad card data (incorrect_number, invalid expiry and CVC, a live
 * card in test mode), retrieve / update / list / attach / detach and a customer's payment
 * methods, their events, and how payments, invoices and subscriptions use a saved card. Attach
 * checks the card at the acquirer (its ledger is the proof) and happens once however often it is
 * sent.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { stripeError } from '../helpers/stripe_errors.ts';
import { eventsAbout } from '../helpers/events.ts';
import { TEST_NUMBERS as NUMBERS } from '../helpers/test_numbers.ts';

const { server } = useTestServer();

async function freshAccount(): Promise<Stripe> {
  const { key } = await server.newAccount();
  return server.stripe({ key });
}

/** The acquirer's ledger of the client's account for one reference. */
async function ledgerOf(stripe: Stripe, reference: string): Promise<{ kind: string; amount: number; outcome: string; attempts: number }[]> {
  const res = await stripe.rawRequest('GET', `/v1/test_helpers/acquirer_ledger?reference=${encodeURIComponent(reference)}`, null as never);
  return (res as unknown as { data: { kind: string; amount: number; outcome: string; attempts: number }[] }).data;
}

const NEXT_YEAR = new Date().getUTCFullYear() + 1;
const card = (number: string, extra: Record<string, unknown> = {}) =>
  ({ type: 'card' as const, card: { number, exp_month: 12, exp_year: NEXT_YEAR, cvc: number.startsWith('3') && number.length === 15 ? '1234' : '123', ...extra } });


describe('test card numbers', () => {
  let stripe: Stripe;
  before(async () => { stripe = await freshAccount(); });

  for (const [number, brand, funding, country, outcome] of NUMBERS) {
    test(`${number.slice(0, 6)}…${number.slice(-4)}: ${brand} ${funding} ${country}, a payment ${outcome}`, async () => {
      const pm = await stripe.paymentMethods.create(card(number));
      assert.match(pm.id, /^pm_/);
      assert.deepEqual([pm.card!.brand, pm.card!.funding, pm.card!.country, pm.card!.last4, pm.card!.exp_month, pm.card!.exp_year],
        [brand, funding, country, number.slice(-4), 12, NEXT_YEAR]);
      assert.equal(pm.card!.checks!.cvc_check, number === '4000000000000127' ? 'fail' : 'pass');
      assert.equal(pm.customer, null);
      const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: pm.id, confirm: true })
        .catch((e: Stripe.errors.StripeError) => e);
      if (outcome === 'succeeded' || outcome === 'requires_action') {
        assert.equal((pi as Stripe.PaymentIntent).status, outcome);
        assert.equal((pi as Stripe.PaymentIntent).payment_method, pm.id);
      } else {
        const err = pi as Stripe.errors.StripeCardError;
        assert.equal(err.type, 'StripeCardError');
        assert.equal(`${err.code}/${err.decline_code}`, outcome);
        assert.equal((err.payment_intent as Stripe.PaymentIntent).last_payment_error!.payment_method!.id, pm.id);
      }
      if (outcome === 'succeeded') {
        const charge = await stripe.charges.retrieve((pi as Stripe.PaymentIntent).latest_charge as string);
        assert.deepEqual([charge.payment_method, charge.payment_method_details!.card!.last4, charge.payment_method_details!.card!.fingerprint],
          [pm.id, number.slice(-4), pm.card!.fingerprint]);
      }
    });
  }

  test('the same number has the same fingerprint, another number another one; spaces and dashes are ignored', async () => {
    const a = await stripe.paymentMethods.create(card('4242424242424242'));
    const b = await stripe.paymentMethods.create(card('4242 4242 4242 4242', { exp_month: 3, cvc: '999' }));
    const c = await stripe.paymentMethods.create(card('4000-0566-5566-5556'));
    assert.equal(a.card!.fingerprint, b.card!.fingerprint);
    assert.notEqual(a.card!.fingerprint, c.card!.fingerprint);
    assert.match(a.card!.fingerprint!, /^[A-Za-z0-9]{16}$/);
    // The ready-made test id of that number is the same card.
    const pi = await stripe.paymentIntents.create({ amount: 500, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, expand: ['payment_method'] });
    assert.equal((pi.payment_method as Stripe.PaymentMethod).card!.fingerprint, a.card!.fingerprint);
  });

  test('a two-digit exp_year is the year of this century; no CVC means an unchecked CVC', async () => {
    const pm = await stripe.paymentMethods.create({ type: 'card', card: { number: '5555555555554444', exp_month: 1, exp_year: NEXT_YEAR % 100 } });
    assert.equal(pm.card!.exp_year, NEXT_YEAR);
    assert.equal(pm.card!.checks!.cvc_check, null);
  });

  test('billing details are kept, and the address checks run on what was given', async () => {
    const pm = await stripe.paymentMethods.create({
      ...card('4000000000000036'),
      billing_details: { name: 'Ada Lovelace', email: 'ada@example.com', address: { line1: '1 Main St', postal_code: '94107', country: 'US' } },
    });
    assert.equal(pm.billing_details.name, 'Ada Lovelace');
    assert.equal(pm.billing_details.address!.postal_code, '94107');
    assert.deepEqual(pm.card!.checks, { address_line1_check: 'pass', address_postal_code_check: 'fail', cvc_check: 'pass' });
    const plain = await stripe.paymentMethods.create(card('4242424242424242'));
    assert.deepEqual(plain.card!.checks, { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' });
  });
});

describe('bad card data: Stripe\'s card errors, naming the field, nothing saved', () => {
  let stripe: Stripe;
  before(async () => { stripe = await freshAccount(); });
  const refusals: [what: string, params: Stripe.PaymentMethodCreateParams, code: string, param: string, decline?: string][] = [
    ['a number failing the Luhn check', card('4242424242424241'), 'incorrect_number', 'card[number]'],
    ['a number too short', card('42424242'), 'incorrect_number', 'card[number]'],
    ['letters in the number', card('4242abcd42424242'), 'incorrect_number', 'card[number]'],
    ['a month of 13', card('4242424242424242', { exp_month: 13 }), 'invalid_expiry_month', 'card[exp_month]'],
    ['a past year', card('4242424242424242', { exp_year: NEXT_YEAR - 3 }), 'invalid_expiry_year', 'card[exp_year]'],
    ['a two-letter CVC', card('4242424242424242', { cvc: '1x' }), 'invalid_cvc', 'card[cvc]'],
    ['a three-digit CVC on an amex', card('378282246310005', { cvc: '123' }), 'invalid_cvc', 'card[cvc]'],
    ['a real (not test) number', card('4111111111111111'), 'card_declined', 'card[number]', 'test_mode_live_card'],
  ];
  for (const [what, params, code, param, decline] of refusals) {
    test(`${what}: 402 ${code} naming ${param}`, async () => {
      const before = (await stripe.paymentMethods.list({ limit: 100 })).data.length;
      const err = await stripeError(stripe.paymentMethods.create(params));
      assert.equal(err.type, 'StripeCardError');
      assert.equal(err.statusCode, 402);
      assert.equal(err.code, code);
      assert.equal(err.param, param);
      if (decline) assert.equal(err.decline_code, decline);
      const number = (params.card as { number: string }).number;
      assert.ok(!err.message.includes(number) && !JSON.stringify(err.raw).includes(number), 'the error never repeats the number');
      assert.equal((await stripe.paymentMethods.list({ limit: 100 })).data.length, before);
    });
  }

  test('the month just past this year is refused as an invalid month', async (t) => {
    const now = new Date();
    if (now.getUTCMonth() === 0) return t.skip('in January no month of this year is past');
    const err = await stripeError(stripe.paymentMethods.create(card('4242424242424242', { exp_month: now.getUTCMonth(), exp_year: now.getUTCFullYear() })));
    assert.equal(err.code, 'invalid_expiry_month');
  });

  test('missing pieces and other types: 400 naming the parameter', async () => {
    const cases: [Stripe.PaymentMethodCreateParams, string, string][] = [
      [{ card: { number: '4242424242424242', exp_month: 1, exp_year: NEXT_YEAR } } as Stripe.PaymentMethodCreateParams, 'type', 'parameter_missing'],
      [{ type: 'card' }, 'card', 'parameter_missing'],
      [{ type: 'card', card: { number: '4242424242424242', exp_month: 1 } } as Stripe.PaymentMethodCreateParams, 'card[exp_year]', 'parameter_missing'],
      [{ type: 'sepa_debit' } as Stripe.PaymentMethodCreateParams, 'type', 'parameter_unsupported'],
    ];
    for (const [params, param, code] of cases) {
      const err = await stripeError(stripe.paymentMethods.create(params));
      assert.deepEqual([err.statusCode, err.param, err.code], [400, param, code], JSON.stringify(params));
    }
  });
});

describe('retrieve, update, list, attach, detach', () => {
  let stripe: Stripe;
  let customer: Stripe.Customer;
  before(async () => {
    stripe = await freshAccount();
    customer = await stripe.customers.create({ email: 'pm@example.com' });
  });

  test('a saved card, attached then detached, with its events and the acquirer\'s card check', async () => {
    const pm = await stripe.paymentMethods.create({ ...card('5555555555554444'), metadata: { a: '1' } });
    assert.deepEqual(await stripe.paymentMethods.retrieve(pm.id), pm);
    const updated = await stripe.paymentMethods.update(pm.id, { billing_details: { name: 'Grace' }, metadata: { b: '2' }, card: { exp_month: 6 } } as Stripe.PaymentMethodUpdateParams);
    assert.deepEqual([updated.billing_details.name, updated.metadata, updated.card!.exp_month], ['Grace', { a: '1', b: '2' }, 6]);
    const [upd] = await eventsAbout(stripe, 'payment_method.updated', pm.id);
    const previous = upd.data.previous_attributes as Record<string, any>;
    assert.deepEqual(Object.keys(previous).sort(), ['billing_details', 'card', 'metadata']);
    assert.deepEqual([previous.billing_details.name, previous.card.exp_month, previous.metadata.b ?? null], [null, 12, null]);

    const attached = await stripe.paymentMethods.attach(pm.id, { customer: customer.id });
    assert.equal(attached.id, pm.id);
    assert.equal(attached.customer, customer.id);
    const verification = (await ledgerOf(stripe, pm.id)).filter((e) => e.kind === 'verification');
    assert.deepEqual(verification.map((e) => [e.amount, e.outcome]), [[0, 'approved']]);
    assert.deepEqual((await stripe.customers.listPaymentMethods(customer.id)).data.map((m) => m.id), [pm.id]);
    assert.deepEqual((await stripe.paymentMethods.list({ customer: customer.id, type: 'card' })).data.map((m) => m.id), [pm.id]);
    assert.equal((await stripe.customers.retrievePaymentMethod(customer.id, pm.id)).id, pm.id);
    assert.equal((await stripe.paymentMethods.list({ customer: customer.id, type: 'sepa_debit' } as Stripe.PaymentMethodListParams)).data.length, 0);
    // Attaching it again to the same customer changes nothing (no second check, no second event).
    assert.equal((await stripe.paymentMethods.attach(pm.id, { customer: customer.id })).customer, customer.id);
    assert.equal((await eventsAbout(stripe, 'payment_method.attached', pm.id)).length, 1);

    const detached = await stripe.paymentMethods.detach(pm.id);
    assert.equal(detached.customer, null);
    assert.equal((await eventsAbout(stripe, 'payment_method.detached', pm.id)).length, 1);
    assert.equal((await stripe.customers.listPaymentMethods(customer.id)).data.length, 0);
    const again = await stripeError(stripe.paymentMethods.detach(pm.id));
    assert.deepEqual([again.statusCode, again.message], [400, 'The payment method you provided is not attached to a customer so detachment is impossible.']);
  });

  test('a test id attached to a customer becomes a saved copy of its own', async () => {
    const a = await stripe.paymentMethods.attach('pm_card_amex', { customer: customer.id });
    const b = await stripe.paymentMethods.attach('pm_card_amex', { customer: customer.id });
    assert.match(a.id, /^pm_(?!card_)/);
    assert.notEqual(a.id, b.id);
    assert.deepEqual([a.card!.brand, a.card!.last4, a.customer], ['amex', '0005', customer.id]);
    assert.equal(a.card!.fingerprint, b.card!.fingerprint);
    const [ev] = await eventsAbout(stripe, 'payment_method.attached', a.id);
    assert.equal((ev.data.object as Stripe.PaymentMethod).customer, customer.id);
    // The shared test id itself stays what it is.
    assert.equal((await stripe.paymentMethods.retrieve('pm_card_amex')).customer, null);
  });

  test('refusals: another customer\'s card, a declined card, a missing customer or method, a deleted customer', async () => {
    const other = await stripe.customers.create();
    const pm = await stripe.paymentMethods.create(card('4242424242424242'));
    await stripe.paymentMethods.attach(pm.id, { customer: customer.id });
    const taken = await stripeError(stripe.paymentMethods.attach(pm.id, { customer: other.id }));
    assert.deepEqual([taken.statusCode, taken.message], [400, 'The payment method you provided has already been attached to a customer.']);

    const declined = await stripe.paymentMethods.create(card('4000000000000002'));
    const refused = await stripeError(stripe.paymentMethods.attach(declined.id, { customer: customer.id }));
    assert.deepEqual([refused.statusCode, refused.type, refused.code, refused.decline_code], [402, 'StripeCardError', 'card_declined', 'generic_decline']);
    assert.equal((await stripe.paymentMethods.retrieve(declined.id)).customer, null);
    // 0341: attaching succeeds, charging fails.
    const later = await stripe.paymentMethods.attach((await stripe.paymentMethods.create(card('4000000000000341'))).id, { customer: customer.id });
    const charge = await stripeError(stripe.paymentIntents.create({ amount: 700, currency: 'usd', customer: customer.id, payment_method: later.id, confirm: true }));
    assert.equal(charge.code, 'card_declined');

    const missing = await stripeError(stripe.paymentMethods.attach(pm.id, { customer: 'cus_nope' }));
    assert.deepEqual([missing.statusCode, missing.code, missing.param], [400, 'resource_missing', 'customer']);
    const noMethod = await stripeError(stripe.paymentMethods.retrieve('pm_AAAAAAAAAAAAAAAAAAAAAAAA'));
    assert.deepEqual([noMethod.statusCode, noMethod.code], [404, 'resource_missing']);
    const noCustomer = await stripeError(stripe.paymentMethods.attach(pm.id, {} as Stripe.PaymentMethodAttachParams));
    assert.deepEqual([noCustomer.statusCode, noCustomer.param], [400, 'customer']);
    const notTheirs = await stripeError(stripe.customers.retrievePaymentMethod(other.id, pm.id));
    assert.equal(notTheirs.code, 'resource_missing');
    const gone = await stripe.customers.create();
    await stripe.customers.del(gone.id);
    assert.equal((await stripeError(stripe.customers.listPaymentMethods(gone.id))).statusCode, 404);
    assert.equal((await stripeError(stripe.paymentMethods.update('pm_card_visa', { metadata: { a: '1' } }))).statusCode, 400);
  });

  test('concurrent attaches of one card to one customer: one check at the acquirer per key, one attached event', async () => {
    const pm = await stripe.paymentMethods.create(card('5200828282828210'));
    const key = `attach-${pm.id}`;
    const same = await Promise.all(Array.from({ length: 8 }, () =>
      stripe.paymentMethods.attach(pm.id, { customer: customer.id }, { idempotencyKey: key }).catch((e: Stripe.errors.StripeError) => e)));
    const ok = same.filter((r): r is Stripe.Response<Stripe.PaymentMethod> => !(r instanceof Error));
    assert.ok(ok.length >= 1);
    for (const r of same) if (r instanceof Error) assert.equal(r.statusCode, 409, r.message);
    for (const r of ok) assert.equal(r.customer, customer.id);
    const distinct = await Promise.all(Array.from({ length: 4 }, () => stripe.paymentMethods.attach(pm.id, { customer: customer.id }).catch((e) => e)));
    for (const r of distinct) assert.equal((r as Stripe.PaymentMethod).customer, customer.id);
    assert.equal((await eventsAbout(stripe, 'payment_method.attached', pm.id)).length, 1);
    const checks = (await ledgerOf(stripe, pm.id)).filter((e) => e.kind === 'verification');
    assert.equal(checks.length, 1, JSON.stringify(checks));
  });
});

describe('saved cards in payments, invoices and subscriptions', () => {
  let stripe: Stripe;
  before(async () => { stripe = await freshAccount(); });

  test('customer create with payment_method attaches a copy and makes it the default the customer names', async () => {
    const c = await stripe.customers.create({ payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const [pm] = (await stripe.customers.listPaymentMethods(c.id)).data;
    assert.match(pm.id, /^pm_(?!card_)/);
    assert.equal(c.invoice_settings.default_payment_method, pm.id);
    const expanded = await stripe.customers.retrieve(c.id, { expand: ['invoice_settings.default_payment_method'] }) as Stripe.Customer;
    assert.equal((expanded.invoice_settings.default_payment_method as Stripe.PaymentMethod).card!.last4, '4242');
    // A declined card cannot be attached, and then no customer is created.
    const before = (await stripe.customers.list({ limit: 100 })).data.length;
    const refused = await stripeError(stripe.customers.create({ payment_method: 'pm_card_chargeDeclined' }));
    assert.equal(refused.statusCode, 402);
    assert.equal((await stripe.customers.list({ limit: 100 })).data.length, before);
  });

  test('a default payment method must be attached to the customer (a test id may be anyone\'s)', async () => {
    const c = await stripe.customers.create();
    const loose = await stripe.paymentMethods.create(card('4242424242424242'));
    const err = await stripeError(stripe.customers.update(c.id, { invoice_settings: { default_payment_method: loose.id } }));
    assert.deepEqual([err.statusCode, err.param], [400, 'invoice_settings[default_payment_method]']);
    await stripe.paymentMethods.attach(loose.id, { customer: c.id });
    assert.equal((await stripe.customers.update(c.id, { invoice_settings: { default_payment_method: loose.id } })).invoice_settings.default_payment_method, loose.id);
    // Detaching the default clears it.
    await stripe.paymentMethods.detach(loose.id);
    assert.equal((await stripe.customers.retrieve(c.id) as Stripe.Customer).invoice_settings.default_payment_method, null);
  });

  test('a payment with a customer\'s card, expanded; another customer cannot use it', async () => {
    const c = await stripe.customers.create();
    const pm = await stripe.paymentMethods.attach((await stripe.paymentMethods.create(card('6011111111111117'))).id, { customer: c.id });
    const pi = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd', customer: c.id, payment_method: pm.id, confirm: true, expand: ['payment_method'] });
    assert.equal(pi.status, 'succeeded');
    assert.equal((pi.payment_method as Stripe.PaymentMethod).id, pm.id);
    assert.equal((pi.payment_method as Stripe.PaymentMethod).card!.brand, 'discover');
    const other = await stripe.customers.create();
    const err = await stripeError(stripe.paymentIntents.create({ amount: 1200, currency: 'usd', customer: other.id, payment_method: pm.id, confirm: true }));
    assert.deepEqual([err.statusCode, err.param], [400, 'payment_method']);
    const noCustomer = await stripeError(stripe.paymentIntents.create({ amount: 1200, currency: 'usd', payment_method: pm.id }));
    assert.equal(noCustomer.param, 'payment_method');
  });

  test('setup_future_usage with a customer saves the card on the customer once the payment succeeds', async () => {
    const c = await stripe.customers.create();
    const pi = await stripe.paymentIntents.create({ amount: 900, currency: 'usd', customer: c.id, payment_method: 'pm_card_mastercard', setup_future_usage: 'off_session', confirm: true });
    assert.equal(pi.status, 'succeeded');
    assert.match(pi.payment_method as string, /^pm_(?!card_)/);
    const saved = (await stripe.customers.listPaymentMethods(c.id)).data;
    assert.deepEqual(saved.map((m) => m.id), [pi.payment_method]);
    // Charged later, off session, with no one there.
    const later = await stripe.paymentIntents.create({ amount: 400, currency: 'usd', customer: c.id, payment_method: saved[0].id, off_session: true, confirm: true });
    assert.equal(later.status, 'succeeded');
  });

  test('off session, a card that always needs authentication is declined authentication_required', async () => {
    const c = await stripe.customers.create();
    const pm = await stripe.paymentMethods.attach('pm_card_authenticationRequired', { customer: c.id });
    const err = await stripeError(stripe.paymentIntents.create({ amount: 400, currency: 'usd', customer: c.id, payment_method: pm.id, off_session: true, confirm: true })) as Stripe.errors.StripeCardError;
    assert.deepEqual([err.statusCode, err.code, err.decline_code], [402, 'authentication_required', 'authentication_required']);
    const pi = err.payment_intent as Stripe.PaymentIntent;
    assert.equal(pi.status, 'requires_payment_method');
    assert.equal(pi.last_payment_error!.payment_method!.id, pm.id);
    // On session, the same card asks for 3-D Secure instead.
    const on = await stripe.paymentIntents.create({ amount: 400, currency: 'usd', customer: c.id, payment_method: pm.id, confirm: true });
    assert.equal(on.status, 'requires_action');
  });

  test('invoices and subscriptions charge the customer\'s saved default card', async () => {
    const c = await stripe.customers.create();
    const pm = await stripe.paymentMethods.attach((await stripe.paymentMethods.create(card('378282246310005'))).id, { customer: c.id });
    await stripe.customers.update(c.id, { invoice_settings: { default_payment_method: pm.id } });
    await stripe.invoiceItems.create({ customer: c.id, amount: 3100, currency: 'usd' });
    const inv = await stripe.invoices.create({ customer: c.id, pending_invoice_items_behavior: 'include' });
    await stripe.invoices.finalizeInvoice(inv.id);
    const paid = await stripe.invoices.pay(inv.id);
    assert.equal(paid.status, 'paid');
    const charges = await stripe.charges.list({ customer: c.id });
    assert.deepEqual(charges.data.map((ch) => [ch.amount, ch.payment_method, ch.payment_method_details!.card!.brand]), [[3100, pm.id, 'amex']]);

    const product = await stripe.products.create({ name: 'Saved-card plan' });
    const price = await stripe.prices.create({ product: product.id, unit_amount: 1500, currency: 'usd', recurring: { interval: 'month' } });
    const sub = await stripe.subscriptions.create({ customer: c.id, items: [{ price: price.id }], default_payment_method: pm.id, expand: ['default_payment_method'] });
    assert.equal(sub.status, 'active');
    assert.equal((sub.default_payment_method as Stripe.PaymentMethod).id, pm.id);
    const stranger = await stripe.paymentMethods.create(card('4242424242424242'));
    await stripe.paymentMethods.attach(stranger.id, { customer: (await stripe.customers.create()).id });
    const err = await stripeError(stripe.subscriptions.create({ customer: c.id, items: [{ price: price.id }], default_payment_method: stranger.id }));
    assert.deepEqual([err.statusCode, err.param], [400, 'default_payment_method']);
  });
});
