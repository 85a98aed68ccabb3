/**
 * Checkout Sessions through the official client: create in every mode, retrieve with expansions,
 * list with its filters, line items with paging, expire, and completion through Oncepay's test
 * helper (the command the hosted page runs): what it creates and links, declines and retries,
 * 3-D Secure, and exactly once — the acquirer's ledger and a merchant's webhook handler are the
 * ground truth.
 */
process.env.ONCEPAY_STRIPE_TYPES = 'enforce';
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { sales } from '../helpers/ledger.ts';
import { eventsAbout } from '../helpers/events.ts';
import { handledOnce, startWebhookSink, type WebhookSink } from '../helpers/webhook_sink.ts';
import { waitFor } from '../helpers/wait.ts';

let sink: WebhookSink;
const { server, stripe } = useTestServer({
  setup: async (s) => { sink = await startWebhookSink(s.stripe(), ['checkout.session.completed', 'checkout.session.expired']); },
});
after(async () => { await sink?.close(); });

const SUCCESS = 'https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}';
const CANCEL = 'https://shop.example/cart';

type Session = Stripe.Checkout.Session;
const helper = (id: string, action: 'complete' | 'authenticate', params: Record<string, unknown>, idempotencyKey?: string) =>
  stripe.rawRequest('POST', `/v1/test_helpers/checkout/sessions/${id}/${action}`, params, idempotencyKey ? { idempotencyKey } : {}) as unknown as Promise<Session>;
const complete = (id: string, payment_method: string, extra: Record<string, unknown> = {}, key?: string) =>
  helper(id, 'complete', { payment_method, ...extra }, key);

const tshirts = (quantity = 2): Stripe.Checkout.SessionCreateParams.LineItem => ({
  price_data: { currency: 'usd', unit_amount: 1500, product_data: { name: 'T-shirt' } }, quantity,
});

/** The session's checkout.session.completed was emitted once, and the merchant's handler fulfilled the order once. */
const completedOnce = (session: string) => handledOnce(sink, stripe, 'checkout.session.completed', session);

describe('payment mode', () => {
  test('create prices the line items (price_data makes a product and a price), gives the hosted page an unguessable url, and completing pays once', async () => {
    const s = await stripe.checkout.sessions.create({
      mode: 'payment', line_items: [tshirts(2)], success_url: SUCCESS, cancel_url: CANCEL, client_reference_id: 'order_42',
      customer_email: 'ann@example.com', metadata: { order: '42' },
      payment_intent_data: { metadata: { order: '42' }, description: 'Order 42' },
    });
    assert.equal(s.object, 'checkout.session');
    assert.match(s.id, /^cs_test_/);
    assert.equal(s.status, 'open');
    assert.equal(s.payment_status, 'unpaid');
    assert.equal(s.mode, 'payment');
    assert.equal(s.amount_subtotal, 3000);
    assert.equal(s.amount_total, 3000);
    assert.equal(s.currency, 'usd');
    assert.equal(s.client_reference_id, 'order_42');
    assert.equal(s.customer_email, 'ann@example.com');
    assert.equal(s.success_url, SUCCESS, 'kept as given, as Stripe does: {CHECKOUT_SESSION_ID} is filled in on the redirect');
    assert.equal(s.cancel_url, CANCEL);
    assert.equal(s.payment_intent, null, 'nothing is charged before the customer submits');
    assert.ok(s.expires_at - s.created >= 23 * 3600, 'a session lives 24 hours by default');
    const url = new URL(s.url!);
    assert.equal(url.port, String(server.port), 'served by this server');
    assert.match(url.pathname, /^\/c\/pay\/[A-Za-z0-9]{40,}$/, 'the page token is long and random');
    assert.ok(!url.pathname.includes(s.id), 'the url does not reveal the session id');

    const items = await stripe.checkout.sessions.listLineItems(s.id);
    assert.equal(items.data.length, 1);
    const [li] = items.data;
    assert.equal(li.object, 'item');
    assert.equal(li.description, 'T-shirt');
    assert.equal(li.quantity, 2);
    assert.equal(li.amount_total, 3000);
    const price = li.price!;
    assert.equal(price.unit_amount, 1500);
    const product = await stripe.products.retrieve(price.product as string);
    assert.equal(product.name, 'T-shirt');

    const done = await complete(s.id, 'pm_card_visa', { email: 'ann@example.com', name: 'Ann Lee' });
    assert.equal(done.status, 'complete');
    assert.equal(done.payment_status, 'paid');
    assert.equal(done.url, null, 'a complete session has no page to open');
    assert.equal(done.customer_details?.email, 'ann@example.com');
    assert.equal(done.customer_details?.name, 'Ann Lee');

    const got = await stripe.checkout.sessions.retrieve(s.id, { expand: ['payment_intent', 'line_items'] });
    const pi = got.payment_intent as Stripe.PaymentIntent;
    assert.equal(pi.status, 'succeeded');
    assert.equal(pi.amount, 3000);
    assert.equal(pi.currency, 'usd');
    assert.deepEqual(pi.metadata, { order: '42' });
    assert.equal(pi.description, 'Order 42');
    assert.equal(got.line_items!.data[0].id, li.id);
    assert.equal(sales(await server.ledger(pi.id)).length, 1, 'the acquirer charged once');
    await completedOnce(s.id);
    const [event] = sink.of('checkout.session.completed', s.id);
    assert.equal((event.data.object as { payment_intent: string }).payment_intent, pi.id, 'the event links the payment');
    assert.deepEqual((event.data.object as { metadata: unknown }).metadata, { order: '42' });

    // Completing again: refused, nothing more charged.
    await assert.rejects(complete(s.id, 'pm_card_visa'), (e: Stripe.errors.StripeError) => e.statusCode === 400 && e.param === 'session' && /status of open/.test(e.message));
    assert.equal(sales(await server.ledger(pi.id)).length, 1);
  });

  test('customer_creation=always makes a customer from what the page collected, linked both ways; an existing customer pays as themselves', async () => {
    const s = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [tshirts(1)], customer_creation: 'always', success_url: SUCCESS });
    const done = await complete(s.id, 'pm_card_visa', { email: 'new@example.com', name: 'New Buyer' });
    const customer = await stripe.customers.retrieve(done.customer as string) as Stripe.Customer;
    assert.equal(customer.email, 'new@example.com');
    assert.equal(customer.name, 'New Buyer');
    const pi = await stripe.paymentIntents.retrieve(done.payment_intent as string);
    assert.equal(pi.customer, customer.id);
    assert.deepEqual((await stripe.checkout.sessions.list({ customer: customer.id })).data.map((x) => x.id), [s.id]);

    const existing = await stripe.customers.create({ email: 'known@example.com' });
    const t = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [tshirts(1)], customer: existing.id, success_url: SUCCESS });
    assert.equal(t.customer, existing.id);
    const paid = await complete(t.id, 'pm_card_visa');
    assert.equal(paid.customer, existing.id);
    assert.equal(paid.customer_details?.email, 'known@example.com', 'customer_details from the customer');
    assert.equal((await stripe.paymentIntents.retrieve(paid.payment_intent as string)).customer, existing.id);
  });

  test('a decline answers Stripe\'s card error with the payment intent; the customer tries another card and the same intent succeeds: one sale', async () => {
    const s = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [tshirts(1)], success_url: SUCCESS });
    let declinedIntent = '';
    await assert.rejects(complete(s.id, 'pm_card_chargeDeclinedInsufficientFunds'), (e: Stripe.errors.StripeError) => {
      assert.equal(e.type, 'StripeCardError');
      assert.equal(e.statusCode, 402);
      assert.equal(e.code, 'card_declined');
      assert.equal(e.decline_code, 'insufficient_funds');
      assert.equal(e.message, 'Your card has insufficient funds.');
      declinedIntent = e.payment_intent!.id;
      assert.equal(e.payment_intent!.status, 'requires_payment_method');
      return true;
    });
    const open = await stripe.checkout.sessions.retrieve(s.id);
    assert.equal(open.status, 'open');
    assert.equal(open.payment_intent, declinedIntent, 'the session keeps its intent');
    const done = await complete(s.id, 'pm_card_visa');
    assert.equal(done.status, 'complete');
    assert.equal(done.payment_intent, declinedIntent, 'the retry confirms the same intent');
    const ledger = await server.ledger(declinedIntent);
    assert.equal(sales(ledger).length, 1);
    await completedOnce(s.id);
  });

  test('3-D Secure: the session waits for the customer; Fail leaves it open with the error, Complete then pays', async () => {
    const s = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [tshirts(1)], success_url: SUCCESS });
    const waiting = await complete(s.id, 'pm_card_threeDSecure2Required');
    assert.equal(waiting.status, 'open');
    const pi = await stripe.paymentIntents.retrieve(waiting.payment_intent as string);
    assert.equal(pi.status, 'requires_action');
    await assert.rejects(complete(s.id, 'pm_card_visa'), (e: Stripe.errors.StripeError) => e.param === 'session' && /authenticate/.test(e.message));

    await assert.rejects(helper(s.id, 'authenticate', { outcome: 'fail' }), (e: Stripe.errors.StripeError) => {
      assert.equal(e.statusCode, 402);
      assert.equal(e.code, 'payment_intent_authentication_failure');
      return true;
    });
    assert.equal((await stripe.paymentIntents.retrieve(pi.id)).status, 'requires_payment_method');
    const again = await complete(s.id, 'pm_card_threeDSecure2Required');
    assert.equal(again.status, 'open');
    const done = await helper(s.id, 'authenticate', { outcome: 'complete' });
    assert.equal(done.status, 'complete');
    assert.equal(done.payment_status, 'paid');
    assert.equal((await stripe.paymentIntents.retrieve(pi.id)).status, 'succeeded');
    assert.equal(sales(await server.ledger(pi.id)).length, 1);
    await assert.rejects(helper(s.id, 'authenticate', { outcome: 'complete' }), (e: Stripe.errors.StripeError) => e.statusCode === 400 && e.param === 'session');
  });

  test('capture_method=manual: the session completes with the payment authorized (payment_status unpaid) and the merchant captures', async () => {
    const s = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [tshirts(1)], payment_intent_data: { capture_method: 'manual' }, success_url: SUCCESS });
    const done = await complete(s.id, 'pm_card_visa');
    assert.equal(done.status, 'complete');
    assert.equal(done.payment_status, 'unpaid');
    const pi = await stripe.paymentIntents.retrieve(done.payment_intent as string);
    assert.equal(pi.status, 'requires_capture');
    assert.equal((await stripe.paymentIntents.capture(pi.id)).status, 'succeeded');
  });

  test('setup_future_usage keeps the card on a customer made for it', async () => {
    const s = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [tshirts(1)], payment_intent_data: { setup_future_usage: 'off_session' }, success_url: SUCCESS });
    const done = await complete(s.id, 'pm_card_visa', { email: 'keep@example.com' });
    assert.ok(done.customer, 'a customer is made to keep the card');
    const pms = await stripe.customers.listPaymentMethods(done.customer as string);
    assert.equal(pms.data.length, 1);
    assert.equal(pms.data[0].card?.last4, '4242');
  });
});

describe('subscription mode', () => {
  test('completing creates the customer, the subscription with its first invoice paid, and one-time items on that invoice', async () => {
    const monthly = await stripe.prices.create({ currency: 'usd', unit_amount: 900, recurring: { interval: 'month' }, product_data: { name: 'Pro' } });
    const setupFee = await stripe.prices.create({ currency: 'usd', unit_amount: 500, product_data: { name: 'Setup fee' } });
    const s = await stripe.checkout.sessions.create({
      mode: 'subscription', success_url: SUCCESS, customer_email: 'sub@example.com',
      line_items: [{ price: monthly.id, quantity: 2 }, { price: setupFee.id, quantity: 1 }],
      subscription_data: { metadata: { plan: 'pro' } },
    });
    assert.equal(s.amount_total, 2300);
    const done = await complete(s.id, 'pm_card_visa', { name: 'Sub Scriber' });
    assert.equal(done.status, 'complete');
    assert.equal(done.payment_status, 'paid');
    const got = await stripe.checkout.sessions.retrieve(s.id, { expand: ['subscription', 'customer', 'subscription.latest_invoice'] });
    const sub = got.subscription as Stripe.Subscription;
    assert.equal(sub.status, 'active');
    assert.deepEqual(sub.metadata, { plan: 'pro' });
    assert.equal(sub.items.data[0].price.id, monthly.id);
    assert.equal(sub.items.data[0].quantity, 2);
    const invoice = sub.latest_invoice as Stripe.Invoice;
    assert.equal(invoice.status, 'paid');
    assert.equal(invoice.amount_paid, 2300, 'the setup fee is on the first invoice');
    const customer = got.customer as Stripe.Customer;
    assert.equal(customer.email, 'sub@example.com');
    assert.equal(sub.customer, customer.id);
    assert.equal(sub.default_payment_method !== null, true);
    await completedOnce(s.id);
  });

  test('a trial completes with no payment required; a declined first invoice lets the customer retry on the same subscription', async () => {
    const monthly = await stripe.prices.create({ currency: 'usd', unit_amount: 1200, recurring: { interval: 'month' }, product_data: { name: 'Team' } });
    const trial = await stripe.checkout.sessions.create({ mode: 'subscription', success_url: SUCCESS, line_items: [{ price: monthly.id, quantity: 1 }], subscription_data: { trial_period_days: 14 } });
    const t = await complete(trial.id, 'pm_card_visa');
    assert.equal(t.payment_status, 'no_payment_required');
    assert.equal((await stripe.subscriptions.retrieve(t.subscription as string)).status, 'trialing');

    const s = await stripe.checkout.sessions.create({ mode: 'subscription', success_url: SUCCESS, line_items: [{ price: monthly.id, quantity: 1 }] });
    await assert.rejects(complete(s.id, 'pm_card_chargeDeclined'), (e: Stripe.errors.StripeError) => e.code === 'card_declined' && e.statusCode === 402);
    const open = await stripe.checkout.sessions.retrieve(s.id);
    assert.equal(open.status, 'open');
    const done = await complete(s.id, 'pm_card_visa');
    assert.equal(done.status, 'complete');
    const sub = await stripe.subscriptions.retrieve(done.subscription as string, { expand: ['latest_invoice'] });
    assert.equal(sub.status, 'active');
    assert.equal((sub.latest_invoice as Stripe.Invoice).status, 'paid');
    assert.equal((await stripe.subscriptions.list({ customer: done.customer as string })).data.length, 1, 'one subscription');
  });
});

describe('setup mode', () => {
  test('the setup intent exists from creation; completing saves the card on the customer', async () => {
    const customer = await stripe.customers.create({ email: 'save@example.com' });
    const s = await stripe.checkout.sessions.create({ mode: 'setup', currency: 'usd', customer: customer.id, success_url: SUCCESS });
    assert.equal(s.amount_total, null);
    assert.match(s.setup_intent as string, /^seti_/);
    const done = await complete(s.id, 'pm_card_visa');
    assert.equal(done.status, 'complete');
    assert.equal(done.payment_status, 'no_payment_required');
    const got = await stripe.checkout.sessions.retrieve(s.id, { expand: ['setup_intent'] });
    const si = got.setup_intent as Stripe.SetupIntent;
    assert.equal(si.status, 'succeeded');
    const pms = await stripe.customers.listPaymentMethods(customer.id);
    assert.deepEqual(pms.data.map((pm) => pm.id), [si.payment_method]);
  });
});

describe('expiry, lists and line items', () => {
  test('expire: the session is expired (checkout.session.expired once) and can be neither paid nor expired again', async () => {
    const s = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [tshirts(1)], success_url: SUCCESS });
    const expired = await stripe.checkout.sessions.expire(s.id);
    assert.equal(expired.status, 'expired');
    assert.equal(expired.url, null);
    await waitFor('checkout.session.expired', () => sink.of('checkout.session.expired', s.id).length, (n) => n === 1);
    await assert.rejects(complete(s.id, 'pm_card_visa'), (e: Stripe.errors.StripeError) => e.statusCode === 400 && e.param === 'session');
    await assert.rejects(stripe.checkout.sessions.expire(s.id), (e: Stripe.errors.StripeError) => e.statusCode === 400 && /expired/.test(e.message));
    const paid = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [tshirts(1)], success_url: SUCCESS });
    await complete(paid.id, 'pm_card_visa');
    await assert.rejects(stripe.checkout.sessions.expire(paid.id), (e: Stripe.errors.StripeError) => e.statusCode === 400 && /complete/.test(e.message));
    assert.equal((await eventsAbout(stripe, 'checkout.session.expired', s.id)).length, 1);
  });

  test('list filters by status, customer, payment_intent, subscription and customer_details[email]', async () => {
    const acct = await server.newAccount();
    const c = server.stripe({ key: acct.key });
    const cus = await c.customers.create({ email: 'f@example.com' });
    const a = await c.checkout.sessions.create({ mode: 'payment', line_items: [tshirts(1)], customer: cus.id, success_url: SUCCESS });
    const b = await c.checkout.sessions.create({ mode: 'payment', line_items: [tshirts(1)], success_url: SUCCESS });
    const x = await c.checkout.sessions.create({ mode: 'payment', line_items: [tshirts(1)], success_url: SUCCESS });
    await c.checkout.sessions.expire(x.id);
    const paid = await c.rawRequest('POST', `/v1/test_helpers/checkout/sessions/${b.id}/complete`, { payment_method: 'pm_card_visa', email: 'g@example.com' }) as unknown as Session;
    const ids = async (p: Stripe.Checkout.SessionListParams) => (await c.checkout.sessions.list(p)).data.map((s) => s.id);
    assert.deepEqual(await ids({}), [x.id, b.id, a.id], 'newest first');
    assert.deepEqual(await ids({ status: 'open' }), [a.id]);
    assert.deepEqual(await ids({ status: 'complete' }), [b.id]);
    assert.deepEqual(await ids({ status: 'expired' }), [x.id]);
    assert.deepEqual(await ids({ customer: cus.id }), [a.id]);
    assert.deepEqual(await ids({ payment_intent: paid.payment_intent as string }), [b.id]);
    assert.deepEqual(await ids({ customer_details: { email: 'g@example.com' } }), [b.id]);
    assert.deepEqual(await ids({ limit: 1, starting_after: x.id }), [b.id]);
    const all: string[] = [];
    for await (const s of c.checkout.sessions.list({ limit: 1 })) all.push(s.id);
    assert.deepEqual(all, [x.id, b.id, a.id], 'auto-pagination');
  });

  test('line items page with limit, starting_after and ending_before, has_more on both sides', async () => {
    const lineItems = Array.from({ length: 5 }, (_, i) => ({ price_data: { currency: 'usd', unit_amount: 100 * (i + 1), product_data: { name: `Item ${i + 1}` } }, quantity: 1 }));
    const s = await stripe.checkout.sessions.create({ mode: 'payment', line_items: lineItems, success_url: SUCCESS });
    assert.equal(s.amount_total, 1500);
    const all = await stripe.checkout.sessions.listLineItems(s.id, { limit: 100 });
    assert.deepEqual(all.data.map((li) => li.description), ['Item 1', 'Item 2', 'Item 3', 'Item 4', 'Item 5']);
    const first = await stripe.checkout.sessions.listLineItems(s.id, { limit: 2 });
    assert.deepEqual(first.data.map((li) => li.description), ['Item 1', 'Item 2']);
    assert.equal(first.has_more, true);
    const next = await stripe.checkout.sessions.listLineItems(s.id, { limit: 2, starting_after: first.data[1].id });
    assert.deepEqual(next.data.map((li) => li.description), ['Item 3', 'Item 4']);
    const back = await stripe.checkout.sessions.listLineItems(s.id, { limit: 2, ending_before: all.data[4].id });
    assert.deepEqual(back.data.map((li) => li.description), ['Item 3', 'Item 4']);
    assert.equal(back.has_more, true, 'items 1 and 2 lie before');
    const start = await stripe.checkout.sessions.listLineItems(s.id, { limit: 2, ending_before: all.data[2].id });
    assert.equal(start.has_more, false);
    const seen: string[] = [];
    for await (const li of stripe.checkout.sessions.listLineItems(s.id, { limit: 2 })) seen.push(li.description!);
    assert.equal(seen.length, 5, 'auto-pagination walks every item');
  });

  test('update changes metadata only', async () => {
    const s = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [tshirts(1)], success_url: SUCCESS, metadata: { a: '1' } });
    const u = await stripe.checkout.sessions.update(s.id, { metadata: { b: '2' } });
    assert.deepEqual(u.metadata, { a: '1', b: '2' });
  });
});

describe('bad input: Stripe\'s error shape, naming the parameter, nothing written', () => {
  test('create refuses what Stripe refuses', async () => {
    const recurring = await stripe.prices.create({ currency: 'usd', unit_amount: 900, recurring: { interval: 'month' }, product_data: { name: 'Rec' } });
    const eur = await stripe.prices.create({ currency: 'eur', unit_amount: 900, product_data: { name: 'Eur' } });
    const before = (await stripe.checkout.sessions.list({ limit: 100 })).data.length;
    const cases: Array<[Record<string, unknown>, string, string?]> = [
      [{ mode: 'payment' }, 'line_items', 'parameter_missing'],
      [{ mode: 'bogus', line_items: [tshirts(1)] }, 'mode'],
      [{ mode: 'payment', line_items: [{ price: recurring.id, quantity: 1 }] }, 'line_items[0][price]'],
      [{ mode: 'subscription', line_items: [tshirts(1)] }, 'line_items'],
      [{ mode: 'payment', line_items: [tshirts(1), { price: eur.id, quantity: 1 }] }, 'line_items[1][price]'],
      [{ mode: 'payment', line_items: [{ price: 'price_nope', quantity: 1 }] }, 'line_items[0][price]', 'resource_missing'],
      [{ mode: 'payment', line_items: [{ price_data: { currency: 'usd', unit_amount: 100, product_data: { name: 'x' } } }] }, 'line_items[0][quantity]', 'parameter_missing'],
      [{ mode: 'payment', line_items: [{ price_data: { currency: 'usd', unit_amount: 100 }, quantity: 1 }] }, 'line_items[0][price_data][product_data]', 'parameter_missing'],
      [{ mode: 'payment', line_items: [tshirts(1)], customer: 'cus_nope' }, 'customer', 'resource_missing'],
      [{ mode: 'payment', line_items: [tshirts(1)], customer: 'cus_x', customer_email: 'a@example.com' }, 'customer_email'],
      [{ mode: 'payment', line_items: [tshirts(1)], expires_at: Math.floor(Date.now() / 1000) + 60 }, 'expires_at'],
      [{ mode: 'payment', line_items: [tshirts(1)], subscription_data: { trial_period_days: 3 } }, 'subscription_data'],
      [{ mode: 'setup', line_items: [tshirts(1)] }, 'line_items'],
      [{ mode: 'payment', line_items: [tshirts(1)], payment_intent_data: { capture_method: 'sometimes' } }, 'payment_intent_data[capture_method]'],
    ];
    for (const [params, param, code] of cases) {
      await assert.rejects(stripe.checkout.sessions.create(params as never), (e: Stripe.errors.StripeError) => {
        assert.equal(e.type, 'StripeInvalidRequestError', JSON.stringify(params));
        assert.equal(e.statusCode, 400);
        assert.equal(e.param, param, `${JSON.stringify(params)}: ${e.message}`);
        if (code) assert.equal(e.code, code, e.message);
        return true;
      });
    }
    assert.equal((await stripe.checkout.sessions.list({ limit: 100 })).data.length, before, 'no session was written');
  });

  test('retrieve, expire and the helpers name what is missing', async () => {
    for (const call of [stripe.checkout.sessions.retrieve('cs_test_nope'), stripe.checkout.sessions.expire('cs_test_nope')]) {
      await assert.rejects(call, (e: Stripe.errors.StripeError) => e.code === 'resource_missing' && /No such checkout.session: 'cs_test_nope'/.test(e.message));
    }
    const s = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [tshirts(1)], success_url: SUCCESS });
    await assert.rejects(helper(s.id, 'complete', {}), (e: Stripe.errors.StripeError) => e.param === 'payment_method' && e.code === 'parameter_missing');
    await assert.rejects(complete(s.id, 'pm_nope'), (e: Stripe.errors.StripeError) => e.statusCode === 400 && e.code === 'resource_missing' && /payment_method/.test(e.param ?? ''));
    await assert.rejects(helper(s.id, 'authenticate', { outcome: 'maybe' }), (e: Stripe.errors.StripeError) => e.param === 'outcome');
    await assert.rejects(helper(s.id, 'authenticate', { outcome: 'complete' }), (e: Stripe.errors.StripeError) => e.param === 'session' && /no authentication step/.test(e.message));
    // After a refused payment method the session is open and payable.
    assert.equal((await complete(s.id, 'pm_card_visa')).status, 'complete');
  });
});

describe('exactly once', () => {
  test('many completions at once, under one key and under different keys: one completes, one sale, one event', async () => {
    const s = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [tshirts(3)], success_url: SUCCESS });
    const key = `complete_${s.id}`;
    const settled = await Promise.allSettled([
      ...Array.from({ length: 8 }, () => complete(s.id, 'pm_card_visa', {}, key)),
      ...Array.from({ length: 8 }, (_, i) => complete(s.id, 'pm_card_visa', {}, `${key}_${i}`)),
    ]);
    const completed = settled.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<Session>).value);
    assert.ok(completed.length >= 1, 'at least one completion answered');
    assert.ok(completed.every((x) => x.status === 'complete' && x.payment_intent === completed[0].payment_intent));
    for (const r of settled) {
      if (r.status === 'rejected') {
        const e = r.reason as Stripe.errors.StripeError;
        assert.ok(e.statusCode === 409 || (e.statusCode === 400 && e.param === 'session'), `only busy or already complete: ${e.statusCode} ${e.message}`);
      }
    }
    const got = await stripe.checkout.sessions.retrieve(s.id);
    assert.equal(got.status, 'complete');
    assert.equal(sales(await server.ledger(got.payment_intent as string)).length, 1, 'one sale');
    assert.equal((await stripe.paymentIntents.list({ limit: 100 })).data.filter((pi) => pi.id === got.payment_intent).length, 1);
    await completedOnce(s.id);
    // The same key replays the first answer.
    const replay = await complete(s.id, 'pm_card_visa', {}, key);
    assert.equal(replay.status, 'complete');
    assert.equal(replay.payment_intent, got.payment_intent);
  });
});
