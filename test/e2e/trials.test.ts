/**
 * Trials, with test clocks and the official client: a trialing subscription with its $0 invoice,
 * customer.subscription.trial_will_end three days before the end (once, even when the clock jumps
 * past it), the first paid period and its collection at trial end, trial_settings' end behaviors
 * without a payment method (cancel, pause then resume, create_invoice), trial_end=now and
 * trial_from_plan. Every test runs in an account of its own.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { storedEvents } from '../helpers/events.ts';
import { sales } from '../helpers/ledger.ts';
import { intentOf } from '../helpers/invoices.ts';
import { at, expectedEnd } from '../helpers/periods.ts';

const { server: s } = useTestServer();
const DAY = 86_400;
const T0 = at('2026-01-10T09:00:00Z');

async function world(o: { pm?: string | null; trialDays?: number } = {}) {
  const acct = await s.newAccount();
  const stripe = s.stripe({ key: acct.key });
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: T0 });
  const pm = o.pm === undefined ? 'pm_card_visa' : o.pm;
  const customer = await stripe.customers.create({ test_clock: clock.id, ...(pm ? { invoice_settings: { default_payment_method: pm } } : {}) });
  const price = await stripe.prices.create({
    currency: 'usd', unit_amount: 1500, product_data: { name: 'Pro' },
    recurring: { interval: 'month', ...(o.trialDays ? { trial_period_days: o.trialDays } : {}) },
  });
  const advance = async (t: number) => assert.equal((await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: t })).status, 'ready');
  const events = (type: string, id: string) => storedEvents(s, type, id, acct.accountId);
  const invoices = async (sub: string) => (await stripe.invoices.list({ subscription: sub, limit: 100 })).data.reverse();
  const ledger = async () => (await s.oncepay.processor.ledger(acct.accountId)) as unknown as Array<{ kind: string; outcome: string; amount: number }>;
  const sold = async () => sales(await ledger()).map((e) => e.amount);
  return { stripe, clock, customer, price, advance, events, invoices, sold };
}

describe('trials', () => {
  test('trial_period_days: trialing, a $0 invoice, trial_will_end 3 days before (once), then the first paid period charged at the trial end', async () => {
    const w = await world();
    const sub = await w.stripe.subscriptions.create({ customer: w.customer.id, items: [{ price: w.price.id, quantity: 2 }], trial_period_days: 14 });
    const end = T0 + 14 * DAY;
    assert.equal(sub.status, 'trialing');
    assert.deepEqual([sub.trial_start, sub.trial_end, sub.billing_cycle_anchor], [T0, end, end]);
    assert.deepEqual([sub.items.data[0].current_period_start, sub.items.data[0].current_period_end], [T0, end], 'the trial is the first period');
    const [first] = await w.invoices(sub.id);
    assert.deepEqual([first.billing_reason, first.status, first.total, first.lines.data[0].amount], ['subscription_create', 'paid', 0, 0]);
    assert.equal(await intentOf(w.stripe, first.id), null, 'nothing is charged for a trial');
    assert.equal((await w.events('customer.subscription.trial_will_end', sub.id)).length, 0);

    await w.advance(end - 3 * DAY - 60);
    assert.equal((await w.events('customer.subscription.trial_will_end', sub.id)).length, 0, 'not yet: more than three days remain');
    await w.advance(end - 3 * DAY);
    const warned = await w.events('customer.subscription.trial_will_end', sub.id);
    assert.equal(warned.length, 1);
    assert.equal(warned[0].data.object.status, 'trialing');
    await w.advance(end - DAY);
    assert.equal((await w.events('customer.subscription.trial_will_end', sub.id)).length, 1, 'once per trial');

    await w.advance(end + 60);
    const after = await w.stripe.subscriptions.retrieve(sub.id);
    assert.equal(after.status, 'active');
    assert.deepEqual([after.items.data[0].current_period_start, after.items.data[0].current_period_end], [end, expectedEnd(end, 'month', 1)]);
    const [, renewal] = await w.invoices(sub.id);
    assert.deepEqual([renewal.billing_reason, renewal.status, renewal.total], ['subscription_cycle', 'paid', 3000]);
    assert.equal(after.latest_invoice, renewal.id);
    assert.deepEqual(await w.sold(), [3000]);
  });

  test('a clock jumping past the whole trial still warns first, then bills every period once', async () => {
    const w = await world();
    const end = T0 + 7 * DAY;
    const sub = await w.stripe.subscriptions.create({ customer: w.customer.id, items: [{ price: w.price.id }], trial_end: end });
    await w.advance(expectedEnd(end, 'month', 2) + 60);
    const warned = await w.events('customer.subscription.trial_will_end', sub.id);
    assert.equal(warned.length, 1);
    const invs = await w.invoices(sub.id);
    assert.deepEqual(invs.map((i) => [i.billing_reason, i.total, i.period_start]),
      [['subscription_create', 0, T0], ['subscription_cycle', 1500, end], ['subscription_cycle', 1500, expectedEnd(end, 'month', 1)], ['subscription_cycle', 1500, expectedEnd(end, 'month', 2)]]);
    assert.deepEqual(await w.sold(), [1500, 1500, 1500]);
  });

  test('a trial shorter than three days warns at once; no payment method is needed to start a trial', async () => {
    const w = await world({ pm: null });
    const sub = await w.stripe.subscriptions.create({ customer: w.customer.id, items: [{ price: w.price.id }], trial_end: T0 + 2 * DAY });
    assert.equal(sub.status, 'trialing');
    assert.equal((await w.events('customer.subscription.trial_will_end', sub.id)).length, 1);
  });

  test('trial_end=now on update: the trial ends at once (trial_will_end), a full period starts now and is charged in the request', async () => {
    const w = await world();
    const sub = await w.stripe.subscriptions.create({ customer: w.customer.id, items: [{ price: w.price.id }], trial_period_days: 30 });
    await w.advance(T0 + 5 * DAY);
    const now = T0 + 5 * DAY;
    const ended = await w.stripe.subscriptions.update(sub.id, { trial_end: 'now', proration_behavior: 'none' });
    assert.deepEqual([ended.status, ended.trial_end, ended.billing_cycle_anchor], ['active', now, now]);
    assert.equal(ended.items.data[0].current_period_end, expectedEnd(now, 'month', 1));
    const latest = await w.stripe.invoices.retrieve(ended.latest_invoice as string);
    assert.deepEqual([latest.billing_reason, latest.status, latest.total], ['subscription_update', 'paid', 1500]);
    assert.equal((await w.events('customer.subscription.trial_will_end', sub.id)).length, 1);
    assert.deepEqual(await w.sold(), [1500]);
  });

  test('trial_end moved later on a trialing subscription moves the period and the anchor; a new end warns again', async () => {
    const w = await world();
    const sub = await w.stripe.subscriptions.create({ customer: w.customer.id, items: [{ price: w.price.id }], trial_end: T0 + 2 * DAY });
    assert.equal((await w.events('customer.subscription.trial_will_end', sub.id)).length, 1);
    const later = T0 + 20 * DAY;
    const moved = await w.stripe.subscriptions.update(sub.id, { trial_end: later });
    assert.deepEqual([moved.trial_end, moved.billing_cycle_anchor, moved.items.data[0].current_period_end], [later, later, later]);
    await w.advance(T0 + 3 * DAY);
    assert.equal((await w.invoices(sub.id)).length, 1, 'no invoice at the old trial end');
    assert.equal((await w.stripe.subscriptions.retrieve(sub.id)).status, 'trialing', 'still trialing at the old end');
    await w.advance(later - 3 * DAY);
    assert.equal((await w.events('customer.subscription.trial_will_end', sub.id)).length, 2);
  });

  test('trial_from_plan takes the price\'s recurring.trial_period_days', async () => {
    const w = await world({ trialDays: 10 });
    assert.equal(w.price.recurring?.trial_period_days, 10);
    const sub = await w.stripe.subscriptions.create({ customer: w.customer.id, items: [{ price: w.price.id }], trial_from_plan: true });
    assert.deepEqual([sub.status, sub.trial_end], ['trialing', T0 + 10 * DAY]);
    const plain = await w.stripe.subscriptions.create({ customer: w.customer.id, items: [{ price: w.price.id }] });
    assert.deepEqual([plain.status, plain.trial_end, plain.trial_start], ['active', null, null], 'without trial_from_plan, no trial');
  });
});

describe('a trial ending without a payment method (trial_settings)', () => {
  const trialSettings = (b: 'cancel' | 'pause' | 'create_invoice') => ({ end_behavior: { missing_payment_method: b } });

  test('cancel: canceled at the trial end, never invoiced', async () => {
    const w = await world({ pm: null });
    const sub = await w.stripe.subscriptions.create({ customer: w.customer.id, items: [{ price: w.price.id }], trial_period_days: 7, trial_settings: trialSettings('cancel') });
    assert.equal(sub.trial_settings?.end_behavior.missing_payment_method, 'cancel');
    await w.advance(T0 + 8 * DAY);
    const after = await w.stripe.subscriptions.retrieve(sub.id);
    assert.deepEqual([after.status, after.ended_at], ['canceled', T0 + 7 * DAY]);
    assert.equal((await w.events('customer.subscription.deleted', sub.id)).length, 1);
    assert.equal((await w.invoices(sub.id)).length, 1, 'only the trial\'s $0 invoice');
  });

  test('pause: paused (customer.subscription.paused), not invoiced; resume starts a paid period now', async () => {
    const w = await world({ pm: null });
    const sub = await w.stripe.subscriptions.create({ customer: w.customer.id, items: [{ price: w.price.id }], trial_period_days: 7, trial_settings: trialSettings('pause') });
    await w.advance(T0 + 10 * DAY);
    assert.equal((await w.stripe.subscriptions.retrieve(sub.id)).status, 'paused');
    assert.equal((await w.events('customer.subscription.paused', sub.id)).length, 1);
    await w.advance(T0 + 60 * DAY);
    assert.equal((await w.invoices(sub.id)).length, 1, 'a paused subscription is not billed');
    await w.stripe.customers.update(w.customer.id, { invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const resumed = await w.stripe.subscriptions.resume(sub.id);
    assert.equal(resumed.status, 'active');
    assert.deepEqual([resumed.billing_cycle_anchor, resumed.items.data[0].current_period_start], [T0 + 60 * DAY, T0 + 60 * DAY]);
    assert.equal((await w.events('customer.subscription.resumed', sub.id)).length, 1);
    // Through the API too (its answers are checked against the OpenAPI document and Stripe's types).
    const types = ['customer.subscription.paused', 'customer.subscription.resumed', 'customer.subscription.trial_will_end'];
    const listed = await w.stripe.events.list({ types });
    assert.deepEqual(listed.data.map((e) => e.type).sort(), types);
    assert.deepEqual(await w.sold(), [1500]);
    const again = await w.stripe.subscriptions.resume(sub.id).then(() => null, (e: Stripe.errors.StripeError) => e);
    assert.equal(again?.code, 'subscription_unexpected_state', 'only a paused subscription resumes');
  });

  test('create_invoice (the default): active with an open invoice whose collection fails, then past_due', async () => {
    const w = await world({ pm: null });
    const sub = await w.stripe.subscriptions.create({ customer: w.customer.id, items: [{ price: w.price.id }], trial_period_days: 7 });
    assert.equal(sub.trial_settings?.end_behavior.missing_payment_method, 'create_invoice');
    await w.advance(T0 + 8 * DAY);
    const after = await w.stripe.subscriptions.retrieve(sub.id);
    assert.equal(after.status, 'past_due');
    const [, renewal] = await w.invoices(sub.id);
    assert.deepEqual([renewal.status, renewal.attempt_count, renewal.total], ['open', 1, 1500]);
  });
});
