/**
 * The hosted invoice page and the invoice PDF over plain HTTP, with invoices made through the
 * official client: a draft has neither URL, finalizing gives both (unguessable, one per invoice,
 * nothing to do with the invoice id), the page shows the invoice with Stripe's security headers,
 * the PDF is a PDF that names the invoice, an unknown token is a 404; and the page's form pays
 * the invoice exactly once (a decline shown, the same form posted again, 3-D Secure Complete and
 * Fail), checked against the acquirer's ledger and the events.
 */
process.env.ONCEPAY_STRIPE_TYPES = 'enforce';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { sales } from '../helpers/ledger.ts';
import { eventsAbout } from '../helpers/events.ts';
import { intentOf } from '../helpers/invoices.ts';

const { server, stripe } = useTestServer();

const VISA = '4242424242424242';
const DECLINED = '4000000000000002';
const THREE_DS = '4000000000003220';
const EXPIRY = `12 / ${String((new Date().getUTCFullYear() + 2) % 100).padStart(2, '0')}`;

/** An open send_invoice invoice of $20.00 (two lines) for a new customer. */
async function openInvoice(opts: { finalize?: boolean } = {}): Promise<Stripe.Invoice> {
  const customer = await stripe.customers.create({ email: 'jenny@example.com', name: 'Jenny Rosen' });
  await stripe.invoiceItems.create({ customer: customer.id, amount: 1500, currency: 'usd', description: 'Consulting <b>hours</b>' });
  await stripe.invoiceItems.create({ customer: customer.id, amount: 500, currency: 'usd', description: 'Travel' });
  const draft = await stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 30, pending_invoice_items_behavior: 'include' });
  return opts.finalize === false ? draft : stripe.invoices.finalizeInvoice(draft.id!);
}

/** The text a PDF's content streams draw (pdfkit writes the standard fonts' text as hex strings in TJ arrays). */
function pdfText(pdf: Buffer): string {
  const s = pdf.toString('latin1');
  return [...s.matchAll(/\[((?:<[0-9a-fA-F]*>|[^\]])*)\]\s*TJ/g)]
    .map((m) => [...m[1]!.matchAll(/<([0-9a-fA-F]*)>/g)].map((h) => Buffer.from(h[1]!, 'hex').toString('latin1')).join(''))
    .join('\n');
}

/** A browser without JavaScript, by hand: the CSRF cookie it was given, and the page's forms' hidden fields. */
class Visitor {
  cookie = '';
  async get(url: string): Promise<{ status: number; headers: Headers; text: string }> {
    const res = await fetch(url, { headers: this.cookie ? { cookie: this.cookie } : {}, redirect: 'manual' });
    const set = res.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0]!;
    return { status: res.status, headers: res.headers, text: await res.text() };
  }
  /** POSTs a form from `url`'s page (its Origin), without following the redirect. */
  async post(url: string, form: Record<string, string>): Promise<Response> {
    return fetch(url, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams(form),
      headers: { cookie: this.cookie, origin: new URL(url).origin, 'content-type': 'application/x-www-form-urlencoded' },
    });
  }
}

const hiddenFields = (page: string): Record<string, string> =>
  Object.fromEntries([...page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!]));

const card = (number: string) => ({ cardNumber: number, cardExpiry: EXPIRY, cardCvc: '123', billingName: 'Jenny Rosen' });

/** Opens the page, fills the card form and submits it: the 303's Location. */
async function payOnPage(v: Visitor, url: string, number: string): Promise<{ location: string | null; form: Record<string, string> }> {
  const page = await v.get(url);
  assert.equal(page.status, 200);
  assert.match(page.text, /<button type="submit" id="submit">Pay<\/button>/, 'the open invoice has a Pay button');
  const form = { ...hiddenFields(page.text), ...card(number) };
  const res = await v.post(url, form);
  assert.equal(res.status, 303, 'a POST answers with a redirect (PRG)');
  return { location: res.headers.get('location'), form };
}

describe('URLs', () => {
  test('a draft has neither URL; finalizing gives both, unguessable, different for every invoice, unrelated to the invoice id', async () => {
    const draft = await openInvoice({ finalize: false });
    assert.equal(draft.status, 'draft');
    assert.equal(draft.hosted_invoice_url, null);
    assert.equal(draft.invoice_pdf, null);
    assert.equal((await stripe.invoices.retrieve(draft.id!)).hosted_invoice_url, null, 'still none when read back');

    const a = await stripe.invoices.finalizeInvoice(draft.id!);
    const b = await openInvoice();
    for (const inv of [a, b]) {
      assert.equal(inv.status, 'open');
      const url = inv.hosted_invoice_url!;
      const m = /^http:\/\/localhost:(\d+)\/i\/([A-Za-z0-9]+)$/.exec(url);
      assert.ok(m, `hosted_invoice_url is ${url}`);
      assert.equal(Number(m[1]), server.port, 'on the server\'s public URL');
      assert.ok(m[2]!.length >= 40, 'a token of at least 40 characters');
      assert.ok(!url.includes(inv.id!) && !url.includes(inv.id!.slice(3)), 'the invoice id is not in the URL');
      assert.equal(inv.invoice_pdf, `${url}/pdf`);
    }
    assert.notEqual(a.hosted_invoice_url, b.hosted_invoice_url, 'every invoice has its own token');
    const again = await stripe.invoices.retrieve(a.id!);
    assert.equal(again.hosted_invoice_url, a.hosted_invoice_url, 'the URL is kept');
    const [finalized] = await eventsAbout(stripe, 'invoice.finalized', a.id!);
    assert.equal((finalized!.data.object as Stripe.Invoice).hosted_invoice_url, a.hosted_invoice_url, 'invoice.finalized carries the URL');
  });

  test('an invoice the billing run finalizes (a subscription\'s) has its page too', async () => {
    const customer = await stripe.customers.create({ email: 'sub@example.com' });
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 900, recurring: { interval: 'month' }, product_data: { name: 'Plan' } });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }], collection_method: 'send_invoice', days_until_due: 7 });
    const inv = await stripe.invoices.retrieve(sub.latest_invoice as string);
    assert.equal(inv.status, 'open');
    assert.match(inv.hosted_invoice_url ?? '', /\/i\/[A-Za-z0-9]{40,}$/);
    const page = await new Visitor().get(inv.hosted_invoice_url!);
    assert.equal(page.status, 200);
    assert.ok(page.text.includes(inv.number!), 'the page shows the subscription invoice\'s number');
  });
});

describe('the page', () => {
  test('shows the number, amount due, due date, status, lines and the customer\'s email, with the security headers', async () => {
    const inv = await openInvoice();
    const page = await new Visitor().get(inv.hosted_invoice_url!);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.ok(page.text.includes(`<span id="number">${inv.number}</span>`), 'the invoice number');
    assert.match(page.text, /id="amount-due">\$20\.00</, 'the amount due');
    const due = new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(inv.due_date! * 1000));
    assert.ok(page.text.includes(`<td id="due-date">${due}</td>`), `the due date (${due})`);
    assert.match(page.text, /id="status">Open</);
    assert.ok(page.text.includes('Consulting &lt;b&gt;hours&lt;/b&gt;'), 'a line\'s description, escaped');
    assert.ok(page.text.includes('Travel'));
    assert.ok(page.text.includes('jenny@example.com'), 'the customer\'s email');
    assert.ok(page.text.includes(`href="${new URL(inv.invoice_pdf!).pathname}"`) && page.text.includes('Download invoice'), 'the PDF link');
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.equal(page.headers.get('cache-control'), 'no-store');
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.match(page.headers.get('set-cookie') ?? '', /oncepay_csrf=[A-Za-z0-9]{32};.*HttpOnly/i, 'the form\'s CSRF cookie');
  });

  test('an unknown token, the invoice id, or a draft\'s id opens nothing (404 page)', async () => {
    const inv = await openInvoice();
    const draft = await openInvoice({ finalize: false });
    const base = `${server.url}/i/`;
    for (const path of ['A'.repeat(48), inv.id!, inv.id!.slice(3), draft.id!, `${inv.id}/pdf`, `${'b'.repeat(48)}/pdf`]) {
      const res = await new Visitor().get(`${base}${path}`);
      assert.equal(res.status, 404, path);
      assert.match(res.text, /Page not found/);
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
    }
    const forged = await new Visitor().post(`${base}${'C'.repeat(48)}`, card(VISA));
    assert.equal(forged.status, 404, 'nor can an unknown token be posted to');
  });

  test('void and paid invoices say so and offer no form; the PDF says so too', async () => {
    const voided = await stripe.invoices.voidInvoice((await openInvoice()).id!);
    const v = await new Visitor().get(voided.hosted_invoice_url!);
    assert.equal(v.status, 200);
    assert.match(v.text, /<h1 id="outcome">Void<\/h1>/);
    assert.ok(!v.text.includes('id="payment-form"'), 'nothing to pay');
    assert.match(pdfText(Buffer.from(await (await fetch(voided.invoice_pdf!)).arrayBuffer())), /Void since/);

    const paid = await stripe.invoices.pay((await openInvoice()).id!, { paid_out_of_band: true });
    const p = await new Visitor().get(paid.hosted_invoice_url!);
    assert.match(p.text, /<h1 id="outcome">Paid<\/h1>/);
    assert.match(p.text, /id="status">Paid</);
    assert.ok(!p.text.includes('id="payment-form"'));
  });
});

describe('the PDF', () => {
  test('is a PDF (application/pdf) of the invoice: number, parties, lines, totals, status', async () => {
    const inv = await openInvoice();
    const res = await fetch(inv.invoice_pdf!);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/pdf');
    assert.match(res.headers.get('content-disposition') ?? '', new RegExp(`^attachment; filename="Invoice-${inv.number}\\.pdf"$`));
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    const pdf = Buffer.from(await res.arrayBuffer());
    assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
    assert.match(pdf.subarray(-8).toString('latin1'), /%%EOF\s*$/);
    assert.ok(pdf.length < 20_000, `small: ${pdf.length} bytes`);
    const text = pdfText(pdf);
    for (const expected of [inv.number!, 'Jenny Rosen', 'jenny@example.com', 'Consulting <b>hours</b>', 'Travel', '$15.00', '$5.00', 'Subtotal', 'Amount paid', 'Amount due', '$20.00', 'Due ']) {
      assert.ok(text.includes(expected), `the PDF shows ${expected}`);
    }
    const title = /\/Title (\d+) 0 R/.exec(pdf.toString('latin1'));
    assert.ok(title, 'the document has a Title');
    assert.ok(pdf.toString('latin1').includes(`\n${title[1]} 0 obj\n(Invoice ${inv.number})\nendobj`), 'its Title names the invoice');
  });
});

describe('the PDF of a long or a paid invoice', () => {
  test('a long invoice goes on over pages, every line drawn; a paid one says when it was paid', async () => {
    const customer = await stripe.customers.create({ email: 'many@example.com' });
    for (let i = 1; i <= 45; i++) await stripe.invoiceItems.create({ customer: customer.id, amount: 100 * i, currency: 'usd', description: `Item number ${i}` });
    const draft = await stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 30, pending_invoice_items_behavior: 'include' });
    const inv = await stripe.invoices.pay((await stripe.invoices.finalizeInvoice(draft.id!)).id!, { paid_out_of_band: true });
    const pdf = Buffer.from(await (await fetch(inv.invoice_pdf!)).arrayBuffer());
    const pages = pdf.toString('latin1').match(/\/Type \/Page\b(?!s)/g) ?? [];
    assert.ok(pages.length >= 2, `more than one page (${pages.length})`);
    const text = pdfText(pdf);
    for (let i = 1; i <= 45; i++) assert.ok(text.includes(`Item number ${i}\n`) || text.endsWith(`Item number ${i}`), `line ${i} is drawn`);
    assert.ok(text.includes('$1,035.00'), 'the total (sum of 1..45 dollars)');
    assert.match(text, /\$1,035\.00 paid \w+ \d+, \d{4}/, 'paid, and when');
  });
});

describe('paying on the page', () => {
  test('a decline is shown on the page and leaves the invoice open; the next card pays it once; the same form posted again pays nothing more', async () => {
    const inv = await openInvoice();
    const url = inv.hosted_invoice_url!;
    const v = new Visitor();

    const declined = await payOnPage(v, url, DECLINED);
    assert.equal(declined.location, new URL(url).pathname, 'back to the page');
    const shown = await v.get(url);
    assert.match(shown.text, /<p class="alert" role="alert" id="card-error">Your card was declined\.<\/p>/);
    const afterDecline = await stripe.invoices.retrieve(inv.id!);
    assert.equal(afterDecline.status, 'open');
    assert.equal(afterDecline.attempt_count, 1);

    const paid = await payOnPage(v, url, VISA);
    assert.equal(paid.location, new URL(url).pathname);
    const again = await v.post(url, paid.form);
    assert.equal(again.status, 303, 'posting the same form again (a reload) is answered, not run');
    const page = await v.get(url);
    assert.match(page.text, /<h1 id="outcome">Paid<\/h1>/);
    const done = await stripe.invoices.retrieve(inv.id!);
    assert.equal(done.status, 'paid');
    assert.equal(done.amount_paid, 2000);
    assert.equal(done.amount_remaining, 0);
    const pi = await intentOf(stripe, inv.id!);
    assert.ok(pi);
    assert.equal(sales(await server.ledger(pi)).length, 1, 'one sale');
    assert.equal((await eventsAbout(stripe, 'invoice.paid', inv.id!)).length, 1, 'one invoice.paid');
    assert.match(page.text, /This invoice was paid on <span id="paid-at">/);
  });

  test('3-D Secure: the page asks for authentication; Complete pays, Fail shows Stripe\'s failure and the form again', async () => {
    const inv = await openInvoice();
    const url = inv.hosted_invoice_url!;
    const v = new Visitor();
    await payOnPage(v, url, THREE_DS);
    const step = await v.get(url);
    assert.match(step.text, /3D Secure 2 Test Page/);
    assert.match(step.text, /requires authentication/);
    assert.equal((await stripe.invoices.retrieve(inv.id!)).status, 'open');
    const fail = await v.post(`${url}/authenticate`, { ...hiddenFields(step.text), outcome: 'fail' });
    assert.equal(fail.status, 303);
    const failed = await v.get(url);
    assert.match(failed.text, /id="card-error">The provided PaymentMethod has failed authentication/);
    assert.equal((await stripe.invoices.retrieve(inv.id!)).status, 'open');

    await payOnPage(v, url, THREE_DS);
    const step2 = await v.get(url);
    const complete = await v.post(`${url}/authenticate`, { ...hiddenFields(step2.text), outcome: 'complete' });
    assert.equal(complete.status, 303);
    assert.match((await v.get(url)).text, /<h1 id="outcome">Paid<\/h1>/);
    assert.equal((await stripe.invoices.retrieve(inv.id!)).status, 'paid');
    assert.equal(sales(await server.ledger((await intentOf(stripe, inv.id!))!)).length, 1, 'one sale');
    assert.equal((await eventsAbout(stripe, 'invoice.paid', inv.id!)).length, 1);
  });

  test('a form without its CSRF cookie, or from another site, is refused and pays nothing', async () => {
    const inv = await openInvoice();
    const url = inv.hosted_invoice_url!;
    const v = new Visitor();
    const page = await v.get(url);
    const form = { ...hiddenFields(page.text), ...card(VISA) };
    const noCookie = await fetch(url, { method: 'POST', body: new URLSearchParams(form), redirect: 'manual' });
    assert.equal(noCookie.status, 403);
    const otherSite = await fetch(url, {
      method: 'POST', body: new URLSearchParams(form), redirect: 'manual', headers: { cookie: v.cookie, origin: 'https://evil.example' },
    });
    assert.equal(otherSite.status, 403);
    assert.equal((await stripe.invoices.retrieve(inv.id!)).status, 'open');
    assert.equal(await intentOf(stripe, inv.id!), null, 'no payment was even attempted');
  });

  test('an incomplete card is shown by its field, with nothing sent to the acquirer', async () => {
    const inv = await openInvoice();
    const v = new Visitor();
    const page = await v.get(inv.hosted_invoice_url!);
    const res = await v.post(inv.hosted_invoice_url!, { ...hiddenFields(page.text), ...card(''), cardCvc: '' });
    assert.equal(res.status, 400);
    const text = await res.text();
    assert.match(text, /Your card number is incomplete\./);
    assert.match(text, /Your card&#39;s security code is incomplete\./);
    assert.equal(await intentOf(stripe, inv.id!), null);
  });
});
