/**
 * The billing portal's hosted page in a real Chromium (JavaScript off: the page is plain forms),
 * used as a customer would: open a portal session's url, read the subscription, the invoices and
 * the cards, click Cancel, Renew, Update subscription, Add payment method, Make default, Remove.
 * Each test then checks what the merchant sees through the official client (the subscription,
 * the customer, the payment methods), the events (each change announced once) and the merchant's
 * webhook handler (built on src/receiver).
 */
import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import type { Page } from 'playwright-core';
import { waitFor } from '../helpers/wait.ts';
import { useTestServer } from '../helpers/server.ts';
import { browserTestsOff, fillCard, useBrowser, useShop } from '../helpers/browser.ts';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook_sink.ts';
import { eventsAbout } from '../helpers/events.ts';

const SHOTS = process.env.ONCEPAY_SCREENSHOTS; // a folder: write the README's screenshots there
const MASTERCARD = '5555 5555 5555 4444';

type Features = Stripe.BillingPortal.ConfigurationCreateParams.Features;
const ALL: Features = {
  invoice_history: { enabled: true },
  payment_method_update: { enabled: true },
  subscription_cancel: { enabled: true, mode: 'at_period_end' },
};

describe('billing portal page', { skip: browserTestsOff && 'ONCEPAY_BROWSER_TESTS=0' }, () => {
  let sink: WebhookSink;
  const { server, stripe } = useTestServer({
    setup: async (s) => { sink = await startWebhookSink(s.stripe(), ['customer.subscription.updated', 'customer.subscription.deleted', 'payment_method.attached', 'payment_method.detached']); },
  });
  const browser = useBrowser();

  // The merchant's own site, where return_url points (another origin than Oncepay's).
  const shop = useShop(() => 'Your account');
  let shopUrl = '';
  before(() => { shopUrl = shop.url(); });
  after(async () => { await sink?.close(); });

  let n = 0;
  /** A product with a monthly price (and more prices when asked). */
  async function product(name: string, amounts: { amount: number; interval?: 'month' | 'year' }[]): Promise<{ product: Stripe.Product; prices: Stripe.Price[] }> {
    const p = await stripe.products.create({ name });
    const list: Stripe.Price[] = [];
    for (const a of amounts) list.push(await stripe.prices.create({ product: p.id, currency: 'usd', unit_amount: a.amount, recurring: { interval: a.interval ?? 'month' } }));
    return { product: p, prices: list };
  }

  /** A customer paying by Visa (their default payment method) with an active subscription to `price`, its first invoice paid. */
  async function subscribed(price: string): Promise<{ customer: Stripe.Customer; sub: Stripe.Subscription; visa: string }> {
    n += 1;
    const customer = await stripe.customers.create({ email: `portal${n}@example.com`, name: 'Jenny Rosen', payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const visa = customer.invoice_settings.default_payment_method as string;
    assert.match(visa, /^pm_/);
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price }] });
    assert.equal(sub.status, 'active');
    return { customer, sub, visa };
  }

  async function portal(customer: string, features: Features, extra: Partial<Stripe.BillingPortal.ConfigurationCreateParams> = {}): Promise<Stripe.BillingPortal.Session> {
    const configuration = await stripe.billingPortal.configurations.create({ features, ...extra });
    return stripe.billingPortal.sessions.create({ customer, configuration: configuration.id, return_url: `${shopUrl}/account` });
  }

  async function open(url: string): Promise<Page> {
    const page = await browser.page();
    const res = await page.goto(url);
    assert.equal(res?.status(), 200);
    return page;
  }

  /** The customer.subscription.updated events of `id` that changed `attr` (its creation's own update, when the first invoice is paid, changes status). */
  const changes = async (id: string, attr: string) =>
    (await eventsAbout(stripe, 'customer.subscription.updated', id)).filter((e) => attr in ((e.data.previous_attributes ?? {}) as object)).length;
  /** The merchant's handler's deliveries of a subscription set to cancel. */
  const delivered = (id: string) => sink.of('customer.subscription.updated', id).filter((e) => (e.data.object as { cancel_at_period_end?: boolean }).cancel_at_period_end === true).length;

  const sub$ = (page: Page, id: string) => page.locator(`.subscription#${id}`);
  const button = (page: Page, scope: string, name: string) => page.locator(scope).getByRole('button', { name, exact: true });
  const notice = (page: Page) => page.locator('#notice').innerText();
  const origin = (url: string) => new URL(url).origin;

  test('the page shows the subscription, the invoice, the cards, the headline and policies; the invoice link opens its page; the return link goes to return_url', async () => {
    const { prices } = await product('Pro plan', [{ amount: 1500 }]);
    const { customer, sub, visa } = await subscribed(prices[0]!.id);
    await stripe.paymentMethods.attach('pm_card_mastercard', { customer: customer.id });
    const s = await portal(customer.id, ALL, {
      business_profile: { headline: 'Acme: manage your plan', privacy_policy_url: 'https://acme.example/privacy', terms_of_service_url: 'https://acme.example/terms' },
    });
    assert.ok(s.url.includes('/p/session/'));
    const page = await open(s.url);
    const block = await sub$(page, sub.id).innerText();
    assert.match(block, /Pro plan/);
    assert.match(block, /\$15\.00 per month/);
    assert.match(block, /Active/);
    const end = new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(sub.items.data[0]!.current_period_end * 1000));
    assert.match(block, new RegExp(`Renews on ${end}`));
    assert.equal(await button(page, `#${sub.id}`, 'Cancel subscription').count(), 1);
    assert.equal(await button(page, `#${sub.id}`, 'Renew subscription').count(), 0);
    assert.equal(await page.locator(`#${sub.id} #update-${sub.id}`).count(), 0, 'no Update without products in the configuration');

    const invoices = await stripe.invoices.list({ customer: customer.id });
    assert.equal(invoices.data.length, 1);
    const inv = invoices.data[0]!;
    const row = await page.locator(`.invoice#${inv.id}`).innerText();
    assert.match(row, /\$15\.00/);
    assert.match(row, /Paid/);
    assert.ok(row.includes(inv.number!), 'the invoice number');

    const cards = page.locator('#payment-methods .card');
    assert.equal(await cards.count(), 2);
    assert.match(await page.locator(`.card#${visa}`).innerText(), /Visa •••• 4242[\s\S]*Default/);
    assert.match(await page.locator('#payment-methods').innerText(), /Mastercard •••• 4444/);
    assert.equal(await page.locator(`.card#${visa}`).getByRole('button', { name: 'Remove' }).count(), 0, 'the default card of an active subscription cannot be removed');
    assert.equal(await page.locator(`.card#${visa}`).getByRole('button', { name: 'Make default' }).count(), 0);

    assert.equal(await page.locator('.summary h1').innerText(), 'Acme: manage your plan');
    assert.equal(await page.locator('#terms').getAttribute('href'), 'https://acme.example/terms');
    assert.equal(await page.locator('#privacy').getAttribute('href'), 'https://acme.example/privacy');
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/portal.png`, fullPage: true });

    await page.locator(`.invoice#${inv.id} a`).click();
    await page.waitForURL(inv.hosted_invoice_url!);
    assert.match(await page.locator('#number').innerText(), new RegExp(inv.number!));
    await page.goBack();
    await page.getByRole('link', { name: '← Return to the shop' }).click();
    await page.waitForURL(`${shopUrl}/account`);
    assert.equal(await page.locator('h1').innerText(), 'Your account');
  });

  test('Cancel (at period end) sets cancel_at_period_end once, shows when it ends; Renew sets it back', async () => {
    const { prices } = await product('Basic', [{ amount: 900 }]);
    const { customer, sub } = await subscribed(prices[0]!.id);
    const s = await portal(customer.id, ALL);
    const page = await open(s.url);
    await button(page, `#${sub.id}`, 'Cancel subscription').click();
    await page.waitForURL(/notice=cancel_scheduled/);
    const end = new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(sub.items.data[0]!.current_period_end * 1000));
    assert.equal(await notice(page), `Your subscription will be canceled on ${end}.`);
    assert.match(await sub$(page, sub.id).innerText(), new RegExp(`Cancels on ${end}`));
    assert.equal(await button(page, `#${sub.id}`, 'Cancel subscription').count(), 0);
    const canceling = await stripe.subscriptions.retrieve(sub.id);
    assert.equal(canceling.cancel_at_period_end, true);
    assert.equal(canceling.status, 'active');
    assert.equal(await changes(sub.id, 'cancel_at_period_end'), 1, 'one customer.subscription.updated');
    await waitFor('the webhook', () => delivered(sub.id), (k) => k === 1);

    await button(page, `#${sub.id}`, 'Renew subscription').click();
    await page.waitForURL(/notice=renewed/);
    assert.match(await notice(page), /renewed/);
    assert.equal((await stripe.subscriptions.retrieve(sub.id)).cancel_at_period_end, false);
    assert.equal(await button(page, `#${sub.id}`, 'Cancel subscription').count(), 1);
    assert.equal(await changes(sub.id, 'cancel_at_period_end'), 2, 'one more customer.subscription.updated');
  });

  test('a double click on Cancel, and the same form posted twice at once, make one change and one event', async () => {
    const { prices } = await product('Basic', [{ amount: 900 }]);
    const { customer, sub } = await subscribed(prices[0]!.id);
    const s = await portal(customer.id, ALL);
    const page = await open(s.url);
    const form = page.locator(`#${sub.id} form`).filter({ has: page.getByRole('button', { name: 'Cancel subscription' }) });
    const fields = Object.fromEntries(await Promise.all(['csrf', 'nonce', 'action', 'target'].map(async (k) => [k, await form.locator(`[name=${k}]`).inputValue()] as const)));
    // A double click (Chromium sends its form once), then the same form posted twice at once from
    // the same browser: what a second click that got through, or a reload that re-posts, sends.
    await button(page, `#${sub.id}`, 'Cancel subscription').dblclick();
    await page.locator('#notice').waitFor();
    assert.match(page.url(), /notice=cancel_scheduled/);
    assert.match(await sub$(page, sub.id).innerText(), /Cancels on/);
    const [a, b] = await Promise.all([1, 2].map(() => page.request.post(s.url, { form: fields, maxRedirects: 0, headers: { origin: origin(s.url) } })));
    for (const r of [a!, b!]) {
      assert.equal(r.status(), 303);
      assert.match(r.headers().location!, /notice=cancel_scheduled/, 'the re-post gets the first answer');
    }
    assert.equal((await stripe.subscriptions.retrieve(sub.id)).cancel_at_period_end, true);
    assert.equal(await changes(sub.id, 'cancel_at_period_end'), 1, 'one customer.subscription.updated');
    await waitFor('the webhook', () => delivered(sub.id), (k) => k >= 1);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(delivered(sub.id), 1, 'the handler saw one change');
  });

  test('with mode=immediately, Cancel ends the subscription now (with the reason chosen)', async () => {
    const { prices } = await product('Basic', [{ amount: 900 }]);
    const { customer, sub } = await subscribed(prices[0]!.id);
    const s = await portal(customer.id, {
      ...ALL, subscription_cancel: { enabled: true, mode: 'immediately', cancellation_reason: { enabled: true, options: ['too_expensive', 'unused'] } },
    });
    const page = await open(s.url);
    await page.getByLabel('Reason for canceling (optional)').selectOption('too_expensive');
    await button(page, `#${sub.id}`, 'Cancel subscription').click();
    await page.waitForURL(/notice=canceled/);
    assert.equal(await notice(page), 'Your subscription has been canceled.');
    assert.equal(await sub$(page, sub.id).count(), 0, 'no longer listed');
    assert.match(await page.locator('#subscriptions').innerText(), /No active subscriptions/);
    const done = await stripe.subscriptions.retrieve(sub.id);
    assert.equal(done.status, 'canceled');
    assert.equal(done.cancellation_details?.feedback, 'too_expensive');
    assert.equal((await eventsAbout(stripe, 'customer.subscription.deleted', sub.id)).length, 1);
    await waitFor('the webhook', () => sink.of('customer.subscription.deleted', sub.id).length, (k) => k === 1);
  });

  test('Update subscription offers the configuration\'s prices of the same interval and switches the item\'s price', async () => {
    const { product: p, prices: [basic, premium, yearly] } = await product('Team plan', [{ amount: 1000 }, { amount: 2500 }, { amount: 10000, interval: 'year' }]);
    const { customer, sub } = await subscribed(basic!.id);
    const s = await portal(customer.id, {
      ...ALL, subscription_update: { enabled: true, default_allowed_updates: ['price'], proration_behavior: 'none', products: [{ product: p.id, prices: [basic!.id, premium!.id, yearly!.id] }] },
    });
    const page = await open(s.url);
    await page.locator(`#update-${sub.id}`).click();
    const form = await page.locator('#update-form').innerText();
    assert.match(form, /\$25\.00 per month/);
    assert.match(form, /\$10\.00 per month \(current\)/);
    assert.ok(!form.includes('$100.00'), 'the yearly price is not offered: another interval');
    await page.getByLabel(/\$25\.00 per month/).check();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL(/notice=updated/);
    assert.equal(await notice(page), 'Your subscription has been updated.');
    assert.match(await sub$(page, sub.id).innerText(), /\$25\.00 per month/);
    const changed = await stripe.subscriptions.retrieve(sub.id);
    assert.equal(changed.items.data.length, 1);
    assert.equal(changed.items.data[0]!.price.id, premium!.id);
    assert.equal(await changes(sub.id, 'items'), 1, 'one customer.subscription.updated for the change');

    // A forged post of the yearly price (not offered): refused, nothing changed.
    const csrf = (await page.context().cookies()).find((c) => c.name === 'oncepay_csrf')!.value;
    const forged = await page.request.post(s.url, {
      form: { csrf, nonce: 'A'.repeat(16), action: 'update', target: sub.id, price: yearly!.id }, maxRedirects: 0, headers: { origin: origin(s.url) },
    });
    assert.equal(forged.status(), 403);
    assert.equal((await stripe.subscriptions.retrieve(sub.id)).items.data[0]!.price.id, premium!.id);
  });

  test('cards: Add payment method attaches it and makes it the default; Make default on the other; Remove detaches it', async () => {
    const { prices } = await product('Basic', [{ amount: 900 }]);
    const { customer, sub, visa } = await subscribed(prices[0]!.id);
    const s = await portal(customer.id, ALL);
    const page = await open(s.url);
    await page.getByRole('link', { name: 'Add payment method' }).click();
    await fillCard(page, { number: MASTERCARD, name: 'Jenny Rosen' });
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.waitForURL(/notice=card_added_default/);
    assert.equal(await notice(page), 'Your card has been added and is now your default payment method.');
    const listed = await stripe.customers.listPaymentMethods(customer.id);
    assert.equal(listed.data.length, 2);
    const mc = listed.data.find((pm) => pm.card?.last4 === '4444')!;
    assert.ok(mc, 'the new card is attached');
    assert.equal(mc.card?.brand, 'mastercard');
    assert.equal((await stripe.customers.retrieve(customer.id) as Stripe.Customer).invoice_settings.default_payment_method, mc.id, 'the new card is the default');
    assert.match(await page.locator(`.card#${mc.id}`).innerText(), /Mastercard •••• 4444[\s\S]*Default/);
    assert.equal((await eventsAbout(stripe, 'payment_method.attached', mc.id)).length, 1);

    await page.locator(`.card#${visa}`).getByRole('button', { name: 'Make default' }).click();
    await page.waitForURL(/notice=default_set/);
    assert.equal((await stripe.customers.retrieve(customer.id) as Stripe.Customer).invoice_settings.default_payment_method, visa);
    assert.match(await page.locator(`.card#${visa}`).innerText(), /Default/);
    assert.equal(await page.locator(`.card#${visa}`).getByRole('button', { name: 'Remove' }).count(), 0);

    await page.locator(`.card#${mc.id}`).getByRole('button', { name: 'Remove' }).click();
    await page.waitForURL(/notice=card_removed/);
    assert.equal(await notice(page), 'Your payment method has been removed.');
    assert.equal(await page.locator(`.card#${mc.id}`).count(), 0);
    assert.equal((await stripe.paymentMethods.retrieve(mc.id)).customer, null, 'detached');
    assert.equal((await eventsAbout(stripe, 'payment_method.detached', mc.id)).length, 1);

    // The default card of an active subscription: a forged Remove is refused, the card stays.
    const csrf = (await page.context().cookies()).find((c) => c.name === 'oncepay_csrf')!.value;
    const forged = await page.request.post(s.url, { form: { csrf, nonce: 'B'.repeat(16), action: 'remove', target: visa }, maxRedirects: 0, headers: { origin: origin(s.url) } });
    assert.equal(forged.status(), 400);
    assert.equal((await stripe.paymentMethods.retrieve(visa)).customer, customer.id);
    assert.equal((await stripe.subscriptions.retrieve(sub.id)).status, 'active');
  });

  test('a declined card is shown on the form and attaches nothing', async () => {
    const { prices } = await product('Basic', [{ amount: 900 }]);
    const { customer } = await subscribed(prices[0]!.id);
    const s = await portal(customer.id, ALL);
    const page = await open(`${s.url}?add=card`);
    await fillCard(page, { number: '4000 0000 0000 0002' });
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.waitForSelector('#card-error');
    assert.match(await page.locator('#card-error').innerText(), /declined/);
    assert.equal((await stripe.customers.listPaymentMethods(customer.id)).data.length, 1, 'only the Visa');
  });

  test('a feature disabled in the configuration: its buttons are absent and a forged POST for it is refused, nothing changed; another customer\'s objects are refused', async () => {
    const { prices } = await product('Basic', [{ amount: 900 }]);
    const { customer, sub, visa } = await subscribed(prices[0]!.id);
    const updatesAtStart = (await eventsAbout(stripe, 'customer.subscription.updated', sub.id)).length;
    const s = await portal(customer.id, { invoice_history: { enabled: true } });
    const page = await open(s.url);
    assert.match(await sub$(page, sub.id).innerText(), /Basic[\s\S]*\$9\.00 per month/, 'the subscription is listed, read-only');
    assert.equal(await page.getByRole('button').count(), 0, 'no button at all');
    assert.equal(await page.locator('#payment-methods').count(), 0, 'no payment methods section');
    assert.equal(await page.locator('.invoice').count(), 1, 'invoices shown');
    const csrf = (await page.context().cookies()).find((c) => c.name === 'oncepay_csrf')!.value;
    const post = (form: Record<string, string>) => page.request.post(s.url, { form: { csrf, nonce: 'C'.repeat(16), ...form }, maxRedirects: 0, headers: { origin: origin(s.url) } });
    assert.equal((await post({ action: 'cancel', target: sub.id })).status(), 403);
    assert.equal((await post({ action: 'remove', target: visa })).status(), 403);
    assert.equal((await post({ action: 'update', target: sub.id, price: prices[0]!.id })).status(), 403);
    const cardsOff = await post({ action: 'add', target: 'card', cardNumber: '4242424242424242', cardExpiry: '12/40', cardCvc: '123', billingName: 'Eve' });
    assert.equal(cardsOff.status(), 403);
    assert.equal(await page.locator('#billing-information').count(), 0, 'no billing information section');
    assert.equal((await post({ action: 'details', target: customer.id, email: 'eve@evil.example' })).status(), 403);
    assert.equal((await stripe.customers.retrieve(customer.id) as Stripe.Customer).email, customer.email, 'the email did not change');
    assert.equal((await stripe.subscriptions.retrieve(sub.id)).cancel_at_period_end, false);
    assert.equal((await stripe.paymentMethods.retrieve(visa)).customer, customer.id);
    assert.equal((await stripe.customers.listPaymentMethods(customer.id)).data.length, 1);
    assert.equal((await eventsAbout(stripe, 'customer.subscription.updated', sub.id)).length, updatesAtStart, 'no customer.subscription.updated');

    // Every feature on, but the target is another customer's subscription or card.
    const other = await subscribed(prices[0]!.id);
    const mine = await portal(customer.id, ALL);
    const p2 = await open(mine.url);
    const csrf2 = (await p2.context().cookies()).find((c) => c.name === 'oncepay_csrf')!.value;
    const post2 = (form: Record<string, string>) => p2.request.post(mine.url, { form: { csrf: csrf2, nonce: 'D'.repeat(16), ...form }, maxRedirects: 0, headers: { origin: origin(mine.url) } });
    assert.equal((await post2({ action: 'cancel', target: other.sub.id })).status(), 403);
    assert.equal((await post2({ action: 'default', target: other.visa })).status(), 403);
    assert.equal((await post2({ action: 'remove', target: other.visa })).status(), 403);
    assert.equal((await stripe.subscriptions.retrieve(other.sub.id)).cancel_at_period_end, false);
    assert.equal((await stripe.paymentMethods.retrieve(other.visa)).customer, other.customer.id);
    // A form without the CSRF cookie's value: refused before anything runs.
    const noCsrf = await p2.request.post(mine.url, { form: { csrf: 'x'.repeat(32), nonce: 'E'.repeat(16), action: 'cancel', target: sub.id }, maxRedirects: 0, headers: { origin: origin(mine.url) } });
    assert.equal(noCsrf.status(), 403);
    assert.equal((await stripe.subscriptions.retrieve(sub.id)).cancel_at_period_end, false);
  });

  test('billing information: the allowed details are edited through customers.update (one customer.updated), a bad email is named, the others are not offered', async () => {
    const { prices } = await product('Basic', [{ amount: 900 }]);
    const { customer } = await subscribed(prices[0]!.id);
    const s = await portal(customer.id, { ...ALL, customer_update: { enabled: true, allowed_updates: ['email', 'name'] } });
    const page = await open(s.url);
    const section = page.locator('#billing-information');
    assert.equal(await section.getByLabel('Email').inputValue(), customer.email);
    assert.equal(await section.getByLabel('Phone').count(), 0, 'phone is not an allowed update');
    const updatesBefore = (await eventsAbout(stripe, 'customer.updated', customer.id)).length;

    await section.getByLabel('Email').fill('not-an-email');
    await section.getByRole('button', { name: 'Save' }).click();
    assert.equal(await page.locator('#detail-email-error').innerText(), 'Your email address is invalid.');
    assert.equal((await stripe.customers.retrieve(customer.id) as Stripe.Customer).email, customer.email, 'nothing changed');

    await page.locator('#billing-information').getByLabel('Email').fill('renamed@example.com');
    await page.locator('#billing-information').getByLabel('Name').fill('Renamed Customer');
    await page.locator('#billing-information').getByRole('button', { name: 'Save' }).click();
    assert.equal(await notice(page), 'Your billing information has been updated.');
    assert.equal(await page.locator('#billing-information').getByLabel('Email').inputValue(), 'renamed@example.com');
    const after = await stripe.customers.retrieve(customer.id) as Stripe.Customer;
    assert.equal(after.email, 'renamed@example.com');
    assert.equal(after.name, 'Renamed Customer');
    const updates = await eventsAbout(stripe, 'customer.updated', customer.id);
    assert.equal(updates.length, updatesBefore + 1, 'one customer.updated');
    assert.deepEqual(Object.keys(updates.at(-1)!.data.previous_attributes ?? {}).sort(), ['email', 'name']);
  });

  test('an expired session shows no data and changes nothing; an unknown token is a 404', async () => {
    const { prices } = await product('Secret plan', [{ amount: 900 }]);
    const { customer, sub } = await subscribed(prices[0]!.id);
    const s = await portal(customer.id, ALL);
    const page = await open(s.url);
    const csrf = (await page.context().cookies()).find((c) => c.name === 'oncepay_csrf')!.value;
    await server.oncepay.db.query('UPDATE billing_portal_sessions SET expires_at = 0 WHERE account_id = $1 AND id = $2', [server.accountId, s.id]);
    await page.reload();
    assert.equal(await page.locator('h1').innerText(), 'This session has expired');
    const text = await page.content();
    assert.ok(!text.includes('Secret plan') && !text.includes(customer.email!) && !text.includes(sub.id), 'nothing of the customer shown');
    const posted = await page.request.post(s.url, { form: { csrf, nonce: 'F'.repeat(16), action: 'cancel', target: sub.id }, maxRedirects: 0, headers: { origin: origin(s.url) } });
    assert.equal(posted.status(), 403);
    assert.equal((await stripe.subscriptions.retrieve(sub.id)).cancel_at_period_end, false);

    const unknown = await fetch(s.url.replace(/[A-Za-z0-9]{8}$/, 'AAAAAAAA'));
    assert.equal(unknown.status, 404);
    assert.ok(!(await unknown.text()).includes('Secret plan'));
    assert.equal((await fetch(`${server.url}/p/session/${s.id}`)).status, 404, 'the session id is not its token');
  });

  test('deep links (flow_data): a cancel flow opens on its subscription and redirects after; a card flow confirms with the custom message; an update-confirm flow preselects the price', async () => {
    const { product: p, prices: [basic, premium] } = await product('Flow plan', [{ amount: 1000 }, { amount: 2000 }]);
    const { customer, sub } = await subscribed(basic!.id);
    const configuration = await stripe.billingPortal.configurations.create({
      features: { ...ALL, subscription_update: { enabled: true, default_allowed_updates: ['price'], proration_behavior: 'none', products: [{ product: p.id, prices: [basic!.id, premium!.id] }] } },
    });
    const cancelFlow = await stripe.billingPortal.sessions.create({
      customer: customer.id, configuration: configuration.id, return_url: `${shopUrl}/account`,
      flow_data: { type: 'subscription_cancel', subscription_cancel: { subscription: sub.id }, after_completion: { type: 'redirect', redirect: { return_url: `${shopUrl}/canceled` } } },
    });
    const page = await open(cancelFlow.url);
    assert.equal(await page.locator('main h1').innerText(), 'Cancel your subscription');
    assert.match(await page.locator('#cancel-terms').innerText(), /still available until the end of your billing period/);
    await button(page, `#${sub.id}`, 'Cancel subscription').click();
    await page.waitForURL(`${shopUrl}/canceled`);
    assert.equal((await stripe.subscriptions.retrieve(sub.id)).cancel_at_period_end, true);
    // The portal's home stays reachable from the flow's session.
    await page.goto(`${cancelFlow.url}?home=1`);
    assert.match(await sub$(page, sub.id).innerText(), /Cancels on/);

    const cardFlow = await stripe.billingPortal.sessions.create({
      customer: customer.id, configuration: configuration.id,
      flow_data: { type: 'payment_method_update', after_completion: { type: 'hosted_confirmation', hosted_confirmation: { custom_message: 'Thanks: your new card is saved.' } } },
    });
    const p2 = await open(cardFlow.url);
    assert.equal(await p2.locator('main h1').innerText(), 'Add payment method');
    await fillCard(p2, { number: MASTERCARD });
    await p2.getByRole('button', { name: 'Add', exact: true }).click();
    await p2.waitForURL(/notice=flow_confirmed/);
    assert.equal(await notice(p2), 'Thanks: your new card is saved.');
    assert.equal((await stripe.customers.listPaymentMethods(customer.id)).data.length, 2);

    await stripe.subscriptions.update(sub.id, { cancel_at_period_end: false });
    const confirmFlow = await stripe.billingPortal.sessions.create({
      customer: customer.id, configuration: configuration.id,
      flow_data: { type: 'subscription_update_confirm', subscription_update_confirm: { subscription: sub.id, items: [{ id: sub.items.data[0]!.id, price: premium!.id }] } },
    });
    const p3 = await open(confirmFlow.url);
    assert.equal(await p3.getByLabel(/\$20\.00 per month/).isChecked(), true, 'the flow\'s price is chosen');
    await p3.getByRole('button', { name: 'Confirm' }).click();
    await p3.waitForURL(/notice=updated/);
    assert.equal((await stripe.subscriptions.retrieve(sub.id)).items.data[0]!.price.id, premium!.id);
  });

  test('safe: security headers, no secret and no script in the page', async () => {
    const { prices } = await product('Basic', [{ amount: 900 }]);
    const { customer } = await subscribed(prices[0]!.id);
    const s = await portal(customer.id, ALL);
    for (const url of [s.url, `${s.url}?add=card`]) {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'.*frame-ancestors 'none'/);
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.ok(!text.includes(server.key) && !/sk_test_|pk_test_|whsec_/.test(text), 'no key in the page');
      assert.ok(!/<script/i.test(text), 'no script');
    }
  });
});
