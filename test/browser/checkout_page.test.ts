/**
 * The hosted Checkout page in a real Chromium (JavaScript off: the page is plain forms), used as
 * a customer would: it reads the labels, types a test card, clicks the button. Each test then
 * checks what the merchant sees: the page the browser ends on (the shop's success or cancel
 * page), the objects through the official client, the acquirer's ledger, and the merchant's
 * webhook handler (built on src/receiver) fulfilling the order exactly once.
 */
import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import type { Page } from 'playwright-core';
import { useTestServer } from '../helpers/server.ts';
import { browserTestsOff, fillCard, useBrowser, useShop } from '../helpers/browser.ts';
import { handledOnce, startWebhookSink, type WebhookSink } from '../helpers/webhook_sink.ts';
import { sales } from '../helpers/ledger.ts';
import { accountTables } from '../../src/accounts/reset.ts';

const VISA = '4242 4242 4242 4242';
const DECLINED = '4000 0000 0000 0002';
const THREE_DS = '4000 0000 0000 3220';
const SHOTS = process.env.ONCEPAY_SCREENSHOTS; // a folder: write the README's screenshots there

describe('hosted Checkout page', { skip: browserTestsOff && 'ONCEPAY_BROWSER_TESTS=0' }, () => {
  let sink: WebhookSink;
  const { server, stripe } = useTestServer({
    setup: async (s) => { sink = await startWebhookSink(s.stripe(), ['checkout.session.completed', 'checkout.session.expired']); },
  });
  const browser = useBrowser();

  // The merchant's own site, where success_url and cancel_url point (another origin than Oncepay's).
  const shop = useShop((path) => path.startsWith('/thanks') ? 'Thanks for your order' : 'Your cart');
  let shopUrl = '';
  before(() => { shopUrl = shop.url(); });
  after(async () => { await sink?.close(); });

  const urls = () => ({ success_url: `${shopUrl}/thanks?session_id={CHECKOUT_SESSION_ID}`, cancel_url: `${shopUrl}/cart` });
  const tshirts = (quantity = 2): Stripe.Checkout.SessionCreateParams.LineItem => ({
    price_data: { currency: 'usd', unit_amount: 1500, product_data: { name: 'T-shirt' } }, quantity,
  });
  const paymentSession = (extra: Partial<Stripe.Checkout.SessionCreateParams> = {}) =>
    stripe.checkout.sessions.create({ mode: 'payment', line_items: [tshirts()], ...urls(), ...extra });


  /** The session's checkout.session.completed was emitted once and the merchant's handler fulfilled it once. */
  const fulfilledOnce = (session: string) => handledOnce(sink, stripe, 'checkout.session.completed', session);

  async function open(url: string | null): Promise<Page> {
    assert.ok(url, 'the session has a url');
    const page = await browser.page();
    const res = await page.goto(url);
    assert.equal(res?.status(), 200);
    return page;
  }

  /** The card form's fields as the browser would post them (hidden ones included). */
  const formFields = async (page: Page) => {
    const names = ['csrf', 'attempt', 'submission', 'email', 'cardNumber', 'cardExpiry', 'cardCvc', 'billingName'];
    return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await page.locator(`[name=${n}]`).inputValue()] as const)));
  };
  /**
   * A double submission: the button clicked while the same form goes out a second time from the
   * same browser (its cookies). Chromium itself sends a double click's form once, so the second
   * post is made through the page's own request context, as a second click that got through would.
   */
  async function doubleSubmit(page: Page, url: string): Promise<number> {
    const fields = await formFields(page);
    const [, second] = await Promise.all([
      page.getByRole('button', { name: /^(Pay|Subscribe|Save card)$/ }).click(),
      page.request.post(url, { form: fields, maxRedirects: 0, headers: { origin: new URL(url).origin } }),
    ]);
    return second.status();
  }

  const shot = async (page: Page, name: string) => { if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true }); };

  test('payment mode: the page shows the items and total; paying with 4242 lands on success_url with the session id, paid once', async () => {
    const s = await paymentSession({ customer_email: 'ann@example.com' });
    const page = await open(s.url);
    assert.match(await page.locator('.summary').innerText(), /T-shirt[\s\S]*Qty 2[\s\S]*\$30\.00/);
    assert.equal(await page.locator('#total').innerText(), '$30.00');
    assert.equal(await page.getByLabel('Email').inputValue(), 'ann@example.com', 'the email the session knows is filled in');
    await shot(page, 'checkout_payment');
    await fillCard(page, { number: VISA });
    await page.getByRole('button', { name: 'Pay', exact: true }).click();
    await page.waitForURL(`${shopUrl}/thanks?session_id=${s.id}`);
    assert.equal(await page.locator('h1').innerText(), 'Thanks for your order');

    const done = await stripe.checkout.sessions.retrieve(s.id, { expand: ['payment_intent.latest_charge'] });
    assert.equal(done.status, 'complete');
    assert.equal(done.payment_status, 'paid');
    assert.equal(done.url, null);
    assert.equal(done.customer_details?.email, 'ann@example.com');
    assert.equal(done.customer_details?.name, 'Jenny Rosen');
    const pi = done.payment_intent as Stripe.PaymentIntent;
    assert.equal(pi.status, 'succeeded');
    assert.equal(pi.amount, 3000);
    const charge = pi.latest_charge as Stripe.Charge;
    assert.equal(charge.payment_method_details?.card?.last4, '4242');
    assert.equal(charge.billing_details.name, 'Jenny Rosen');
    assert.equal(sales(await server.ledger(pi.id)).length, 1, 'one sale in the ledger');
    await fulfilledOnce(s.id);
  });

  test('subscription mode: Subscribe starts the subscription, makes the customer, pays the first invoice', async () => {
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 900, recurring: { interval: 'month' }, product_data: { name: 'Pro plan' } });
    const s = await stripe.checkout.sessions.create({ mode: 'subscription', line_items: [{ price: price.id, quantity: 1 }], ...urls() });
    const page = await open(s.url);
    assert.match(await page.locator('.summary').innerText(), /Pro plan[\s\S]*\$9\.00 per month/);
    await shot(page, 'checkout_subscription');
    await fillCard(page, { number: VISA, email: 'sub@example.com' });
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await page.waitForURL(`${shopUrl}/thanks?session_id=${s.id}`);

    const done = await stripe.checkout.sessions.retrieve(s.id, { expand: ['subscription.latest_invoice', 'customer'] });
    assert.equal(done.status, 'complete');
    assert.equal(done.payment_status, 'paid');
    const sub = done.subscription as Stripe.Subscription;
    assert.equal(sub.status, 'active');
    assert.equal((done.customer as Stripe.Customer).email, 'sub@example.com');
    const invoice = sub.latest_invoice as Stripe.Invoice;
    assert.equal(invoice.status, 'paid');
    assert.equal(invoice.amount_paid, 900);
    await fulfilledOnce(s.id);
  });

  test('setup mode: Save card confirms the setup intent and saves the card on the customer, charging nothing', async () => {
    const customer = await stripe.customers.create({ email: 'setup@example.com' });
    const s = await stripe.checkout.sessions.create({ mode: 'setup', customer: customer.id, currency: 'usd', ...urls() });
    const page = await open(s.url);
    assert.match(await page.locator('.summary').innerText(), /Save a card/);
    await shot(page, 'checkout_setup');
    await fillCard(page, { number: VISA });
    await page.getByRole('button', { name: 'Save card', exact: true }).click();
    await page.waitForURL(`${shopUrl}/thanks?session_id=${s.id}`);

    const done = await stripe.checkout.sessions.retrieve(s.id, { expand: ['setup_intent'] });
    assert.equal(done.status, 'complete');
    assert.equal(done.payment_status, 'no_payment_required');
    const si = done.setup_intent as Stripe.SetupIntent;
    assert.equal(si.status, 'succeeded');
    const pms = await stripe.customers.listPaymentMethods(customer.id);
    assert.deepEqual(pms.data.map((pm) => pm.id), [si.payment_method]);
    assert.equal(pms.data[0]!.card?.last4, '4242');
    const ledger = await server.ledger();
    assert.ok(ledger.some((e) => e.payment_method === si.payment_method), 'the acquirer saw the card (its setup)');
    assert.deepEqual(sales(ledger).filter((e) => e.payment_method === si.payment_method), [], 'nothing charged');
    await fulfilledOnce(s.id);
  });

  test('a decline shows Stripe\'s message on the page and lets the customer try another card: one sale, on the same payment intent', async () => {
    const s = await paymentSession();
    const page = await open(s.url);
    await fillCard(page, { number: DECLINED, email: 'bob@example.com' });
    await page.getByRole('button', { name: 'Pay', exact: true }).click();
    await page.waitForURL(s.url!);
    assert.equal(await page.getByRole('alert').innerText(), 'Your card was declined.');
    assert.equal(await page.getByLabel('Card number').inputValue(), '', 'the card number is never echoed back');
    await shot(page, 'checkout_declined');
    const open1 = await stripe.checkout.sessions.retrieve(s.id);
    assert.equal(open1.status, 'open');
    assert.ok(open1.payment_intent, 'the declined payment intent is kept');

    await fillCard(page, { number: VISA });
    await page.getByRole('button', { name: 'Pay', exact: true }).click();
    await page.waitForURL(`${shopUrl}/thanks?session_id=${s.id}`);
    const done = await stripe.checkout.sessions.retrieve(s.id);
    assert.equal(done.status, 'complete');
    assert.equal(done.payment_intent, open1.payment_intent, 'the retry confirmed the same payment intent');
    const ledger = await server.ledger(done.payment_intent as string);
    assert.equal(sales(ledger).length, 1, 'one sale');
    assert.equal(ledger.filter((e) => e.outcome === 'declined').length, 1, 'and the declined attempt');
    await fulfilledOnce(s.id);
  });

  test('a card the form cannot use is shown by its field, and nothing is created', async () => {
    const s = await paymentSession();
    const page = await open(s.url);
    await fillCard(page, { number: '4242 4242 42', email: 'x@example.com', expiry: '13 / 30' });
    await page.getByRole('button', { name: 'Pay', exact: true }).click();
    assert.equal(await page.locator('#cardNumber-error').innerText(), 'Your card number is invalid.');
    assert.equal(await page.locator('#cardExpiry-error').innerText(), 'Your card\'s expiration date is invalid.');
    assert.equal(await page.getByLabel('Email').inputValue(), 'x@example.com', 'what was typed (but the card) stays');
    // A number the acquirer refuses (Luhn) answers Stripe's message on the card number field.
    await fillCard(page, { number: '4242 4242 4242 4241' });
    await page.getByRole('button', { name: 'Pay', exact: true }).click();
    assert.equal(await page.locator('#cardNumber-error').innerText(), 'Your card number is incorrect.');
    const still = await stripe.checkout.sessions.retrieve(s.id);
    assert.equal(still.status, 'open');
    assert.equal(still.payment_intent, null, 'no payment was attempted');
  });

  test('3-D Secure: the test step\'s Fail shows the failure and a new attempt; Complete then pays once', async () => {
    const s = await paymentSession();
    const page = await open(s.url);
    await fillCard(page, { number: THREE_DS, email: 'sca@example.com' });
    await page.getByRole('button', { name: 'Pay', exact: true }).click();
    await page.getByRole('button', { name: 'Complete', exact: true }).waitFor();
    assert.ok(await page.getByRole('button', { name: 'Fail', exact: true }).isVisible());
    await shot(page, 'checkout_3ds');
    assert.equal((await stripe.paymentIntents.retrieve((await stripe.checkout.sessions.retrieve(s.id)).payment_intent as string)).status, 'requires_action');
    await page.getByRole('button', { name: 'Fail', exact: true }).click();
    await page.getByLabel('Card number').waitFor();
    assert.equal(await page.getByRole('alert').innerText(), 'We are unable to authenticate your payment method. Please choose a different payment method and try again.');

    await fillCard(page, { number: THREE_DS });
    await page.getByRole('button', { name: 'Pay', exact: true }).click();
    await page.getByRole('button', { name: 'Complete', exact: true }).click();
    await page.waitForURL(`${shopUrl}/thanks?session_id=${s.id}`);
    const done = await stripe.checkout.sessions.retrieve(s.id);
    assert.equal(done.status, 'complete');
    assert.equal(sales(await server.ledger(done.payment_intent as string)).length, 1);
    await fulfilledOnce(s.id);
  });

  test('the cancel link goes back to cancel_url and leaves the session open and unpaid', async () => {
    const s = await paymentSession();
    const page = await open(s.url);
    await page.getByRole('link', { name: /Cancel/ }).click();
    await page.waitForURL(`${shopUrl}/cart`);
    assert.equal(await page.locator('h1').innerText(), 'Your cart');
    const still = await stripe.checkout.sessions.retrieve(s.id);
    assert.equal(still.status, 'open');
    assert.equal(still.payment_intent, null);
  });

  test('an expired session shows that it expired, with no form; a completed one shows that it is complete', async () => {
    const s = await paymentSession();
    const url = s.url!;
    await stripe.checkout.sessions.expire(s.id);
    const page = await open(url);
    assert.equal(await page.locator('h1').innerText(), 'This checkout session has expired');
    assert.equal(await page.getByLabel('Card number').count(), 0, 'no card form');
    await shot(page, 'checkout_expired');
    // Posting the old form anyway (a tab left open) charges nothing.
    assert.equal((await stripe.checkout.sessions.retrieve(s.id)).status, 'expired');

    const paid = await paymentSession();
    const p2 = await open(paid.url);
    await fillCard(p2, { number: VISA, email: 'c@example.com' });
    await p2.getByRole('button', { name: 'Pay', exact: true }).click();
    await p2.waitForURL(/\/thanks/);
    await p2.goBack();
    assert.equal(p2.url(), paid.url, 'back to the page');
    assert.equal(await p2.locator('h1').innerText(), 'Thanks!');
    assert.equal(await p2.getByLabel('Card number').count(), 0, 'no form to pay again');
    assert.equal(await p2.getByRole('link', { name: 'Continue' }).getAttribute('href'), `${shopUrl}/thanks?session_id=${paid.id}`);
  });

  test('exactly once from the browser: a double submission, the same form posted again, and a second tab paying at once make one sale and one fulfilment', async () => {
    // A double submission of one form.
    const a = await paymentSession();
    const pa = await open(a.url);
    await fillCard(pa, { number: VISA, email: 'dbl@example.com' });
    assert.equal(await doubleSubmit(pa, a.url!), 303);
    await pa.waitForURL(`${shopUrl}/thanks?session_id=${a.id}`);

    // Two tabs of one browser, each with its own card, submitted at the same moment; then a third
    // submission of the first tab's form as it was (what a reload that re-posts does).
    const b = await paymentSession();
    const ctx = await browser.context();
    const [t1, t2] = [await ctx.newPage(), await ctx.newPage()];
    await t1.goto(b.url!);
    await t2.goto(b.url!);
    await fillCard(t1, { number: VISA, email: 'tabs@example.com', name: 'Tab One' });
    await fillCard(t2, { number: '5555 5555 5555 4444', email: 'tabs@example.com', name: 'Tab Two' });
    const fields = await formFields(t1);
    await Promise.all([
      t1.getByRole('button', { name: 'Pay', exact: true }).click(),
      t2.getByRole('button', { name: 'Pay', exact: true }).click(),
    ]);
    await t1.waitForURL(`${shopUrl}/thanks?session_id=${b.id}`);
    await t2.waitForURL(`${shopUrl}/thanks?session_id=${b.id}`);
    const again = await t1.request.post(b.url!, { form: fields, maxRedirects: 0, headers: { origin: new URL(b.url!).origin } });
    assert.equal(again.status(), 303);
    assert.equal(again.headers().location, `${shopUrl}/thanks?session_id=${b.id}`, 'the re-post lands where the first one did');

    for (const s of [a, b]) {
      const done = await stripe.checkout.sessions.retrieve(s.id);
      assert.equal(done.status, 'complete');
      assert.equal(sales(await server.ledger(done.payment_intent as string)).length, 1, `one sale for ${s.id}`);
      const intents = await stripe.paymentIntents.list({ limit: 100 });
      assert.equal(intents.data.filter((pi) => pi.id === done.payment_intent).length, 1);
      await fulfilledOnce(s.id);
    }
  });

  test('a double submission of a declined card is one declined attempt: the page shows the decline, not another window\'s notice', async () => {
    const s = await paymentSession();
    const page = await open(s.url);
    await fillCard(page, { number: DECLINED, email: 'dbl-decline@example.com' });
    assert.equal(await doubleSubmit(page, s.url!), 303);
    await page.waitForURL(s.url!);
    await page.getByRole('alert').waitFor();
    assert.equal(await page.getByRole('alert').innerText(), 'Your card was declined.');
    assert.equal(await page.getByRole('status').count(), 0, 'no "submitted from another window" notice');
    const open1 = await stripe.checkout.sessions.retrieve(s.id);
    assert.equal(open1.status, 'open');
    const ledger = await server.ledger(open1.payment_intent as string);
    assert.deepEqual(ledger.map((e) => e.outcome), ['declined'], 'the card was tried once');
  });

  test('safe: security headers, no secret in the page, a forged post refused, and the card number kept nowhere', async () => {
    const s = await paymentSession();
    const res = await fetch(s.url!);
    const text = await res.text();
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'.*frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('referrer-policy'), 'same-origin');
    assert.ok(!text.includes(server.key) && !/sk_test_|pk_test_|whsec_/.test(text), 'no key in the page');
    assert.ok(!/<script/i.test(text), 'no script');
    // Another site's form (no CSRF cookie, another Origin) posting a card: refused, nothing charged.
    const forged = await fetch(s.url!, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ csrf: 'a'.repeat(32), attempt: '0', submission: 'A'.repeat(16), email: 'e@example.com', cardNumber: '4242424242424242', cardExpiry: '12/40', cardCvc: '123', billingName: 'Eve' }),
    });
    assert.equal(forged.status, 403);
    assert.equal((await stripe.checkout.sessions.retrieve(s.id)).payment_intent, null, 'nothing was attempted');
    // A guessed token opens nothing.
    assert.equal((await fetch(s.url!.replace(/[A-Za-z0-9]{8}$/, 'AAAAAAAA'))).status, 404);

    // Pay in the browser with a card whose number appears nowhere else, then search every table of the account.
    const page = await open(s.url);
    await fillCard(page, { number: '5555 5555 5555 4444', email: 'pan@example.com' });
    await page.getByRole('button', { name: 'Pay', exact: true }).click();
    await page.waitForURL(/\/thanks/);
    const q = server.oncepay.db;
    const tables = [...await accountTables(q), 'idempotency_keys'];
    let rows = 0;
    for (const t of [...new Set(tables)]) {
      const { rows: found } = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t} x WHERE x.account_id = $1 AND (x::text LIKE '%5555555555554444%' OR x::text LIKE '%5555 5555 5555 4444%')`, [server.accountId]);
      assert.equal(found[0]!.n, 0, `no card number in ${t}`);
      rows += 1;
    }
    assert.ok(rows > 10, 'searched the account\'s tables');
    const { rows: last4 } = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM payment_methods WHERE account_id = $1 AND data->'card'->>'last4' = '4444'`, [server.accountId]);
    assert.ok(last4[0]!.n >= 1, 'the card is kept by brand and last4');
  });
});
