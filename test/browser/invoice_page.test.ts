/**
 * The hosted invoice page in a real Chromium (JavaScript off: the page is plain forms), used as a
 * customer would: open the invoice's hosted_invoice_url, read it, type a test card, click Pay,
 * download the PDF. Each test then checks what the merchant sees through the official client: the
 * invoice's status, the acquirer's ledger (exactly one sale), the events (one invoice.paid).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import type Stripe from 'stripe';
import type { Page } from 'playwright-core';
import { useTestServer } from '../helpers/server.ts';
import { browserTestsOff, fillCard, useBrowser } from '../helpers/browser.ts';
import { sales } from '../helpers/ledger.ts';
import { eventsAbout } from '../helpers/events.ts';
import { intentOf } from '../helpers/invoices.ts';

const VISA = '4242 4242 4242 4242';
const DECLINED = '4000 0000 0000 0002';
const THREE_DS = '4000 0027 6000 3184';
const SHOTS = process.env.ONCEPAY_SCREENSHOTS; // a folder: write the README's screenshots there

describe('hosted invoice page', { skip: browserTestsOff && 'ONCEPAY_BROWSER_TESTS=0' }, () => {
  const { server, stripe } = useTestServer();
  const browser = useBrowser();

  /** An open invoice of $45.00 (two lines), to be paid on its page. */
  async function openInvoice(): Promise<Stripe.Invoice> {
    const customer = await stripe.customers.create({ email: 'jenny@example.com', name: 'Jenny Rosen' });
    await stripe.invoiceItems.create({ customer: customer.id, amount: 4000, currency: 'usd', description: 'Website design (March)' });
    await stripe.invoiceItems.create({ customer: customer.id, amount: 500, currency: 'usd', description: 'Hosting' });
    const draft = await stripe.invoices.create({
      customer: customer.id, collection_method: 'send_invoice', days_until_due: 14, pending_invoice_items_behavior: 'include', description: 'Thanks for your business.',
    });
    return stripe.invoices.finalizeInvoice(draft.id!);
  }

  async function open(inv: Stripe.Invoice): Promise<Page> {
    assert.ok(inv.hosted_invoice_url, 'the invoice has a hosted page');
    const page = await browser.page();
    const res = await page.goto(inv.hosted_invoice_url);
    assert.equal(res?.status(), 200);
    return page;
  }

  const pay = (page: Page) => page.getByRole('button', { name: 'Pay', exact: true });

  /** The invoice is paid, by exactly one sale, announced by exactly one invoice.paid. */
  async function paidOnce(inv: Stripe.Invoice): Promise<void> {
    const done = await stripe.invoices.retrieve(inv.id!);
    assert.equal(done.status, 'paid');
    assert.equal(done.amount_paid, 4500);
    assert.equal(done.amount_remaining, 0);
    const pi = await intentOf(stripe, inv.id!);
    assert.ok(pi, 'the invoice has its payment intent');
    assert.equal(sales(await server.ledger(pi)).length, 1, 'one sale in the ledger');
    assert.equal((await eventsAbout(stripe, 'invoice.paid', inv.id!)).length, 1, 'one invoice.paid event');
  }

  test('the page shows the invoice; a decline is shown and leaves it open; 4242 pays it once; the PDF link downloads a PDF', async () => {
    const inv = await openInvoice();
    const page = await open(inv);
    const summary = await page.locator('.summary').innerText();
    assert.ok(summary.includes(inv.number!), 'the invoice number');
    assert.match(summary, /Website design \(March\)[\s\S]*\$40\.00[\s\S]*Hosting[\s\S]*\$5\.00/, 'the lines');
    assert.match(summary, /jenny@example\.com/, 'the customer\'s email');
    assert.equal(await page.locator('#memo').innerText(), 'Thanks for your business.', 'the invoice\'s description');
    assert.equal(await page.locator('#amount-due').innerText(), '$45.00');
    assert.equal(await page.locator('#status').innerText(), 'Open');
    if (SHOTS) {
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: `${SHOTS}/invoice_page.png`, fullPage: true });
    }

    await fillCard(page, { number: DECLINED });
    await pay(page).click();
    await page.waitForSelector('#card-error');
    assert.equal(await page.locator('#card-error').innerText(), 'Your card was declined.');
    assert.equal(page.url(), inv.hosted_invoice_url, 'back on the invoice page');
    const declined = await stripe.invoices.retrieve(inv.id!);
    assert.equal(declined.status, 'open', 'still open after the decline');
    assert.equal(declined.attempt_count, 1);

    await fillCard(page, { number: VISA });
    await pay(page).click();
    await page.waitForSelector('#outcome');
    assert.equal(await page.locator('#outcome').innerText(), 'Paid');
    assert.match(await page.locator('main').innerText(), /This invoice was paid on \w+ \d+, \d{4}/);
    assert.equal(await page.locator('#status').innerText(), 'Paid');
    assert.equal(await pay(page).count(), 0, 'nothing left to pay');
    await paidOnce(inv);
    const ledger = await server.ledger((await intentOf(stripe, inv.id!))!);
    assert.deepEqual(ledger.map((e) => e.outcome), ['declined', 'approved'], 'the acquirer saw the declined attempt, then the sale');

    // The PDF, as the link gives it.
    const href = await page.getByRole('link', { name: 'Download invoice' }).getAttribute('href');
    assert.equal(new URL(href!, page.url()).href, inv.invoice_pdf);
    const res = await page.request.get(new URL(href!, page.url()).href);
    assert.equal(res.status(), 200);
    assert.equal(res.headers()['content-type'], 'application/pdf');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download invoice' }).click()]);
    assert.equal(download.suggestedFilename(), `Invoice-${inv.number}.pdf`);
    const file = readFileSync((await download.path())!);
    assert.equal(file.subarray(0, 5).toString('latin1'), '%PDF-', 'the download is a PDF');
  });

  test('exactly once: a double submission of Pay, the same form posted again, and two tabs paying at once make one sale', async () => {
    // A double submission: Pay clicked while the same form goes out a second time from the same
    // browser (Chromium sends a double click's form once, so the second post is made through the
    // page's own request context, as a second click that got through would).
    const a = await openInvoice();
    const pa = await open(a);
    await fillCard(pa, { number: VISA });
    const formNames = ['csrf', 'attempt', 'submission', 'cardNumber', 'cardExpiry', 'cardCvc', 'billingName'];
    const first = Object.fromEntries(await Promise.all(formNames.map(async (n) => [n, await pa.locator(`[name=${n}]`).inputValue()] as const)));
    const [, second] = await Promise.all([
      pay(pa).click(),
      pa.request.post(a.hosted_invoice_url!, { form: first, maxRedirects: 0, headers: { origin: new URL(a.hosted_invoice_url!).origin } }),
    ]);
    assert.equal(second.status(), 303);
    await pa.waitForSelector('#outcome');
    assert.equal(await pa.locator('#outcome').innerText(), 'Paid');
    await paidOnce(a);

    // Two tabs of one browser, each with its own card, submitted at the same moment; then the
    // first tab's form posted again as it was (what a reload that re-posts does).
    const b = await openInvoice();
    const ctx = await browser.context();
    const [t1, t2] = [await ctx.newPage(), await ctx.newPage()];
    await t1.goto(b.hosted_invoice_url!);
    await t2.goto(b.hosted_invoice_url!);
    await fillCard(t1, { number: VISA, name: 'Tab One' });
    await fillCard(t2, { number: '5555 5555 5555 4444', name: 'Tab Two' });
    const names = ['csrf', 'attempt', 'submission', 'cardNumber', 'cardExpiry', 'cardCvc', 'billingName'];
    const fields = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await t1.locator(`[name=${n}]`).inputValue()] as const)));
    await Promise.all([pay(t1).click(), pay(t2).click()]);
    await t1.waitForSelector('#outcome');
    await t2.waitForSelector('#outcome');
    assert.equal(await t1.locator('#outcome').innerText(), 'Paid');
    assert.equal(await t2.locator('#outcome').innerText(), 'Paid');
    const again = await t1.request.post(b.hosted_invoice_url!, { form: fields, maxRedirects: 0, headers: { origin: new URL(b.hosted_invoice_url!).origin } });
    assert.equal(again.status(), 303, 'the re-post is answered with a redirect to the page');
    await paidOnce(b);
  });

  test('3-D Secure: the page asks for authentication; Fail shows the failure, Complete pays once', async () => {
    const inv = await openInvoice();
    const page = await open(inv);
    await fillCard(page, { number: THREE_DS });
    await pay(page).click();
    await page.waitForSelector('#authentication-required');
    assert.match(await page.locator('main').innerText(), /requires authentication/);
    await page.getByRole('button', { name: 'Fail' }).click();
    await page.waitForSelector('#card-error');
    assert.match(await page.locator('#card-error').innerText(), /failed authentication/);
    assert.equal((await stripe.invoices.retrieve(inv.id!)).status, 'open');

    await fillCard(page, { number: THREE_DS });
    await pay(page).click();
    await page.waitForSelector('#authentication-required');
    await page.getByRole('button', { name: 'Complete' }).click();
    await page.waitForSelector('#outcome');
    assert.equal(await page.locator('#outcome').innerText(), 'Paid');
    await paidOnce(inv);
  });
});
