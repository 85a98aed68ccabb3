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
 *   test clock      advance: test_helpers.test_clock.advancing, invoice.created (draft), customer.subscription.updated
 *                     (the new period; Stripe's renewal order), invoice.finalized, the payment's events, ready
 *   renewal declined: ... invoice.finalized, payment_intent.created, charge.failed, payment_intent.payment_failed,
 *                     invoice.updated (the attempt counted), invoice.payment_failed (attempt_count 1, no retry:
 *                     Oncepay has no Smart Retries, so never unpaid),
 *                     customer.subscription.updated (past_due); paid later: the same intent succeeds, ...,
 *                     customer.subscription.updated (active)
 *   trial on a clock: trial_will_end three days before (once), then at trial end the renewal's events with
 *                     customer.subscription.updated {status: trialing}; without a payment method and pause:
 *                     trial_will_end, customer.subscription.paused, customer.subscription.updated, no invoice;
 *                     resume: invoice.created, invoice.finalized, customer.subscription.resumed, updated, the payment
 *   orders          order.created; each payment: the intent's events, order.updated (partially_paid / paid),
 *                     order.paid; a refund: charge.refunded, refund.created, order.updated; an update:
 *                     order.updated; cancel: order.canceled (no previous_attributes)
 *   intent canceled directly: its InvoicePayment follows (canceled), the invoice stays open
 *
 * No card payment of an invoice shows `processing`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { STORE } from '../helpers/store.ts';
import { freshEventReader, type SeenEvent } from '../helpers/events.ts';

const { server: s } = useTestServer({ config: { webhookIntervalMs: 0 } });

type Obj = Record<string, any>;
type Seen = SeenEvent;

/** A client on a fresh account, and a reader of the events since the last read, oldest first. */
const fresh = () => freshEventReader(s, assertWellFormed);

const types = (events: Seen[]) => events.map((e) => e.type);
const only = (events: Seen[], type: string) => events.filter((e) => e.type === type);

function assertWellFormed(events: Stripe.Event[]): void {
  for (const e of events) {
    if (!e.type.endsWith('.updated')) assert.equal(e.data.previous_attributes, undefined, `${e.type} carries previous_attributes`);
    assert.notEqual(e.type, 'payment_intent.processing', 'a card payment shows processing');
  }
  for (let i = 1; i < events.length; i++) assert.ok(events[i].created >= events[i - 1].created, 'events are in order of created');
}

/** A renewal's successful card payment, after its invoice was finalized. */
const RENEWAL_PAID = [
  'payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'invoice.updated', 'invoice.paid', 'invoice.payment_succeeded', 'invoice_payment.paid',
];

/** customer.subscription.updated for a new period: the items' period and latest_invoice changed, and only what changed is in previous_attributes. */
function assertNewPeriod(e: Seen, sub: Stripe.Subscription, invoice: string, periodStart: number): void {
  assert.deepEqual([e.object.id, e.object.latest_invoice, e.object.items.data[0].current_period_start], [sub.id, invoice, periodStart]);
  assert.ok(e.previous, 'previous_attributes');
  assert.notEqual(e.previous.latest_invoice, invoice);
  assert.ok(e.previous.items.data[0].current_period_end <= periodStart, 'the items carried the old period');
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
    assert.deepEqual(types(ev), [
      'test_helpers.test_clock.advancing', 'invoice.created', 'customer.subscription.updated', 'invoice.finalized',
      ...RENEWAL_PAID, 'test_helpers.test_clock.ready',
    ]);
    assert.equal(renewal[0].object.status, 'draft');
    const updated = only(ev, 'customer.subscription.updated');
    assert.equal(updated.length, 1);
    assertNewPeriod(updated[0], sub, renewal[0].object.id, start + 31 * 86_400);
    assert.equal(updated[0].previous?.status, undefined, 'a renewal keeps the status');
    assert.deepEqual([ev[3].object.status, ev[3].object.billing_reason], ['open', 'subscription_cycle']);
    assert.deepEqual([ev[ev.length - 1].object.status, ev[ev.length - 1].object.frozen_time], ['ready', start + 32 * 86_400]);
  });

  test('a renewal the card declines: past_due (the failed attempt\'s events), then paid by another card: active again', async () => {
    const { stripe, next } = await fresh();
    const start = Math.floor(Date.UTC(2027, 2, 1) / 1000);
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: start });
    const c = await customerWithCard(stripe, { test_clock: clock.id });
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 700, product_data: { name: 'Declines' }, recurring: { interval: 'month' } });
    const sub = await stripe.subscriptions.create({ customer: c.id, items: [{ price: price.id }] });
    await stripe.customers.update(c.id, { invoice_settings: { default_payment_method: 'pm_card_visa_chargeDeclined' } });
    await next();
    await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: start + 32 * 86_400 });
    const ev = await next();
    assert.deepEqual(types(ev), [
      'test_helpers.test_clock.advancing', 'invoice.created', 'customer.subscription.updated', 'invoice.finalized',
      'payment_intent.created', 'charge.failed', 'payment_intent.payment_failed', 'invoice.updated', 'invoice.payment_failed',
      'customer.subscription.updated', 'test_helpers.test_clock.ready',
    ]);
    const [, created, period, finalized, piCreated, charge, piFailed, attempt, failed, pastDue] = ev;
    assert.deepEqual([created.object.status, created.object.billing_reason], ['draft', 'subscription_cycle']);
    assertNewPeriod(period, sub, created.object.id, start + 31 * 86_400);
    assert.deepEqual([period.object.status, period.previous?.status], ['active', undefined]);
    assert.equal(finalized.object.status, 'open');
    assert.deepEqual([piCreated.object.amount, charge.object.status, charge.object.failure_code, charge.object.payment_intent], [700, 'failed', 'card_declined', piCreated.object.id]);
    assert.deepEqual([piFailed.object.id, piFailed.object.status, piFailed.object.last_payment_error?.code], [piCreated.object.id, 'requires_payment_method', 'card_declined']);
    // Oncepay has no Smart Retries: one attempt, no next one scheduled (the subscription stays past_due, never unpaid).
    assert.deepEqual(
      [failed.object.id, failed.object.status, failed.object.attempt_count, failed.object.attempted, failed.object.amount_paid, failed.object.next_payment_attempt],
      [created.object.id, 'open', 1, true, 0, null]);
    // The attempt is tracked by invoice.updated, as Stripe does, with what it changed.
    assert.deepEqual([attempt.object.id, attempt.object.attempt_count, attempt.previous], [created.object.id, 1, { attempt_count: 0, attempted: false, next_payment_attempt: finalized.object.next_payment_attempt }]);
    assert.equal(typeof finalized.object.next_payment_attempt, 'number', 'the finalized invoice had its attempt scheduled');
    assert.deepEqual([pastDue.object.id, pastDue.object.status, pastDue.previous], [sub.id, 'past_due', { status: 'active' }]);

    await stripe.customers.update(c.id, { invoice_settings: { default_payment_method: 'pm_card_visa' } });
    await next();
    await stripe.invoices.pay(created.object.id);
    const paid = await next();
    // The invoice's intent is confirmed again with the new card: no second payment_intent.created.
    assert.deepEqual(types(paid), [...RENEWAL_PAID.slice(1), 'customer.subscription.updated']);
    assert.deepEqual([paid[0].object.status, paid[1].object.id], ['succeeded', piCreated.object.id]);
    assert.deepEqual([paid[2].object.status, paid[2].previous?.status, paid[2].previous?.amount_paid, paid[2].previous?.attempt_count], ['paid', 'open', 0, 1]);
    const active = paid[paid.length - 1];
    assert.deepEqual([active.object.status, active.previous], ['active', { status: 'past_due' }]);
    assert.deepEqual((await stripe.invoicePayments.list({ invoice: created.object.id })).data.map((p) => p.status), ['paid']);
  });

  test('a trial on a clock: trial_will_end three days before, then the first paid period at trial end', async () => {
    const { stripe, next } = await fresh();
    const start = Math.floor(Date.UTC(2027, 2, 1) / 1000);
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: start });
    const c = await customerWithCard(stripe, { test_clock: clock.id });
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 900, product_data: { name: 'Trial' }, recurring: { interval: 'month' } });
    await next();
    const sub = await stripe.subscriptions.create({ customer: c.id, items: [{ price: price.id }], trial_period_days: 7 });
    const trialEnd = start + 7 * 86_400;
    const begun = await next();
    assert.deepEqual(types(begun), ['customer.subscription.created', 'invoice.created', 'invoice.finalized', 'invoice.paid', 'invoice.payment_succeeded']);
    assert.deepEqual([begun[0].object.status, begun[0].object.trial_end, begun[1].object.total, begun[1].object.billing_reason], ['trialing', trialEnd, 0, 'subscription_create']);

    await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: trialEnd - 3 * 86_400 });
    const warned = await next();
    assert.deepEqual(types(warned), ['test_helpers.test_clock.advancing', 'customer.subscription.trial_will_end', 'test_helpers.test_clock.ready']);
    assert.deepEqual([warned[1].object.id, warned[1].object.status, warned[1].object.trial_end], [sub.id, 'trialing', trialEnd]);

    await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: trialEnd + 3600 });
    const ev = await next();
    assert.deepEqual(types(ev), [
      'test_helpers.test_clock.advancing', 'invoice.created', 'customer.subscription.updated', 'invoice.finalized',
      ...RENEWAL_PAID, 'test_helpers.test_clock.ready',
    ], 'warned once only');
    const [, created, updated] = ev;
    assert.deepEqual([created.object.total, created.object.billing_reason], [900, 'subscription_cycle']);
    assertNewPeriod(updated, sub, created.object.id, trialEnd);
    assert.deepEqual([updated.object.status, updated.previous?.status], ['active', 'trialing']);
  });

  test('a trial ending without a payment method pauses (paused, updated), resume starts a paid period (resumed, updated)', async () => {
    const { stripe, next } = await fresh();
    const start = Math.floor(Date.UTC(2027, 2, 1) / 1000);
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: start });
    const c = await stripe.customers.create({ email: 'nopm@example.com', test_clock: clock.id });
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 800, product_data: { name: 'Pause' }, recurring: { interval: 'month' } });
    const sub = await stripe.subscriptions.create({
      customer: c.id, items: [{ price: price.id }], trial_period_days: 7, trial_settings: { end_behavior: { missing_payment_method: 'pause' } },
    });
    await next();
    await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: start + 8 * 86_400 });
    const ev = await next();
    assert.deepEqual(types(ev), [
      'test_helpers.test_clock.advancing', 'customer.subscription.trial_will_end', 'customer.subscription.paused', 'customer.subscription.updated',
      'test_helpers.test_clock.ready',
    ], 'no invoice for a paused subscription');
    const [, , paused, updated] = ev;
    assert.deepEqual([paused.object.id, paused.object.status, updated.object.status, updated.previous], [sub.id, 'paused', 'paused', { status: 'trialing' }]);

    await stripe.customers.update(c.id, { invoice_settings: { default_payment_method: 'pm_card_visa' } });
    await next();
    await stripe.subscriptions.resume(sub.id);
    const resumed = await next();
    assert.deepEqual(types(resumed), [
      'invoice.created', 'invoice.finalized', 'customer.subscription.resumed', 'customer.subscription.updated', ...RENEWAL_PAID,
    ]);
    const [created, , back, moved] = resumed;
    assert.deepEqual([created.object.billing_reason, created.object.total], ['subscription_update', 800]);
    assert.deepEqual([back.object.status, moved.object.status, moved.previous?.status, moved.object.latest_invoice], ['active', 'active', 'paused', created.object.id]);
    assert.equal(moved.previous?.billing_cycle_anchor, start + 7 * 86_400);
  });

  test('an order (Oncepay\'s own): created, partially paid, paid, partially refunded; another updated and canceled', async () => {
    const { stripe, next } = await fresh();
    const order = (params: Record<string, unknown>, path = '') => stripe.rawRequest('POST', `/v1/orders${path}`, params) as Promise<Obj>;
    const pay = (id: string, amount: number) => stripe.paymentIntents.create({ amount, currency: 'usd', order: id, payment_method: 'pm_card_visa', confirm: true } as Stripe.PaymentIntentCreateParams);
    const o = await order({ currency: 'usd', line_items: [{ amount: 3000 }] });
    const created = await next();
    assert.deepEqual(types(created), ['order.created']);
    assert.deepEqual([created[0].object.status, created[0].object.amount_total, created[0].object.amount_paid], ['open', 3000, 0]);

    const first = await pay(o.id, 1000);
    const part = await next();
    assert.deepEqual(types(part), ['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'order.updated']);
    assert.deepEqual([part[3].object.status, part[3].object.amount_paid, part[3].previous], ['partially_paid', 1000, { amount_paid: 0, amount_remaining: 3000, status: 'open' }]);

    await pay(o.id, 2000);
    const paid = await next();
    assert.deepEqual(types(paid), ['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'order.updated', 'order.paid']);
    assert.deepEqual([paid[3].object.status, paid[3].previous], ['paid', { amount_paid: 1000, amount_remaining: 2000, status: 'partially_paid' }]);
    assert.deepEqual([paid[4].object.status, paid[4].object.amount_remaining], ['paid', 0]);

    await stripe.refunds.create({ payment_intent: first.id, amount: 400 });
    const refunded = await next();
    assert.deepEqual(types(refunded), ['charge.refunded', 'refund.created', 'order.updated']);
    assert.deepEqual([refunded[2].object.status, refunded[2].object.amount_refunded, refunded[2].previous], ['partially_refunded', 400, { amount_refunded: 0, status: 'paid' }]);
    assert.deepEqual(refunded[2].object, JSON.parse(JSON.stringify(await stripe.rawRequest('GET', `/v1/orders/${o.id}`))), 'the last order event carries what GET answers');

    const other = await order({ currency: 'usd', line_items: [{ amount: 500 }] });
    await next();
    await order({ description: 'changed' }, `/${other.id}`);
    const changed = await next();
    assert.deepEqual(types(changed), ['order.updated']);
    assert.deepEqual([changed[0].object.description, changed[0].previous], ['changed', { description: null }]);
    await order({}, `/${other.id}/cancel`);
    const canceled = await next();
    assert.deepEqual(types(canceled), ['order.canceled']);
    assert.deepEqual([canceled[0].object.status, typeof canceled[0].object.canceled_at], ['canceled', 'number']);
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
