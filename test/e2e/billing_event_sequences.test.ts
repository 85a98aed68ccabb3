/**
 * The exact events of every billing flow (issue 15), as Stripe emits them: types in the order
 * they were created, the object state each carries, and previous_attributes only on `*.updated`
 * (Stripe's Event object: "only included in events of type *.updated").
 *
 *   invoice         create with pending items: invoice.created, invoiceitem.updated (its invoice)
 *                   finalize: invoice.finalized (open, numbered)
 *                   pay by card: payment_intent.created, charge.succeeded, payment_intent.succeeded,
 *                     invoice.updated, invoice.paid, invoice.payment_succeeded, invoice_payment.paid
 *                   paid out of band: invoice.updated, invoice.paid (no payment_succeeded)
 *                   void: invoice.voided; mark_uncollectible: invoice.marked_uncollectible; send: invoice.sent
 *                   delete a draft: invoice.deleted, invoiceitem.updated (back to pending)
 *   invoice items   created, deleted; updated on a draft: invoiceitem.updated (Oncepay's own, see invoice_core.ts)
 *   subscription    create: customer.subscription.created (incomplete), invoice.created, invoice.finalized,
 *                     the payment's events, customer.subscription.updated (active)
 *                   trial: created (trialing), a $0 invoice created, finalized, paid, payment_succeeded
 *                   cancel: customer.subscription.deleted
 *   test clock      advance: test_helpers.test_clock.advancing, the renewal's events, ready
 *   intent canceled directly: its InvoicePayment follows (canceled), the invoice stays open
 *
 * No card payment of an invoice shows `processing`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { STORE } from '../helpers/store.ts';

const { server: s } = useTestServer({ config: { webhookIntervalMs: 0 } });

type Obj = Record<string, any>;
interface Seen { type: string; object: Obj; previous: Obj | undefined; created: number }

async function fresh(): Promise<{ stripe: Stripe; next: () => Promise<Seen[]> }> {
  const acct = await s.newAccount();
  const stripe = s.stripe({ key: acct.key });
  const seen = new Set<string>();
  return {
    stripe,
    async next() {
      const all: Stripe.Event[] = [];
      for await (const e of stripe.events.list({ limit: 100 })) all.push(e);
      const out = all.reverse().filter((e) => !seen.has(e.id));
      for (const e of out) seen.add(e.id);
      assertWellFormed(out);
      return out.map((e) => ({ type: e.type, object: e.data.object as Obj, previous: e.data.previous_attributes as Obj | undefined, created: e.created }));
    },
  };
}

const types = (events: Seen[]) => events.map((e) => e.type);
const only = (events: Seen[], type: string) => events.filter((e) => e.type === type);

function assertWellFormed(events: Stripe.Event[]): void {
  for (const e of events) {
    if (!e.type.endsWith('.updated')) assert.equal(e.data.previous_attributes, undefined, `${e.type} carries previous_attributes`);
    assert.notEqual(e.type, 'payment_intent.processing', 'a card payment shows processing');
  }
  for (let i = 1; i < events.length; i++) assert.ok(events[i].created >= events[i - 1].created, 'events are in order of created');
}

async function customerWithCard(stripe: Stripe, extra: Stripe.CustomerCreateParams = {}) {
  return stripe.customers.create({ email: 'seq@example.com', invoice_settings: { default_payment_method: 'pm_card_visa' }, ...extra });
}

async function draftWithItem(stripe: Stripe, customer: string, amount = 2500) {
  const item = await stripe.invoiceItems.create({ customer, amount, currency: 'usd', description: 'work' });
  const inv = await stripe.invoices.create({ customer, pending_invoice_items_behavior: 'include' });
  return { item, inv };
}

describe(`billing event sequences [${STORE}]`, () => {
  test('invoice: created with its pending item (invoiceitem.updated), finalized, paid by card', async () => {
    const { stripe, next } = await fresh();
    const c = await customerWithCard(stripe);
    await next();
    const { item, inv } = await draftWithItem(stripe, c.id);
    const created = await next();
    assert.deepEqual(types(created), ['invoiceitem.created', 'invoice.created', 'invoiceitem.updated']);
    assert.equal(created[0].object.invoice, null);
    assert.equal(created[1].object.status, 'draft');
    assert.deepEqual([created[2].object.id, created[2].object.invoice, created[2].previous], [item.id, inv.id, { invoice: null }]);

    await stripe.invoices.finalizeInvoice(inv.id);
    const finalized = await next();
    assert.deepEqual(types(finalized), ['invoice.finalized']);
    assert.equal(finalized[0].object.status, 'open');
    assert.match(finalized[0].object.number, /-0001$/);

    await stripe.invoices.pay(inv.id);
    const paid = await next();
    assert.deepEqual(types(paid), [
      'payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'invoice.updated', 'invoice.paid', 'invoice.payment_succeeded', 'invoice_payment.paid',
    ]);
    const [updated, invPaid, succeeded, payment] = paid.slice(3);
    assert.deepEqual([updated.object.status, updated.previous?.status, updated.previous?.amount_paid, updated.previous?.amount_remaining], ['paid', 'open', 0, 2500]);
    assert.deepEqual([invPaid.object.status, invPaid.object.amount_paid, succeeded.object.status], ['paid', 2500, 'paid']);
    assert.deepEqual([payment.object.object, payment.object.status, payment.object.amount_paid, payment.object.invoice], ['invoice_payment', 'paid', 2500, inv.id]);
    assert.deepEqual(succeeded.object, JSON.parse(JSON.stringify(await stripe.invoices.retrieve(inv.id))), 'the last invoice event carries what GET answers');
  });

  test('invoice paid out of band: invoice.updated, invoice.paid, no payment_succeeded', async () => {
    const { stripe, next } = await fresh();
    const c = await customerWithCard(stripe);
    const { inv } = await draftWithItem(stripe, c.id);
    await stripe.invoices.finalizeInvoice(inv.id);
    await next();
    await stripe.invoices.pay(inv.id, { paid_out_of_band: true });
    const ev = await next();
    assert.deepEqual(types(ev), ['invoice.updated', 'invoice.paid']);
    assert.equal(ev[1].object.status, 'paid');
  });

  test('void, mark uncollectible, send: one state event each, no previous_attributes', async () => {
    const { stripe, next } = await fresh();
    const c = await customerWithCard(stripe);
    const a = (await draftWithItem(stripe, c.id)).inv;
    await stripe.invoices.finalizeInvoice(a.id);
    await next();
    await stripe.invoices.voidInvoice(a.id);
    const voided = await next();
    assert.deepEqual(types(voided), ['invoice.voided']);
    assert.equal(voided[0].object.status, 'void');

    const b = (await draftWithItem(stripe, c.id)).inv;
    await stripe.invoices.finalizeInvoice(b.id);
    await next();
    await stripe.invoices.markUncollectible(b.id);
    const marked = await next();
    assert.deepEqual(types(marked), ['invoice.marked_uncollectible']);
    assert.equal(marked[0].object.status, 'uncollectible');

    const sendable = await stripe.invoices.create({ customer: c.id, collection_method: 'send_invoice', days_until_due: 10 });
    await stripe.invoiceItems.create({ customer: c.id, amount: 400, currency: 'usd', invoice: sendable.id });
    await stripe.invoices.finalizeInvoice(sendable.id);
    await next();
    await stripe.invoices.sendInvoice(sendable.id);
    assert.deepEqual(types(await next()), ['invoice.sent']);
  });

  test('a draft deleted: invoice.deleted, then its item back to pending (invoiceitem.updated)', async () => {
    const { stripe, next } = await fresh();
    const c = await customerWithCard(stripe);
    const { item, inv } = await draftWithItem(stripe, c.id);
    await next();
    await stripe.invoices.del(inv.id);
    const ev = await next();
    assert.deepEqual(types(ev), ['invoice.deleted', 'invoiceitem.updated']);
    assert.deepEqual([ev[1].object.id, ev[1].object.invoice, ev[1].previous], [item.id, null, { invoice: inv.id }]);
    assert.equal((await stripe.invoiceItems.retrieve(item.id)).invoice, null);
  });

  test('subscription: created (incomplete) before its invoice, then paid, then updated to active; cancel: deleted', async () => {
    const { stripe, next } = await fresh();
    const c = await customerWithCard(stripe);
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 1200, product_data: { name: 'Seq' }, recurring: { interval: 'month' } });
    await next();
    const sub = await stripe.subscriptions.create({ customer: c.id, items: [{ price: price.id }] });
    const ev = await next();
    assert.deepEqual(types(ev), [
      'customer.subscription.created', 'invoice.created', 'invoice.finalized', 'payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded',
      'invoice.updated', 'invoice.paid', 'invoice.payment_succeeded', 'invoice_payment.paid', 'customer.subscription.updated',
    ]);
    assert.deepEqual([ev[0].object.status, ev[0].object.latest_invoice], ['incomplete', sub.latest_invoice]);
    const last = ev[ev.length - 1];
    assert.deepEqual([last.object.status, last.previous], ['active', { status: 'incomplete' }]);
    assert.equal(sub.status, 'active');

    await stripe.subscriptions.cancel(sub.id);
    const canceled = await next();
    assert.deepEqual(types(canceled), ['customer.subscription.deleted']);
    assert.equal(canceled[0].object.status, 'canceled');
  });

  test('trial: created trialing, its $0 invoice created, finalized, paid, payment_succeeded', async () => {
    const { stripe, next } = await fresh();
    const c = await customerWithCard(stripe);
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 900, product_data: { name: 'Trial' }, recurring: { interval: 'month' } });
    await next();
    await stripe.subscriptions.create({ customer: c.id, items: [{ price: price.id }], trial_period_days: 14 });
    const ev = await next();
    assert.deepEqual(types(ev), ['customer.subscription.created', 'invoice.created', 'invoice.finalized', 'invoice.paid', 'invoice.payment_succeeded']);
    assert.equal(ev[0].object.status, 'trialing');
    assert.deepEqual([ev[3].object.status, ev[3].object.total], ['paid', 0]);
  });

  test('test clock advance: advancing, the renewal and its payment, ready', async () => {
    const { stripe, next } = await fresh();
    const start = Math.floor(Date.UTC(2027, 2, 1) / 1000);
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: start });
    const c = await customerWithCard(stripe, { test_clock: clock.id });
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 500, product_data: { name: 'Clocked' }, recurring: { interval: 'month' } });
    const sub = await stripe.subscriptions.create({ customer: c.id, items: [{ price: price.id }] });
    await next();
    await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: start + 32 * 86_400 });
    const ev = await next();
    assert.equal(ev[0].type, 'test_helpers.test_clock.advancing');
    assert.equal(ev[0].object.status, 'advancing');
    assert.equal(ev[ev.length - 1].type, 'test_helpers.test_clock.ready');
    const renewal = only(ev, 'invoice.created');
    assert.equal(renewal.length, 1);
    assert.equal(renewal[0].object.billing_reason, 'subscription_cycle');
    const middle = types(ev).slice(1, -1);
    assert.deepEqual(middle.filter((t) => t.startsWith('invoice')), [
      'invoice.created', 'invoice.finalized', 'invoice.updated', 'invoice.paid', 'invoice.payment_succeeded', 'invoice_payment.paid',
    ]);
    const updated = only(ev, 'customer.subscription.updated');
    assert.equal(updated.length, 1);
    assert.equal(updated[0].object.id, sub.id);
    assert.ok(updated[0].previous && 'items' in updated[0].previous, 'the renewal moved the period (on the items)');
  });

  test('an invoice\'s intent canceled directly: its InvoicePayment follows, the invoice stays open and pays with a new intent', async () => {
    const { stripe, next } = await fresh();
    const c = await customerWithCard(stripe);
    const { inv } = await draftWithItem(stripe, c.id);
    await stripe.invoices.finalizeInvoice(inv.id);
    const declined = await stripe.invoices.pay(inv.id, { payment_method: 'pm_card_visa_chargeDeclined' }).catch((e: Stripe.errors.StripeError) => e);
    assert.equal((declined as Stripe.errors.StripeError).type, 'StripeCardError');
    const [first] = (await stripe.invoicePayments.list({ invoice: inv.id })).data;
    const pi = (first.payment as { payment_intent: string }).payment_intent;
    await next();
    await stripe.paymentIntents.cancel(pi);
    assert.deepEqual(types(await next()), ['payment_intent.canceled']);
    const after = await stripe.invoicePayments.retrieve(first.id);
    assert.deepEqual([after.status, typeof after.status_transitions.canceled_at], ['canceled', 'number']);
    assert.equal((await stripe.invoices.retrieve(inv.id)).status, 'open');
    const paid = await stripe.invoices.pay(inv.id);
    assert.equal(paid.status, 'paid');
    const payments = (await stripe.invoicePayments.list({ invoice: inv.id })).data;
    assert.deepEqual(payments.map((p) => p.status).sort(), ['canceled', 'paid']);
  });
});
