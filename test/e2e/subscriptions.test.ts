/**
 * Subscriptions through the official stripe client, as Stripe's API reference describes them:
 * create (first invoice finalized and charged at once), incomplete flows (a declined card,
 * payment_behavior=default_incomplete, expiry after 23 hours), update (quantities from the next
 * period on, cancel_at_period_end), cancel, external_id, list, retrieve, and a Stripe-shaped 400
 * naming the parameter for bad input. The acquirer's ledger is the ground truth of money moved.
 *
 * "Actions by status" walks SUBSCRIPTION_ACTIONS over the API for every reachable status (the
 * same table is checked as data in test/unit/subscription_state.test.ts).
 *
 * Some tests began as bug reports (first invoices charged by the billing run, expiry during a
 * payment, deleted customers still billed, late expand errors): they now guard the fixes.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { send, assertStripeError, assertOk, stripeError, type SendOptions } from '../helpers/stripe_errors.ts';
import { storedEvents } from '../helpers/events.ts';
import { uniqueKey } from '../helpers/unique.ts';
import { expectedEnd } from '../helpers/periods.ts';
import { intentOf } from '../helpers/invoices.ts';
import { SUBSCRIPTION_ACTIONS, type SubscriptionAction } from '../../src/billing/subscription_status.ts';
import type { SubscriptionStatus } from '../../src/billing/billing_objects.ts';

const { server: s, stripe } = useTestServer();

const post = (path: string, body: string, opts: SendOptions = {}) => send(s, 'POST', path, { body, timeoutMs: 30_000, ...opts });
const get = (path: string) => send(s, 'GET', path, { timeoutMs: 30_000 });
const del = (path: string, body?: string, opts: SendOptions = {}) => send(s, 'DELETE', path, { body, timeoutMs: 30_000, ...opts });

const DAY = 86_400;
const HOUR = 3600;

// ---------------------------------------------------------------------------------------------
// Objects as Oncepay renders them (the stripe package's newest types describe a later API version)

interface SubItem {
  id: string; object: 'subscription_item'; quantity: number; current_period_start: number; current_period_end: number;
  price: Stripe.Price; metadata: Record<string, string>; subscription: string;
}
interface Sub {
  id: string; object: 'subscription'; status: SubscriptionStatus; customer: string | Stripe.Customer; currency: string;
  billing_cycle_anchor: number; created: number; start_date: number; trial_start: number | null; trial_end: number | null;
  cancel_at_period_end: boolean; canceled_at: number | null; ended_at: number | null; cancel_at: number | null;
  collection_method: string; days_until_due: number | null; default_payment_method: string | null; description: string | null;
  external_id: string | null; latest_invoice: string | null; metadata: Record<string, string>; test_clock: string | null;
  items: { object: 'list'; data: SubItem[]; total_count: number; url: string };
  lastResponse: Stripe.Response<unknown>['lastResponse'];
}
interface Line {
  quantity: number; amount: number; period: { start: number; end: number }; subscription: string | null;
  pricing: { price_details?: { price: string } };
  parent: { type: string; subscription_item_details: { subscription_item: string } | null };
}
/** A line as the pre-2025 fields tests compare: its kind, price and subscription item (now under parent and pricing). */
const lineOf = (l: Line) => ({
  type: l.parent.type === 'subscription_item_details' ? 'subscription' : 'invoiceitem', price: l.pricing.price_details?.price,
  item: l.parent.subscription_item_details?.subscription_item ?? null,
});
interface Inv {
  id: string; status: string; billing_reason: string; parent: { subscription_details: { subscription: string } } | null; customer: string; currency: string;
  amount_due: number; amount_paid: number; amount_remaining: number; total: number; attempt_count: number; attempted: boolean;
  number: string | null; period_start: number; period_end: number; next_payment_attempt: number | null;
  collection_method: string; due_date: number | null; created: number; test_clock: string | null;
  status_transitions: { finalized_at: number | null; paid_at: number | null; voided_at: number | null };
  lines: { data: Line[] };
}

const asSub = (x: unknown) => x as Sub;
/** The object's JSON without the client's lastResponse. */
const plain = (x: object) => JSON.parse(JSON.stringify({ ...x, lastResponse: undefined }));

async function createSub(params: Record<string, unknown>, opts?: Stripe.RequestOptions): Promise<Sub> {
  return asSub(await stripe.subscriptions.create(params as unknown as Stripe.SubscriptionCreateParams, opts));
}
const retrieveSub = async (id: string) => asSub(await stripe.subscriptions.retrieve(id));
const retrieveInv = async (id: string) => (await stripe.invoices.retrieve(id)) as unknown as Inv;

/** Every invoice of a subscription, oldest first. */
async function subInvoices(subscription: string): Promise<Inv[]> {
  const all = await stripe.invoices.list({ subscription, limit: 100 }).autoPagingToArray({ limit: 1000 });
  return (all as unknown as Inv[]).reverse();
}

async function invoicesOf(customer: string): Promise<Inv[]> {
  return (await stripe.invoices.list({ customer, limit: 100 })).data as unknown as Inv[];
}

async function recurringPrice(o: { amount?: number; currency?: string; interval?: 'day' | 'week' | 'month' | 'year'; count?: number } = {}): Promise<Stripe.Price> {
  return stripe.prices.create({
    currency: o.currency ?? 'usd', unit_amount: o.amount ?? 1000, product_data: { name: uniqueKey('Plan') },
    recurring: { interval: o.interval ?? 'month', interval_count: o.count ?? 1 },
  });
}

async function customer(o: { pm?: string | null; clock?: string; email?: string } = {}): Promise<Stripe.Customer> {
  const pm = o.pm === undefined ? 'pm_card_visa' : o.pm;
  return stripe.customers.create({
    name: uniqueKey('Customer'), email: o.email ?? `${uniqueKey('c')}@example.com`, ...(o.clock ? { test_clock: o.clock } : {}),
    ...(pm ? { invoice_settings: { default_payment_method: pm } } : {}),
  });
}

async function clockAt(frozen: number): Promise<Stripe.TestHelpers.TestClock> {
  return stripe.testHelpers.testClocks.create({ frozen_time: frozen });
}

async function advance(clock: string, frozen: number): Promise<Stripe.TestHelpers.TestClock> {
  const c = await stripe.testHelpers.testClocks.advance(clock, { frozen_time: frozen });
  assert.equal(c.status, 'ready', 'the advance answers once its billing ran');
  assert.equal(c.frozen_time, frozen);
  return c;
}

const ledgerOf = async (pi: string | null) => (pi ? s.ledger(pi) : []);
const summary = (entries: Array<{ kind: string; amount: number; outcome: string }>) => entries.map((e) => `${e.kind}:${e.amount}:${e.outcome}`);

/** Every charge attempt made for a customer: its payment intents' ledger entries. */
async function customerLedger(customerId: string): Promise<string[]> {
  const intents = await stripe.paymentIntents.list({ customer: customerId, limit: 100 });
  const out: string[] = [];
  for (const pi of intents.data) out.push(...summary(await s.ledger(pi.id)));
  return out.sort();
}

const T0 = Date.UTC(2026, 2, 10, 9, 0, 0) / 1000; // 2026-03-10T09:00:00Z

// ---------------------------------------------------------------------------------------------

describe('create', () => {
  const cases = [['day', 1], ['day', 7], ['week', 1], ['week', 2], ['month', 1], ['month', 3], ['year', 1], ['year', 2]] as const;
  for (const [interval, count] of cases) {
    test(`every ${count} ${interval}: active, first invoice paid (subscription_create), ledger sale = price × quantity, events`, async () => {
      const price = await recurringPrice({ amount: 1250, interval, count });
      const cus = await customer();
      const key = uniqueKey('sub-create');
      const sub = await createSub({ customer: cus.id, items: [{ price: price.id, quantity: 3 }], metadata: { plan: 'pro' } }, { idempotencyKey: key });
      assert.match(sub.id, /^sub_/);
      assert.equal(sub.object, 'subscription');
      assert.equal(sub.status, 'active');
      assert.equal(sub.customer, cus.id);
      assert.equal(sub.currency, 'usd');
      assert.equal(sub.collection_method, 'charge_automatically');
      assert.equal(sub.test_clock, null);
      assert.deepEqual(sub.metadata, { plan: 'pro' });
      assert.equal(sub.cancel_at_period_end, false);
      assert.equal(sub.canceled_at, null);
      assert.equal(sub.ended_at, null);
      assert.ok(Math.abs(sub.created - Date.now() / 1000) < 120, 'a wall-clock subscription starts now');
      assert.equal(sub.start_date, sub.created);
      assert.equal(sub.billing_cycle_anchor, sub.created);
      assert.equal(sub.items.data[0].current_period_start, sub.created);
      assert.equal(sub.items.data[0].current_period_end, expectedEnd(sub.created, interval, count));
      assert.equal(sub.items.data.length, 1);
      const [item] = sub.items.data;
      assert.match(item.id, /^si_/);
      assert.equal(item.price.id, price.id);
      assert.equal(item.quantity, 3);
      assert.equal(item.subscription, sub.id);
      assert.equal(item.current_period_start, sub.items.data[0].current_period_start);
      assert.equal(item.current_period_end, sub.items.data[0].current_period_end);

      const inv = await retrieveInv(sub.latest_invoice!);
      assert.equal(inv.status, 'paid');
      assert.equal(inv.billing_reason, 'subscription_create');
      assert.equal(inv.parent?.subscription_details.subscription, sub.id);
      assert.equal(inv.customer, cus.id);
      assert.equal(inv.total, 3750);
      assert.equal(inv.amount_due, 3750);
      assert.equal(inv.amount_paid, 3750);
      assert.equal(inv.amount_remaining, 0);
      assert.equal(inv.attempt_count, 1);
      assert.equal(inv.period_start, sub.items.data[0].current_period_start);
      assert.equal(inv.period_end, sub.items.data[0].current_period_end);
      assert.match(inv.number!, /^[A-Z0-9]+-\d{4,}$/);
      assert.equal(inv.lines.data.length, 1);
      const [line] = inv.lines.data;
      assert.deepEqual({ ...lineOf(line), quantity: line.quantity, amount: line.amount, subscription: line.subscription, period: line.period },
        { type: 'subscription', quantity: 3, amount: 3750, price: price.id, subscription: sub.id, item: item.id, period: { start: sub.items.data[0].current_period_start, end: sub.items.data[0].current_period_end } });
      assert.deepEqual(summary(await ledgerOf((await intentOf(stripe, inv.id)))), ['sale:3750:approved']);
      assert.deepEqual(await customerLedger(cus.id), ['sale:3750:approved'], 'one charge for the customer in all');

      const created = await storedEvents(s, 'customer.subscription.created', sub.id);
      assert.equal(created.length, 1);
      for (const type of ['invoice.created', 'invoice.finalized', 'invoice.paid', 'invoice.payment_succeeded']) {
        assert.equal((await storedEvents(s, type, inv.id)).length, 1, `one ${type}`);
      }
      const updates = await storedEvents(s, 'customer.subscription.updated', sub.id);
      assert.deepEqual(updates.map((e) => [e.data.object.status, e.data.previous_attributes?.status]), [['active', 'incomplete']],
        'created incomplete, then active once its first invoice is paid');

      // The same key replays: nothing runs again.
      const again = await createSub({ customer: cus.id, items: [{ price: price.id, quantity: 3 }], metadata: { plan: 'pro' } }, { idempotencyKey: key });
      assert.equal(again.id, sub.id);
      assert.equal(again.lastResponse.headers['idempotent-replayed'], 'true');
      assert.equal((await invoicesOf(cus.id)).length, 1);
      assert.deepEqual(await customerLedger(cus.id), ['sale:3750:approved']);
      assert.deepEqual(plain(await retrieveSub(sub.id)), plain(sub), 'retrieve shows what create answered');
    });
  }

  test('several items on one interval: one invoice, a line per item, one charge of the sum', async () => {
    const a = await recurringPrice({ amount: 1000 });
    const b = await recurringPrice({ amount: 250 });
    const cus = await customer();
    const sub = await createSub({ customer: cus.id, items: [{ price: a.id, quantity: 2 }, { price: b.id, quantity: 4, metadata: { seat: 'extra' } }] });
    assert.equal(sub.status, 'active');
    assert.deepEqual(sub.items.data.map((i) => [i.price.id, i.quantity]), [[a.id, 2], [b.id, 4]]);
    assert.deepEqual(sub.items.data[1].metadata, { seat: 'extra' });
    assert.equal(sub.items.total_count, 2);
    const inv = await retrieveInv(sub.latest_invoice!);
    assert.equal(inv.status, 'paid');
    assert.deepEqual(inv.lines.data.map((l) => [lineOf(l).price, l.quantity, l.amount]), [[a.id, 2, 2000], [b.id, 4, 1000]]);
    assert.equal(inv.total, 3000);
    assert.deepEqual(await customerLedger(cus.id), ['sale:3000:approved']);
  });

  test('items on different intervals, interval counts or currencies, one-time or inactive prices, a price twice: 400 naming items[i][price], nothing created', async () => {
    const monthly = await recurringPrice();
    const yearly = await recurringPrice({ interval: 'year' });
    const quarterly = await recurringPrice({ count: 3 });
    const euro = await recurringPrice({ currency: 'eur' });
    const oneTime = await stripe.prices.create({ currency: 'usd', unit_amount: 500, product_data: { name: 'Setup fee' } });
    const inactive = await recurringPrice();
    await stripe.prices.update(inactive.id, { active: false });
    const cus = await customer();
    const cases: Array<[Array<{ price: string }>, string]> = [
      [[{ price: monthly.id }, { price: yearly.id }], 'items[1][price]'],
      [[{ price: monthly.id }, { price: quarterly.id }], 'items[1][price]'],
      [[{ price: monthly.id }, { price: euro.id }], 'items[1][price]'],
      [[{ price: oneTime.id }], 'items[0][price]'],
      [[{ price: monthly.id }, { price: oneTime.id }], 'items[1][price]'],
      [[{ price: inactive.id }], 'items[0][price]'],
      [[{ price: monthly.id }, { price: monthly.id }], 'items[1][price]'],
      [[{ price: monthly.id }, { price: 'price_missing' }], 'items[1][price]'],
    ];
    for (const [items, param] of cases) {
      const err = await stripeError(createSub({ customer: cus.id, items }));
      assert.equal(err.statusCode, 400, `${JSON.stringify(items)}: ${err.message}`);
      assert.equal(err.type, 'StripeInvalidRequestError');
      assert.equal(err.param, param, `${JSON.stringify(items)}: ${err.message}`);
    }
    assert.deepEqual((await stripe.subscriptions.list({ customer: cus.id, status: 'all' })).data, [], 'no subscription was created');
    assert.deepEqual(await invoicesOf(cus.id), [], 'no invoice was created');
    assert.deepEqual(await customerLedger(cus.id), []);
  });

  test('no default payment method: 400 naming default_payment_method; passing one charges it; default_incomplete and send_invoice need none', async () => {
    const price = await recurringPrice({ amount: 900 });
    const bare = await customer({ pm: null });
    const err = await stripeError(createSub({ customer: bare.id, items: [{ price: price.id }] }));
    assert.equal(err.statusCode, 400);
    assert.equal(err.param, 'default_payment_method');
    assert.deepEqual(await invoicesOf(bare.id), []);

    const sub = await createSub({ customer: bare.id, items: [{ price: price.id }], default_payment_method: 'pm_card_mastercard' });
    assert.equal(sub.status, 'active');
    assert.equal(sub.default_payment_method, 'pm_card_mastercard');
    const inv = await retrieveInv(sub.latest_invoice!);
    const pi = await stripe.paymentIntents.retrieve((await intentOf(stripe, inv.id))!);
    assert.equal(pi.payment_method, 'pm_card_mastercard');
    assert.equal(pi.status, 'succeeded');
    assert.deepEqual(summary(await s.ledger(pi.id)), ['sale:900:approved']);

    const incomplete = await createSub({ customer: bare.id, items: [{ price: price.id }], payment_behavior: 'default_incomplete' });
    assert.equal(incomplete.status, 'incomplete');
    const sent = await createSub({ customer: bare.id, items: [{ price: price.id }], collection_method: 'send_invoice', days_until_due: 30 });
    assert.equal(sent.status, 'active');
    const sentInv = await retrieveInv(sent.latest_invoice!);
    assert.equal(sentInv.status, 'open');
    assert.equal(sentInv.collection_method, 'send_invoice');
    assert.equal(sentInv.due_date, sentInv.status_transitions.finalized_at! + 30 * DAY);
    assert.equal((await intentOf(stripe, sentInv.id)), null, 'a sent invoice is not charged');
    assert.equal(sentInv.next_payment_attempt, null);
  });

  test('payment_behavior=default_incomplete: incomplete, its invoice open and not charged; paying the invoice makes it active', async () => {
    const price = await recurringPrice({ amount: 1100 });
    const cus = await customer();
    const sub = await createSub({ customer: cus.id, items: [{ price: price.id }], payment_behavior: 'default_incomplete' });
    assert.equal(sub.status, 'incomplete');
    const inv = await retrieveInv(sub.latest_invoice!);
    assert.equal(inv.status, 'open');
    assert.equal(inv.billing_reason, 'subscription_create');
    assert.equal(inv.attempt_count, 0);
    assert.equal(inv.amount_paid, 0);
    assert.equal((await intentOf(stripe, inv.id)), null);
    assert.deepEqual(await customerLedger(cus.id), [], 'nothing charged');

    const paid = (await stripe.invoices.pay(inv.id)) as unknown as Inv;
    assert.equal(paid.status, 'paid');
    assert.equal((await retrieveSub(sub.id)).status, 'active');
    assert.deepEqual(await customerLedger(cus.id), ['sale:1100:approved']);
    const updates = await storedEvents(s, 'customer.subscription.updated', sub.id);
    assert.deepEqual(updates.map((e) => [e.data.object.status, e.data.previous_attributes?.status]), [['active', 'incomplete']]);
  });

  test('payment_behavior=default_incomplete: the billing run leaves the first invoice to the customer instead of charging the default card', async () => {
    const price = await recurringPrice({ amount: 1150 });
    const cus = await customer(); // has a default card
    const sub = await createSub({ customer: cus.id, items: [{ price: price.id }], payment_behavior: 'default_incomplete' });
    await s.billing(); // the wall-clock billing run (every ONCEPAY_BILLING_INTERVAL in a server)
    const inv = await retrieveInv(sub.latest_invoice!);
    assert.deepEqual({ status: inv.status, attempt_count: inv.attempt_count, payment_intent: (await intentOf(stripe, inv.id)) },
      { status: 'open', attempt_count: 0, payment_intent: null },
      'default_incomplete means the first payment waits for the customer (Stripe never attempts it); the billing run charged it');
    assert.deepEqual(await customerLedger(cus.id), []);
    assert.equal((await retrieveSub(sub.id)).status, 'incomplete');
  });

  test('a canceled incomplete subscription: its open first invoice is not charged afterwards', async () => {
    const price = await recurringPrice({ amount: 1160 });
    const cus = await customer();
    const sub = await createSub({ customer: cus.id, items: [{ price: price.id }], payment_behavior: 'default_incomplete' });
    const canceled = asSub(await stripe.subscriptions.cancel(sub.id));
    assert.equal(canceled.status, 'canceled');
    await s.billing();
    assert.deepEqual(await customerLedger(cus.id), [], 'the customer was charged for a subscription canceled before it started');
  });

  test('a declining card: incomplete with its invoice open (attempt_count 1, invoice.payment_failed), not retried by the billing run; paying it with a good card makes it active', async () => {
    const price = await recurringPrice({ amount: 1300 });
    const cus = await customer({ pm: 'pm_card_visa_chargeDeclined' });
    const sub = await createSub({ customer: cus.id, items: [{ price: price.id }] });
    assert.equal(sub.status, 'incomplete', 'allow_incomplete (the default) answers 200 with an incomplete subscription');
    const inv = await retrieveInv(sub.latest_invoice!);
    assert.equal(inv.status, 'open');
    assert.equal(inv.attempt_count, 1);
    assert.equal(inv.attempted, true);
    assert.equal(inv.next_payment_attempt, null);
    const pi = await stripe.paymentIntents.retrieve((await intentOf(stripe, inv.id))!);
    assert.equal(pi.status, 'requires_payment_method');
    assert.equal(pi.last_payment_error?.code, 'card_declined');
    assert.deepEqual(summary(await s.ledger(pi.id)), ['authorization:1300:declined']);
    assert.equal((await storedEvents(s, 'invoice.payment_failed', inv.id)).length, 1);
    assert.equal((await storedEvents(s, 'customer.subscription.updated', sub.id)).length, 0, 'still incomplete: nothing changed');

    await s.billing();
    assert.equal((await retrieveInv(inv.id)).attempt_count, 1, 'the billing run does not retry a first invoice');

    const declinedAgain = await stripeError(stripe.invoices.pay(inv.id));
    assert.equal(declinedAgain.statusCode, 402);
    assert.equal(declinedAgain.code, 'card_declined');
    assert.equal((await retrieveInv(inv.id)).attempt_count, 2);
    assert.equal((await retrieveSub(sub.id)).status, 'incomplete');

    const paid = (await stripe.invoices.pay(inv.id, { payment_method: 'pm_card_visa' })) as unknown as Inv;
    assert.equal(paid.status, 'paid');
    assert.equal(paid.attempt_count, 3);
    assert.equal(paid.amount_paid, 1300);
    const active = await retrieveSub(sub.id);
    assert.equal(active.status, 'active');
    const updates = await storedEvents(s, 'customer.subscription.updated', sub.id);
    assert.deepEqual(updates.map((e) => [e.data.object.status, e.data.previous_attributes?.status]), [['active', 'incomplete']]);
    assert.deepEqual(await customerLedger(cus.id), ['authorization:1300:declined', 'authorization:1300:declined', 'sale:1300:approved'].sort());
  });

  test('expiry: incomplete subscriptions on a test clock stay incomplete for 23 hours, then become incomplete_expired with their invoice voided', async () => {
    const clock = await clockAt(T0);
    const price = await recurringPrice({ amount: 1400 });
    const declined = await customer({ pm: 'pm_card_visa_chargeDeclined', clock: clock.id });
    const bare = await customer({ pm: null, clock: clock.id });
    const a = await createSub({ customer: declined.id, items: [{ price: price.id }] });
    const b = await createSub({ customer: bare.id, items: [{ price: price.id }], payment_behavior: 'default_incomplete' });
    assert.equal(a.created, T0, 'a subscription on a test clock starts at its frozen time');
    assert.equal(a.status, 'incomplete');
    assert.equal(b.status, 'incomplete');

    await advance(clock.id, T0 + 23 * HOUR - 1);
    assert.equal((await retrieveSub(a.id)).status, 'incomplete', 'within 23 hours');
    assert.equal((await retrieveSub(b.id)).status, 'incomplete');

    await advance(clock.id, T0 + 24 * HOUR);
    for (const sub of [a, b]) {
      const expired = await retrieveSub(sub.id);
      assert.equal(expired.status, 'incomplete_expired', sub.id);
      assert.equal(expired.ended_at, T0 + 24 * HOUR);
      const inv = await retrieveInv(sub.latest_invoice!);
      assert.equal(inv.status, 'void');
      assert.equal(inv.status_transitions.voided_at, T0 + 24 * HOUR);
      assert.equal((await storedEvents(s, 'invoice.voided', inv.id)).length, 1);
      const updates = await storedEvents(s, 'customer.subscription.updated', sub.id);
      assert.deepEqual(updates.map((e) => [e.data.object.status, e.data.previous_attributes?.status]).at(-1), ['incomplete_expired', 'incomplete']);
      const payVoid = await stripeError(stripe.invoices.pay(inv.id, { payment_method: 'pm_card_visa' }));
      assert.equal(payVoid.statusCode, 400);
      assert.equal(payVoid.code, 'invoice_unexpected_state');
      assert.equal((await subInvoices(sub.id)).length, 1, 'an expired subscription never renews');
    }
    await advance(clock.id, T0 + 62 * DAY);
    assert.equal((await subInvoices(a.id)).length, 1);
    assert.equal((await retrieveSub(a.id)).status, 'incomplete_expired');
    assert.deepEqual(await customerLedger(declined.id), ['authorization:1400:declined']);
    const listed = await stripe.subscriptions.list({ customer: declined.id, status: 'incomplete_expired' as Stripe.SubscriptionListParams.Status });
    assert.deepEqual(listed.data.map((x) => x.id), [a.id]);
    assert.deepEqual((await stripe.subscriptions.list({ customer: declined.id })).data, [], 'hidden from the default list');
  });
});

describe('payments in flight and deleted customers', () => {
  test('the 23-hour expiry does not void a first invoice whose payment is in flight (it ended both voided and paid, the customer charged for an expired subscription)', async () => {
    const clock = await clockAt(T0);
    const price = await recurringPrice({ amount: 1450 });
    const cus = await customer({ pm: 'pm_card_oncepay_slow', clock: clock.id }); // the acquirer answers after 3 s
    const creating = createSub({ customer: cus.id, items: [{ price: price.id }] }).then((x) => x, (e) => e);
    // Wait until the first payment is in flight (its payment intent processing), then advance the clock past 23 hours.
    let inv: Inv | undefined;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      const [sub] = (await stripe.subscriptions.list({ customer: cus.id, status: 'all' })).data as unknown as Sub[];
      inv = sub ? await retrieveInv(sub.latest_invoice!) : undefined;
      if ((inv ? await intentOf(stripe, inv.id) : null)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok((inv ? await intentOf(stripe, inv.id) : null), 'the first payment started');
    await advance(clock.id, T0 + 24 * HOUR);
    const created = await creating;
    const sub = await retrieveSub(created.id ?? (await stripe.subscriptions.list({ customer: cus.id, status: 'all' })).data[0].id);
    const after = await retrieveInv(inv!.id);
    const charged = await customerLedger(cus.id);
    assert.ok(!(after.status_transitions.voided_at !== null && after.status === 'paid'), `the invoice was voided and then paid: ${JSON.stringify(after.status_transitions)}`);
    // Either the payment wins (active, paid) or the expiry waits for it; never money taken for an expired subscription.
    assert.deepEqual({ sub: sub.status, invoice: after.status, charged }, { sub: 'active', invoice: 'paid', charged: ['sale:1450:approved'] });
  });

  test('deleting a customer cancels its subscriptions (Stripe: "also immediately cancels any active subscriptions"); renewals stop charging it', async () => {
    const clock = await clockAt(T0);
    const price = await recurringPrice({ amount: 1460 });
    const cus = await customer({ clock: clock.id });
    const sub = await createSub({ customer: cus.id, items: [{ price: price.id }] });
    await stripe.customers.del(cus.id);
    await advance(clock.id, expectedEnd(T0, 'month', 1, 2));
    const after = await retrieveSub(sub.id);
    const charged = await customerLedger(cus.id);
    assert.deepEqual({ status: after.status, invoices: (await subInvoices(sub.id)).length, charged },
      { status: 'canceled', invoices: 1, charged: ['sale:1460:approved'] }, 'a deleted customer keeps being billed every period');
  });
});

describe('update', () => {
  test('quantity (and items[0][quantity]) change what the next periods bill, with no invoice now', async () => {
    const clock = await clockAt(T0);
    const price = await recurringPrice({ amount: 700 });
    const cus = await customer({ clock: clock.id });
    const sub = await createSub({ customer: cus.id, items: [{ price: price.id }] });
    assert.equal(sub.items.data[0].current_period_end, expectedEnd(T0, 'month', 1));

    const up = asSub(await stripe.subscriptions.update(sub.id, { quantity: 3, proration_behavior: 'none' } as Stripe.SubscriptionUpdateParams));
    assert.equal(up.items.data[0].quantity, 3);
    assert.equal(up.status, 'active');
    assert.equal(up.items.data[0].current_period_end, sub.items.data[0].current_period_end, 'the period does not move');
    assert.equal((await subInvoices(sub.id)).length, 1, 'no proration invoice');
    const [updated] = await storedEvents(s, 'customer.subscription.updated', sub.id).then((e) => e.slice(-1));
    assert.equal(updated.data.previous_attributes.items.data[0].quantity, 1);

    await advance(clock.id, expectedEnd(T0, 'month', 1));
    let invoices = await subInvoices(sub.id);
    assert.equal(invoices.length, 2);
    assert.deepEqual([invoices[1].billing_reason, invoices[1].status, invoices[1].total, invoices[1].lines.data[0].quantity], ['subscription_cycle', 'paid', 2100, 3]);

    const item = up.items.data[0].id;
    const up2 = asSub(await stripe.subscriptions.update(sub.id, { items: [{ id: item, quantity: 5, metadata: { seats: 'five' } }] }));
    assert.equal(up2.items.data[0].quantity, 5);
    assert.deepEqual(up2.items.data[0].metadata, { seats: 'five' });
    assert.equal((await subInvoices(sub.id)).length, 2);
    await advance(clock.id, expectedEnd(T0, 'month', 1, 2));
    invoices = await subInvoices(sub.id);
    assert.equal(invoices.length, 3);
    assert.deepEqual([invoices[2].total, invoices[2].lines.data[0].quantity, invoices[2].lines.data[0].period],
      [3500, 5, { start: expectedEnd(T0, 'month', 1, 2), end: expectedEnd(T0, 'month', 1, 3) }]);
    assert.deepEqual(await customerLedger(cus.id), ['sale:700:approved', 'sale:2100:approved', 'sale:3500:approved'].sort());
  });

  test('other fields: description, metadata, default_payment_method (used by the next renewal); an update that changes nothing emits no event', async () => {
    const clock = await clockAt(T0);
    const price = await recurringPrice({ amount: 800 });
    const cus = await customer({ clock: clock.id });
    const sub = await createSub({ customer: cus.id, items: [{ price: price.id }], metadata: { a: '1', b: '2' } });
    const up = asSub(await stripe.subscriptions.update(sub.id, { description: 'Team plan', metadata: { a: '', c: '3' }, default_payment_method: 'pm_card_amex' }));
    assert.equal(up.description, 'Team plan');
    assert.deepEqual(up.metadata, { b: '2', c: '3' });
    assert.equal(up.default_payment_method, 'pm_card_amex');
    const n = (await storedEvents(s, 'customer.subscription.updated', sub.id)).length;
    const same = asSub(await stripe.subscriptions.update(sub.id, { description: 'Team plan' }));
    assert.equal(same.description, 'Team plan');
    assert.equal((await storedEvents(s, 'customer.subscription.updated', sub.id)).length, n, 'nothing changed, no event');
    const cleared = asSub(await stripe.subscriptions.update(sub.id, { description: '' }));
    assert.equal(cleared.description, null);

    await advance(clock.id, expectedEnd(T0, 'month', 1));
    const renewal = (await subInvoices(sub.id))[1];
    assert.equal(renewal.status, 'paid');
    const pi = await stripe.paymentIntents.retrieve((await intentOf(stripe, renewal.id))!);
    assert.equal(pi.payment_method, 'pm_card_amex', 'the subscription\'s payment method comes before the customer\'s');
  });

  test('cancel_at_period_end: canceled when the period ends (customer.subscription.deleted once), never invoiced again; unsetting it in time keeps it renewing', async () => {
    const clock = await clockAt(T0);
    const price = await recurringPrice({ amount: 600 });
    const cus = await customer({ clock: clock.id });
    const ending = await createSub({ customer: cus.id, items: [{ price: price.id }] });
    const kept = await createSub({ customer: cus.id, items: [{ price: price.id }] });
    const periodEnd = ending.items.data[0].current_period_end;

    await advance(clock.id, T0 + 5 * DAY);
    const set = asSub(await stripe.subscriptions.update(ending.id, { cancel_at_period_end: true }));
    assert.equal(set.cancel_at_period_end, true);
    assert.equal(set.status, 'active', 'still active until the period ends');
    assert.equal(set.canceled_at, T0 + 5 * DAY, 'canceled_at: when the cancellation was requested (the clock\'s time)');
    assert.equal(set.ended_at, null);
    await stripe.subscriptions.update(kept.id, { cancel_at_period_end: true });
    const unset = asSub(await stripe.subscriptions.update(kept.id, { cancel_at_period_end: false }));
    assert.equal(unset.cancel_at_period_end, false);
    assert.equal(unset.canceled_at, null);

    await advance(clock.id, periodEnd - 1);
    assert.equal((await retrieveSub(ending.id)).status, 'active', 'one second before the period ends');

    await advance(clock.id, periodEnd + HOUR);
    const ended = await retrieveSub(ending.id);
    assert.equal(ended.status, 'canceled');
    assert.equal(ended.ended_at, periodEnd, 'ended when its period ended');
    assert.equal(ended.canceled_at, T0 + 5 * DAY);
    assert.equal((await storedEvents(s, 'customer.subscription.deleted', ending.id)).length, 1);
    assert.equal((await subInvoices(ending.id)).length, 1, 'no invoice for the next period');
    assert.equal((await retrieveSub(kept.id)).status, 'active');
    assert.equal((await subInvoices(kept.id)).length, 2, 'the other one renewed');

    await advance(clock.id, periodEnd + 70 * DAY);
    assert.equal((await storedEvents(s, 'customer.subscription.deleted', ending.id)).length, 1, 'deleted exactly once');
    assert.equal((await subInvoices(ending.id)).length, 1);
    assert.equal((await subInvoices(kept.id)).length, 4);
    assert.deepEqual((await customerLedger(cus.id)).filter((e) => e === 'sale:600:approved').length, 5);
    const err = await stripeError(stripe.subscriptions.update(ending.id, { cancel_at_period_end: false }));
    assert.equal(err.code, 'subscription_unexpected_state');
  });
});

describe('cancel', () => {
  test('DELETE cancels at once (canceled_at = ended_at = now), replays under its key, emits customer.subscription.deleted once; later cancels and updates are 400', async () => {
    const price = await recurringPrice({ amount: 500 });
    const cus = await customer();
    const sub = await createSub({ customer: cus.id, items: [{ price: price.id }] });
    const key = uniqueKey('cancel');
    const a = await del(`/v1/subscriptions/${sub.id}`, undefined, { headers: { 'Idempotency-Key': key } });
    const canceled = assertOk(a);
    assert.equal(canceled.status, 'canceled');
    assert.ok(Math.abs(canceled.canceled_at - Date.now() / 1000) < 120);
    assert.equal(canceled.ended_at, canceled.canceled_at);
    const b = await del(`/v1/subscriptions/${sub.id}`, undefined, { headers: { 'Idempotency-Key': key } });
    assert.equal(b.text, a.text);
    assert.equal(b.headers.get('idempotent-replayed'), 'true');
    assert.equal((await storedEvents(s, 'customer.subscription.deleted', sub.id)).length, 1);

    const again = await stripeError(stripe.subscriptions.cancel(sub.id));
    assert.equal(again.statusCode, 400);
    assert.equal(again.code, 'subscription_unexpected_state');
    const upd = await stripeError(stripe.subscriptions.update(sub.id, { metadata: { x: '1' } }));
    assert.equal(upd.code, 'subscription_unexpected_state');
    assert.equal((await storedEvents(s, 'customer.subscription.deleted', sub.id)).length, 1);
    await s.billing();
    assert.equal((await subInvoices(sub.id)).length, 1);
    assert.deepEqual(await customerLedger(cus.id), ['sale:500:approved']);
  });

  test('DELETE parameters are read from the body too (curl -X DELETE -d): invoice_now=true is refused, not ignored', async () => {
    const price = await recurringPrice({ amount: 520 });
    const sub = await createSub({ customer: (await customer()).id, items: [{ price: price.id }] });
    assertStripeError(await send(s, 'DELETE', `/v1/subscriptions/${sub.id}`, { body: 'invoice_now=true' }), { status: 400, param: 'invoice_now' });
    assertStripeError(await send(s, 'DELETE', `/v1/subscriptions/${sub.id}?prorate=false`, { body: 'prorate=false' }), { status: 400, param: 'prorate' });
    assert.equal((await stripe.subscriptions.retrieve(sub.id)).status, 'active');
    assert.equal(assertOk(await send(s, 'DELETE', `/v1/subscriptions/${sub.id}`, { body: 'prorate=false' })).status, 'canceled');
  });

  test('on a test clock: canceled at the clock\'s time, never renewed', async () => {
    const clock = await clockAt(T0);
    const price = await recurringPrice({ amount: 510 });
    const cus = await customer({ clock: clock.id });
    const sub = await createSub({ customer: cus.id, items: [{ price: price.id }] });
    await advance(clock.id, T0 + 3 * DAY);
    const canceled = asSub(await stripe.subscriptions.cancel(sub.id));
    assert.equal(canceled.canceled_at, T0 + 3 * DAY);
    assert.equal(canceled.ended_at, T0 + 3 * DAY);
    await advance(clock.id, T0 + 90 * DAY);
    assert.equal((await subInvoices(sub.id)).length, 1);
    assert.equal((await storedEvents(s, 'customer.subscription.deleted', sub.id)).length, 1);
  });
});

describe('external_id', () => {
  test('the same payload returns the existing subscription (one invoice, one charge); a different one is 409 already_exists', async () => {
    const price = await recurringPrice({ amount: 1500 });
    const cus = await customer();
    const ext = uniqueKey('order-sub');
    const first = await createSub({ customer: cus.id, items: [{ price: price.id }], external_id: ext });
    assert.equal(first.external_id, ext);
    assert.equal(first.status, 'active');
    const second = await createSub({ customer: cus.id, items: [{ price: price.id }], external_id: ext });
    assert.equal(second.id, first.id);
    assert.equal(second.status, 'active');
    assert.notEqual(second.lastResponse.headers['idempotent-replayed'], 'true', 'not a key replay: a business-key match');
    const conflict = await stripeError(createSub({ customer: cus.id, items: [{ price: price.id, quantity: 2 }], external_id: ext }));
    assert.equal(conflict.statusCode, 409);
    assert.equal(conflict.code, 'already_exists');
    assert.equal(conflict.param, 'external_id');
    assert.deepEqual((await stripe.subscriptions.list({ customer: cus.id, status: 'all' })).data.map((x) => x.id), [first.id]);
    assert.equal((await invoicesOf(cus.id)).length, 1);
    assert.deepEqual(await customerLedger(cus.id), ['sale:1500:approved']);
    assert.equal((await storedEvents(s, 'customer.subscription.created', first.id)).length, 1);
  });
});

describe('list and retrieve', () => {
  test('list: by default not the ended ones; status=all, canceled, ended, active, incomplete; customer filter; newest first; pagination', async () => {
    const price = await recurringPrice({ amount: 300 });
    const a = await customer();
    const b = await customer();
    const active = await createSub({ customer: a.id, items: [{ price: price.id }] });
    const canceled = await createSub({ customer: a.id, items: [{ price: price.id }] });
    await stripe.subscriptions.cancel(canceled.id);
    const incomplete = await createSub({ customer: a.id, items: [{ price: price.id }], payment_behavior: 'default_incomplete' });
    const other = await createSub({ customer: b.id, items: [{ price: price.id }] });
    const ids = async (p: Record<string, unknown>) => (await stripe.subscriptions.list(p as Stripe.SubscriptionListParams)).data.map((x) => x.id);

    assert.deepEqual(await ids({ customer: a.id }), [incomplete.id, active.id]);
    assert.deepEqual(await ids({ customer: a.id, status: 'all' }), [incomplete.id, canceled.id, active.id]);
    assert.deepEqual(await ids({ customer: a.id, status: 'canceled' }), [canceled.id]);
    assert.deepEqual(await ids({ customer: a.id, status: 'ended' }), [canceled.id]);
    assert.deepEqual(await ids({ customer: a.id, status: 'active' }), [active.id]);
    assert.deepEqual(await ids({ customer: a.id, status: 'incomplete' }), [incomplete.id]);
    assert.deepEqual(await ids({ customer: a.id, status: 'past_due' }), []);
    assert.deepEqual(await ids({ customer: b.id }), [other.id]);
    const all = await ids({ limit: 100, status: 'all' });
    for (const id of [active.id, canceled.id, incomplete.id, other.id]) assert.ok(all.includes(id));
    assert.ok(!(await ids({ limit: 100 })).includes(canceled.id), 'the default list hides canceled subscriptions');

    const page1 = await stripe.subscriptions.list({ customer: a.id, status: 'all', limit: 2 });
    assert.deepEqual(page1.data.map((x) => x.id), [incomplete.id, canceled.id]);
    assert.equal(page1.has_more, true);
    assert.equal(page1.url, '/v1/subscriptions');
    const page2 = await stripe.subscriptions.list({ customer: a.id, status: 'all', limit: 2, starting_after: canceled.id });
    assert.deepEqual(page2.data.map((x) => x.id), [active.id]);
    assert.equal(page2.has_more, false);
    const auto = await stripe.subscriptions.list({ customer: a.id, status: 'all', limit: 1 }).autoPagingToArray({ limit: 10 });
    assert.deepEqual(auto.map((x) => x.id), [incomplete.id, canceled.id, active.id]);
    const expanded = await stripe.subscriptions.list({ customer: b.id, expand: ['data.customer'] });
    assert.equal((expanded.data[0].customer as Stripe.Customer).id, b.id);

    assertStripeError(await get('/v1/subscriptions?status=frozen'), { status: 400, param: 'status' });
    assertStripeError(await get('/v1/subscriptions?automatic_tax[enabled]=true'), { status: 400, param: 'automatic_tax', code: 'parameter_unsupported' });
    assertStripeError(await get('/v1/subscriptions?current_period_end[gt]=soon'), { status: 400, param: 'current_period_end[gt]' });
    assertStripeError(await get('/v1/subscriptions?limit=0'), { status: 400, param: 'limit' });
    assertStripeError(await get('/v1/subscriptions?starting_after=sub_nope'), { status: 400, code: 'resource_missing', param: 'starting_after' });
    assertStripeError(await get('/v1/subscriptions?expand[]=customer'), { status: 400, param: 'expand' });
  });

  test('retrieve: the stored subscription (expand customer); unknown or another account\'s: 404', async () => {
    const price = await recurringPrice({ amount: 310 });
    const cus = await customer();
    const sub = await createSub({ customer: cus.id, items: [{ price: price.id }] });
    const got = await retrieveSub(sub.id);
    assert.deepEqual(plain(got), plain(sub), 'create answers the subscription as stored after its first payment');
    const expanded = asSub(await stripe.subscriptions.retrieve(sub.id, { expand: ['customer'] }));
    assert.equal((expanded.customer as Stripe.Customer).email, cus.email);
    const missing = await stripeError(stripe.subscriptions.retrieve('sub_missing'));
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.code, 'resource_missing');
    const other = await s.newAccount();
    const foreign = await stripeError(s.stripe({ key: other.key }).subscriptions.retrieve(sub.id));
    assert.equal(foreign.statusCode, 404);
    assertStripeError(await get(`/v1/subscriptions/${sub.id}?expand[]=latest_invoice.nope`), { status: 400, param: 'expand' });
  });
});

describe('bad input', () => {
  test('create: every parameter, a Stripe-shaped 400 naming it; nothing created', async () => {
    const price = await recurringPrice({ amount: 320 });
    const cus = await customer();
    const ok = `customer=${cus.id}&items[0][price]=${price.id}`;
    const cases: Array<[string, string | RegExp, string?]> = [
      ['', 'customer', 'parameter_missing'],
      [`customer=${cus.id}`, 'items', 'parameter_missing'],
      [`items[0][price]=${price.id}`, 'customer', 'parameter_missing'],
      [`customer=cus_missing&items[0][price]=${price.id}`, 'customer', 'resource_missing'],
      [`customer=&items[0][price]=${price.id}`, 'customer'],
      [`customer=${cus.id}&items[0][quantity]=1`, 'items[0][price]', 'parameter_missing'],
      [`customer=${cus.id}&items[0][price]=`, 'items[0][price]'],
      [`customer=${cus.id}&items[0][price]=price_missing`, 'items[0][price]', 'resource_missing'],
      [`${ok}&items[0][quantity]=0`, 'items[0][quantity]'],
      [`${ok}&items[0][quantity]=-1`, 'items[0][quantity]'],
      [`${ok}&items[0][quantity]=1.5`, 'items[0][quantity]'],
      [`${ok}&items[0][quantity]=many`, 'items[0][quantity]'],
      [`${ok}&items[0][quantity]=1000001`, 'items[0][quantity]'],
      [`${ok}&items[0][nope]=1`, /^items\[0\]\[nope\]$|^items\[0\]$/],
      [`customer=${cus.id}&items=x`, /^items/],
      [`${ok}&proration_behavior=create_prorations`, 'proration_behavior'],
      [`${ok}&proration_behavior=always_invoice`, 'proration_behavior'],
      [`${ok}&proration_behavior=sometimes`, 'proration_behavior'],
      [`${ok}&payment_behavior=error_if_incomplete_maybe`, 'payment_behavior'],
      [`${ok}&collection_method=cash`, 'collection_method'],
      [`${ok}&collection_method=send_invoice`, 'days_until_due', 'parameter_missing'],
      [`${ok}&days_until_due=5`, 'days_until_due'],
      [`${ok}&collection_method=send_invoice&days_until_due=-1`, 'days_until_due'],
      [`${ok}&default_payment_method=pm_card_unknown`, 'default_payment_method'],
      [`${ok}&default_payment_method=`, 'default_payment_method'],
      [`${ok}&cancel_at_period_end=perhaps`, 'cancel_at_period_end'],
      [`${ok}&metadata=x`, 'metadata'],
      [`${ok}&description=${'d'.repeat(501)}`, 'description'],
      [`${ok}&external_id=`, 'external_id'],
      [`${ok}&trial_period_days=7&trial_end=now`, 'trial_period_days', 'parameters_exclusive'],
      [`${ok}&trial_from_plan=true&trial_period_days=7`, 'trial_period_days', 'parameters_exclusive'],
      [`${ok}&trial_period_days=731`, 'trial_period_days'],
      [`${ok}&trial_end=1`, 'trial_end'],
      [`${ok}&trial_end=later`, 'trial_end'],
      [`${ok}&trial_settings[end_behavior][missing_payment_method]=explode`, 'trial_settings[end_behavior][missing_payment_method]'],
      [`${ok}&billing_cycle_anchor=1`, 'proration_behavior', 'parameter_unsupported'],
      [`${ok}&billing_cycle_anchor=1&proration_behavior=none`, 'billing_cycle_anchor'],
      [`${ok}&cancel_at=1`, 'cancel_at'],
      [`${ok}&currency=eur`, 'currency'],
      [`${ok}&payment_behavior=error_if_incomplete`, 'payment_behavior', 'parameter_unsupported'],
      [`${ok}&automatic_tax[enabled]=true`, 'automatic_tax', 'parameter_unsupported'],
      [`${ok}&discounts[0][coupon]=SAVE`, 'discounts', 'parameter_unsupported'],
      [`${ok}&application_fee_percent=5`, 'application_fee_percent', 'parameter_unsupported'],
      [`${ok}&transfer_data[destination]=acct_1`, 'transfer_data', 'parameter_unsupported'],
      [`${ok}&items[0][tax_rates][0]=txr_1`, 'items[0][tax_rates]', 'parameter_unsupported'],
      [`${ok}&items[0][price_data][currency]=usd`, 'items[0][price_data]', 'parameter_unsupported'],
      [`${ok}&default_source=src_1`, 'default_source', 'parameter_unsupported'],
      [`${ok}&billing_mode[type]=hybrid`, 'billing_mode[type]'],
    ];
    for (const [body, param, code] of cases) {
      assertStripeError(await post('/v1/subscriptions', body), { status: 400, param, ...(code ? { code } : {}) });
    }
    assert.deepEqual((await stripe.subscriptions.list({ customer: cus.id, status: 'all' })).data, [], 'nothing was created');
    assert.deepEqual(await invoicesOf(cus.id), []);
  });

  test('update and cancel: every parameter; unknown subscription 404', async () => {
    const price = await recurringPrice({ amount: 330 });
    const price2 = await recurringPrice({ amount: 340 });
    const cus = await customer();
    const sub = await createSub({ customer: cus.id, items: [{ price: price.id }] });
    const multi = await createSub({ customer: cus.id, items: [{ price: price.id }, { price: price2.id }] });
    const path = `/v1/subscriptions/${sub.id}`;
    const cases: Array<[string, string, string | RegExp, string?]> = [
      [path, 'quantity=0', 'quantity'],
      [path, 'quantity=abc', 'quantity'],
      [path, `quantity=2&items[0][id]=${sub.items.data[0].id}&items[0][quantity]=2`, 'quantity', 'parameters_exclusive'],
      [path, 'items[0][id]=si_missing&items[0][quantity]=2', 'items[0][id]', 'resource_missing'],
      [path, 'items[0][quantity]=2', 'items[0][price]', 'parameter_missing'],
      [path, 'items[0][deleted]=true', 'items[0][id]', 'parameter_missing'],
      [path, `items[0][id]=${sub.items.data[0].id}&items[0][deleted]=true`, 'items[0][deleted]'],
      [path, `items[0][price]=${price.id}`, 'items[0][price]'],
      [path, 'trial_end=4102444800', 'trial_end', 'parameter_unsupported'],
      [path, 'pause_collection[behavior]=void', 'pause_collection', 'parameter_unsupported'],
      [path, 'proration_date=1', 'proration_date', 'parameter_unsupported'],
      [path, 'payment_behavior=pending_if_incomplete', 'payment_behavior', 'parameter_unsupported'],
      [path, 'cancel_at=1', 'cancel_at'],
      [path, 'cancellation_details[feedback]=meh', 'cancellation_details[feedback]'],
      [path, `items[0][id]=${sub.items.data[0].id}&items[0][quantity]=0`, 'items[0][quantity]'],
      [path, `items[0][id]=${sub.items.data[0].id}&items[0][price]=price_missing`, /^items\[0\]\[price\]$/],
      [path, 'proration_behavior=create_prorations', 'proration_behavior'],
      [path, 'proration_behavior=always_invoice', 'proration_behavior'],
      [path, 'cancel_at_period_end=soon', 'cancel_at_period_end'],
      [path, 'default_payment_method=pm_nope', 'default_payment_method'],
      [path, 'collection_method=send_invoice', 'days_until_due', 'parameter_missing'],
      [path, 'customer=cus_x', 'customer', 'parameter_unknown'],
      [`/v1/subscriptions/${multi.id}`, 'quantity=2', 'quantity'],
    ];
    for (const [p, body, param, code] of cases) {
      assertStripeError(await post(p, body), { status: 400, param, ...(code ? { code } : {}) });
    }
    // DELETE parameters travel in the query string, as the official clients send them.
    assertStripeError(await del(`${path}?invoice_now=true`), { status: 400, param: 'invoice_now' });
    assertStripeError(await del(`${path}?prorate=true`), { status: 400, param: 'prorate' });
    assertStripeError(await del(`${path}?invoice_now=maybe`), { status: 400, param: 'invoice_now' });
    assertStripeError(await del(`${path}?at_period_end=true`), { status: 400, param: 'at_period_end', code: 'parameter_unknown' });
    assertStripeError(await del(`${path}?expand[]=latest_charge`), { status: 400, param: 'expand' });
    const viaClient = await stripeError(stripe.subscriptions.cancel(sub.id, { invoice_now: true }));
    assert.equal(viaClient.param, 'invoice_now');
    assert.equal((await retrieveSub(sub.id)).status, 'active', 'nothing changed');
    assert.equal((await retrieveSub(sub.id)).items.data[0].quantity, 1);

    for (const [method, p] of [['GET', '/v1/subscriptions/sub_missing'], ['POST', '/v1/subscriptions/sub_missing'], ['DELETE', '/v1/subscriptions/sub_missing']] as const) {
      assertStripeError(await send(s, method, p, method === 'POST' ? { body: 'metadata[a]=b' } : {}), { status: 404, code: 'resource_missing' });
    }
    const invoiceNowOk = asSub(await stripe.subscriptions.cancel(sub.id, { invoice_now: false, prorate: false }));
    assert.equal(invoiceNowOk.status, 'canceled', 'invoice_now=false and prorate=false are accepted');
  });
});

describe('expand on create', () => {
  test('an expand the subscription cannot honour is refused before anything happens (not after the card was charged)', async () => {
    const price = await recurringPrice({ amount: 360 });
    const cus = await customer();
    const key = uniqueKey('expand');
    const res = await post('/v1/subscriptions', `customer=${cus.id}&items[0][price]=${price.id}&expand[]=latest_invoice.nope`, { headers: { 'Idempotency-Key': key } });
    assertStripeError(res, { status: 400, param: 'expand' });
    // A 400 must mean nothing happened: no subscription, no invoice, no money moved.
    const subs = (await stripe.subscriptions.list({ customer: cus.id, status: 'all' })).data as unknown as Sub[];
    const charged = await customerLedger(cus.id);
    const stuck = subs.length ? await retrieveInv(subs[0].latest_invoice!) : undefined;
    const stuckIntent = stuck ? await intentOf(stripe, stuck.id) : null;
    const pi = stuckIntent ? await stripe.paymentIntents.retrieve(stuckIntent) : undefined;
    assert.deepEqual({ subscriptions: subs.length, charged, invoice: stuck?.status, intent: pi?.status },
      { subscriptions: 0, charged: [], invoice: undefined, intent: undefined },
      'the 400 was decided while rendering the last phase: the card was charged, the record phase rolled back, the intent is stuck in processing and the invoice refuses every payment as busy');
  });
});

describe('actions by status (SUBSCRIPTION_ACTIONS over the API)', () => {
  /** A subscription in each reachable status: two of each, one to update and one to cancel. */
  async function inEachStatus(): Promise<Record<'incomplete' | 'incomplete_expired' | 'active' | 'past_due' | 'canceled', Sub[]>> {
    const price = await recurringPrice({ amount: 350 });
    const clock = await clockAt(T0);
    const good = await customer({ clock: clock.id });
    const bad = await customer({ clock: clock.id, pm: 'pm_card_visa_chargeDeclined' });
    const wallDeclined = await customer({ pm: 'pm_card_visa_chargeDeclined' });
    const wall = await customer();
    const two = (f: () => Promise<Sub>) => Promise.all([f(), f()]);
    const incomplete = await two(() => createSub({ customer: wallDeclined.id, items: [{ price: price.id }] }));
    const expired = await two(() => createSub({ customer: bad.id, items: [{ price: price.id }] }));
    const pastDue = await two(() => createSub({ customer: good.id, items: [{ price: price.id }] }));
    const active = await two(() => createSub({ customer: wall.id, items: [{ price: price.id }] }));
    const canceled = await two(async () => asSub(await stripe.subscriptions.cancel((await createSub({ customer: wall.id, items: [{ price: price.id }] })).id)));
    await stripe.customers.update(good.id, { invoice_settings: { default_payment_method: 'pm_card_visa_chargeDeclined' } });
    await advance(clock.id, expectedEnd(T0, 'month', 1));
    const out = { incomplete, incomplete_expired: expired, active, past_due: pastDue, canceled };
    for (const [status, subs] of Object.entries(out)) {
      for (const sub of subs) assert.equal((await retrieveSub(sub.id)).status, status, `setup: ${sub.id} should be ${status}`);
    }
    return out;
  }

  test('update and cancel are accepted exactly when SUBSCRIPTION_ACTIONS allows, otherwise 400 subscription_unexpected_state and nothing changes', async () => {
    const subs = await inEachStatus();
    for (const [status, [forUpdate, forCancel]] of Object.entries(subs) as Array<[SubscriptionStatus, Sub[]]>) {
      for (const action of ['update', 'cancel'] as SubscriptionAction[]) {
        const target = action === 'update' ? forUpdate : forCancel;
        const before = await retrieveSub(target.id);
        const res = action === 'update'
          ? await post(`/v1/subscriptions/${target.id}`, 'metadata[touched]=yes')
          : await del(`/v1/subscriptions/${target.id}`);
        const allowed = SUBSCRIPTION_ACTIONS[action].includes(status);
        if (allowed) {
          const body = assertOk(res);
          if (action === 'update') {
            assert.equal(body.status, status, `${action} on ${status}: the status stays`);
            assert.equal(body.metadata.touched, 'yes');
          } else {
            assert.equal(body.status, 'canceled', `${action} on ${status}`);
          }
        } else {
          assertStripeError(res, { status: 400, code: 'subscription_unexpected_state' });
          assert.match(res.json.error.message, new RegExp(status));
          assert.deepEqual(plain(await retrieveSub(target.id)), plain(before), `${action} on ${status}: nothing changed`);
        }
      }
    }
  });
});

describe('expansion', () => {
  test('latest_invoice with its payments and confirmation_secret (the subscription guide\'s pattern), customer, default_payment_method, items.data.price.product, test_clock; nulls where there is nothing', async () => {
    const price = await recurringPrice({ amount: 990 });
    const cus = await customer({ pm: null });
    // default_incomplete: the first invoice waits for the client, which confirms it with the secret.
    const sub = await stripe.subscriptions.create({
      customer: cus.id, items: [{ price: price.id }], payment_behavior: 'default_incomplete',
      expand: ['latest_invoice.confirmation_secret', 'latest_invoice.payments', 'items.data.price.product', 'customer'],
    });
    assert.equal(sub.status, 'incomplete');
    const inv = sub.latest_invoice as Stripe.Invoice;
    assert.equal(typeof inv, 'object');
    assert.equal(inv.object, 'invoice');
    assert.equal((sub.customer as Stripe.Customer).id, cus.id);
    assert.equal(((sub.items.data[0].price.product) as Stripe.Product).object, 'product');
    // No payment yet: no intent to hold a secret, no payments.
    assert.equal(inv.confirmation_secret, null);
    assert.deepEqual(inv.payments?.data, []);

    const paid = await createSub({ customer: (await customer()).id, items: [{ price: price.id }] });
    const full = await stripe.subscriptions.retrieve(paid.id, {
      expand: ['latest_invoice.payments.data.payment.payment_intent', 'latest_invoice.confirmation_secret', 'default_payment_method', 'test_clock', 'schedule'],
    });
    const latest = full.latest_invoice as Stripe.Invoice;
    const pi = latest.payments!.data[0].payment.payment_intent as Stripe.PaymentIntent;
    assert.deepEqual([pi.object, pi.status, pi.amount], ['payment_intent', 'succeeded', 990]);
    assert.equal(latest.confirmation_secret?.client_secret, pi.client_secret);
    assert.deepEqual([full.default_payment_method, full.test_clock, full.schedule], [null, null, null], 'nothing to expand: null');
    const listed = await stripe.subscriptions.list({ customer: paid.customer as string, expand: ['data.latest_invoice'] });
    assert.equal((listed.data[0].latest_invoice as Stripe.Invoice).id, latest.id);
    assertStripeError(await get(`/v1/subscriptions/${paid.id}?expand[]=items.data.nope`), { status: 400, param: 'expand' });
  });
});

describe('invoice_settings', () => {
  test('custom_fields, description and footer go on the subscription\'s invoices; an update changes them for the next ones', async () => {
    const price = await recurringPrice({ amount: 410 });
    const cus = await customer();
    const sub = await stripe.subscriptions.create({
      customer: cus.id, items: [{ price: price.id }],
      invoice_settings: { custom_fields: [{ name: 'PO', value: '1234' }], description: 'Thanks', footer: 'Oncepay Ltd' } as never,
    });
    assert.deepEqual(sub.invoice_settings.custom_fields, [{ name: 'PO', value: '1234' }]);
    const inv = await stripe.invoices.retrieve(sub.latest_invoice as string);
    assert.deepEqual([inv.custom_fields, inv.description, inv.footer], [[{ name: 'PO', value: '1234' }], 'Thanks', 'Oncepay Ltd']);
    const up = await stripe.subscriptions.update(sub.id, { invoice_settings: { footer: 'New footer', custom_fields: '' } as never });
    assert.deepEqual([up.invoice_settings.footer, up.invoice_settings.custom_fields, up.invoice_settings.description], ['New footer', null, 'Thanks']);
    assertStripeError(await post(`/v1/subscriptions/${sub.id}`, 'cancellation_details[feedback_option]=x'), { status: 400, param: 'cancellation_details[feedback_option]', code: 'parameter_unsupported' });
  });
});
