/**
 * Orders (Oncepay extension) end to end: create, retrieve, list, update, cancel with their events;
 * totals computed from the line items; payment intents that name the order paying it partly then
 * fully, refunds moving it to partially_refunded and refunded; overpayment refused when an intent
 * is created and when it is confirmed, manual-capture holds counted as in flight, a declined
 * payment releasing what it held; external_id; bad input for every parameter; refused transitions.
 *
 * The official client has no orders resource: orders go through stripe.rawRequest. Every test
 * runs on an account of its own, so the events and the acquirer's ledger hold exactly what it did.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import fc from 'fast-check';
import qs from 'qs';
import { useTestServer, type TestServer } from '../helpers/server.ts';
import { assertOk, assertStripeError, send, stripeError } from '../helpers/stripe_errors.ts';
import { sales } from '../helpers/ledger.ts';
import type { Order } from '../../src/billing/billing_objects.ts';

const { server: s } = useTestServer({ config: { webhookIntervalMs: 0 } });

interface Account {
  stripe: Stripe;
  key: string;
  accountId: string;
  create(params: Record<string, unknown>, opts?: { idempotencyKey?: string }): Promise<Order & { lastResponse: any }>;
  retrieve(id: string, query?: string): Promise<Order>;
  update(id: string, params: Record<string, unknown>): Promise<Order>;
  cancel(id: string): Promise<Order>;
  list(query?: string): Promise<{ object: 'list'; data: Order[]; has_more: boolean; url: string }>;
  /** A payment intent for the order, confirmed with `pm` unless told otherwise. */
  pay(order: string, amount: number, opts?: { pm?: string; capture?: 'manual'; confirm?: boolean; currency?: string }): Promise<Stripe.PaymentIntent>;
  /** The order's events, oldest first. */
  events(): Promise<Stripe.Event[]>;
  ledger(reference?: string): ReturnType<TestServer['ledger']>;
  post(path: string, body: string, contentType?: string): ReturnType<typeof send>;
}

/** A new account, and the order calls on it. */
async function fresh(): Promise<Account> {
  const { key, accountId } = await s.newAccount();
  const stripe = s.stripe({ key });
  return {
    stripe, key, accountId,
    create: (params, opts = {}) => stripe.rawRequest('POST', '/v1/orders', params, opts),
    retrieve: (id, query = '') => stripe.rawRequest('GET', `/v1/orders/${id}${query}`),
    update: (id, params) => stripe.rawRequest('POST', `/v1/orders/${id}`, params),
    cancel: (id) => stripe.rawRequest('POST', `/v1/orders/${id}/cancel`, {}),
    list: (query = '') => stripe.rawRequest('GET', `/v1/orders${query}`),
    pay: (order, amount, o = {}) => stripe.paymentIntents.create({
      amount, currency: o.currency ?? 'usd', order, payment_method: o.pm ?? 'pm_card_visa', confirm: o.confirm ?? true,
      ...(o.capture ? { capture_method: o.capture } : {}),
    } as Stripe.PaymentIntentCreateParams),
    async events() {
      const all: Stripe.Event[] = [];
      for await (const e of stripe.events.list({ type: 'order.*', limit: 100 } as Stripe.EventListParams)) all.push(e);
      return all.reverse();
    },
    ledger: (reference) => s.oncepay.processor.ledger(accountId, reference),
    // A generous timeout: these suites share a 2-core machine with others.
    post: (path, body, contentType) => send(s, 'POST', path, { body, key, timeoutMs: 30_000, ...(contentType ? { contentType } : {}) }),
  };
}

const ORDER = { currency: 'usd', line_items: [{ amount: 250, quantity: 2, description: 'Widget' }, { amount: 500 }] };

const object = (e: Stripe.Event) => e.data.object as unknown as Order;

describe('orders: create, retrieve, list, update, cancel', () => {
  test('create computes the totals and renders the line items; retrieve and list return it; order.created', async () => {
    const a = await fresh();
    const customer = await a.stripe.customers.create({ name: 'Buyer' });
    const price = await a.stripe.prices.create({ currency: 'usd', unit_amount: 250, product_data: { name: 'Widget' } });
    const withPrice = { ...ORDER, line_items: [{ ...ORDER.line_items[0], price: price.id }, ORDER.line_items[1]] };
    const o = await a.create({ ...withPrice, customer: customer.id, description: 'Two widgets and a gadget', metadata: { ref: 'A-1' } });
    assert.match(o.id, /^order_[A-Za-z0-9]+$/);
    assert.equal(o.object, 'order');
    assert.equal(o.status, 'open');
    assert.equal(o.currency, 'usd');
    assert.equal(o.customer, customer.id);
    assert.equal(o.description, 'Two widgets and a gadget');
    assert.deepEqual(o.metadata, { ref: 'A-1' });
    assert.deepEqual([o.amount_subtotal, o.amount_total, o.amount_paid, o.amount_refunded, o.amount_remaining], [1000, 1000, 0, 0, 1000]);
    assert.equal(o.canceled_at, null);
    assert.equal(o.external_id, null);
    assert.equal(o.livemode, false);
    assert.deepEqual({ ...o.line_items, data: undefined }, { object: 'list', data: undefined, has_more: false, total_count: 2, url: `/v1/orders/${o.id}/line_items` });
    const [w, g] = o.line_items.data;
    assert.match(w.id, /^li_[A-Za-z0-9]+$/);
    // Stripe's line item shape; the price is carried whole, as Stripe's line items carry it.
    const line = { object: 'item', adjustable_quantity: null, amount_discount: 0, amount_tax: 0, currency: 'usd', metadata: {} };
    assert.deepEqual({ ...w, id: undefined }, {
      ...line, id: undefined, amount_subtotal: 500, amount_total: 500, description: 'Widget', price: JSON.parse(JSON.stringify(price)), quantity: 2, unit_amount: 250,
    });
    assert.deepEqual({ ...g, id: undefined }, {
      ...line, id: undefined, amount_subtotal: 500, amount_total: 500, description: null, price: null, quantity: 1, unit_amount: 500,
    });

    const got = await a.retrieve(o.id);
    assert.deepEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(o)));
    const expanded = await a.retrieve(o.id, '?expand[]=customer');
    assert.equal((expanded.customer as unknown as Stripe.Customer).name, 'Buyer');

    const other = await a.create({ currency: 'eur', line_items: [{ amount: 100 }] });
    assert.deepEqual((await a.list()).data.map((x) => x.id), [other.id, o.id], 'newest first');
    assert.deepEqual((await a.list(`?customer=${customer.id}`)).data.map((x) => x.id), [o.id]);
    assert.deepEqual((await a.list('?status=open&limit=1')).data.map((x) => x.id), [other.id]);
    assert.equal((await a.list('?status=open&limit=1')).has_more, true);
    assert.deepEqual((await a.list('?status=paid')).data, []);

    const lines = await a.stripe.rawRequest('GET', `/v1/orders/${o.id}/line_items?limit=1`);
    assert.deepEqual(lines.data.map((l: { id: string }) => l.id), [w.id]);
    assert.equal(lines.has_more, true);
    assert.equal(lines.url, `/v1/orders/${o.id}/line_items`);
    const rest = await a.stripe.rawRequest('GET', `/v1/orders/${o.id}/line_items?starting_after=${w.id}`);
    assert.deepEqual(rest.data.map((l: { id: string }) => l.id), [g.id]);
    assert.equal(rest.has_more, false);
    const back = await a.stripe.rawRequest('GET', `/v1/orders/${o.id}/line_items?ending_before=${g.id}`);
    assert.deepEqual(back.data.map((l: { id: string }) => l.id), [w.id]);

    const events = await a.events();
    assert.deepEqual(events.map((e) => e.type), ['order.created', 'order.created']);
    assert.equal(object(events[0]).id, o.id);
    assert.equal(object(events[0]).amount_total, 1000);
  });

  test('update: description, customer, line_items (totals recomputed) and metadata; order.updated with previous_attributes; no change, no event', async () => {
    const a = await fresh();
    const c1 = await a.stripe.customers.create({ name: 'One' });
    const c2 = await a.stripe.customers.create({ name: 'Two' });
    const o = await a.create({ ...ORDER, customer: c1.id, description: 'first', metadata: { keep: 'k', drop: 'd' } });
    const up = await a.update(o.id, {
      description: 'second', customer: c2.id, metadata: { drop: '', added: 'a' },
      line_items: [{ amount: 1999, quantity: 3, description: 'Bulk' }],
    });
    assert.equal(up.description, 'second');
    assert.equal(up.customer, c2.id);
    assert.deepEqual(up.metadata, { keep: 'k', added: 'a' });
    assert.deepEqual([up.amount_subtotal, up.amount_total, up.amount_remaining, up.status], [5997, 5997, 5997, 'open']);
    assert.equal(up.line_items.total_count, 1);
    assert.deepEqual([up.line_items.data[0].unit_amount, up.line_items.data[0].quantity, up.line_items.data[0].amount_total], [1999, 3, 5997]);
    assert.notEqual(up.line_items.data[0].id, o.line_items.data[0].id, 'line items are replaced, with new ids');

    const cleared = await a.update(o.id, { description: '', customer: '' });
    assert.equal(cleared.description, null);
    assert.equal(cleared.customer, null);

    const same = await a.update(o.id, { metadata: { keep: 'k' } });
    assert.deepEqual(same.metadata, { keep: 'k', added: 'a' });

    const events = await a.events();
    assert.deepEqual(events.map((e) => e.type), ['order.created', 'order.updated', 'order.updated'], 'an update that changes nothing emits nothing');
    const prev = events[1].data.previous_attributes as Record<string, any>;
    assert.deepEqual(Object.keys(prev).sort(), ['amount_remaining', 'amount_subtotal', 'amount_total', 'customer', 'description', 'line_items', 'metadata']);
    assert.deepEqual([prev.amount_total, prev.customer, prev.description, prev.metadata], [1000, c1.id, 'first', { keep: 'k', drop: 'd' }]);
    assert.equal(prev.line_items.total_count, 2);
    assert.deepEqual(events[2].data.previous_attributes, { customer: c2.id, description: 'second' });
    assert.deepEqual(await a.retrieve(o.id).then((x) => [x.amount_total, x.description]), [5997, null]);
  });

  test('cancel an open order: canceled with canceled_at, order.canceled; then it refuses cancel, changes and payments but takes metadata', async () => {
    const a = await fresh();
    const o = await a.create(ORDER);
    const waiting = await a.pay(o.id, 300, { confirm: false }); // created before the cancel
    const c = await a.cancel(o.id);
    assert.equal(c.status, 'canceled');
    assert.equal(typeof c.canceled_at, 'number');
    assert.equal(c.amount_remaining, 1000);

    const again = await stripeError(a.cancel(o.id));
    assert.equal(again.statusCode, 400);
    assert.equal(again.code, 'order_status_invalid');
    assert.match(again.message, /status of canceled/);
    const change = await stripeError(a.update(o.id, { line_items: [{ amount: 5 }] }));
    assert.deepEqual([change.statusCode, change.code, change.param], [400, 'order_status_invalid', 'line_items']);
    const desc = await stripeError(a.update(o.id, { description: 'x' }));
    assert.deepEqual([desc.statusCode, desc.param], [400, 'description']);
    const meta = await a.update(o.id, { metadata: { note: 'canceled by support' } });
    assert.deepEqual(meta.metadata, { note: 'canceled by support' });
    assert.equal(meta.status, 'canceled');

    const create = await stripeError(a.pay(o.id, 100));
    assert.deepEqual([create.statusCode, create.code, create.param], [400, 'order_status_invalid', 'order']);
    const confirm = await stripeError(a.stripe.paymentIntents.confirm(waiting.id, { payment_method: 'pm_card_visa' }));
    assert.deepEqual([confirm.statusCode, confirm.code, confirm.param], [400, 'order_status_invalid', 'order']);
    assert.equal((await a.stripe.paymentIntents.retrieve(waiting.id)).status, 'requires_confirmation', 'the refused confirmation changed nothing');
    assert.deepEqual(await a.ledger(), [], 'no money moved');

    const events = await a.events();
    assert.deepEqual(events.map((e) => e.type), ['order.created', 'order.canceled', 'order.updated']);
    assert.equal(events[1].data.previous_attributes, undefined, 'a state event carries no previous_attributes (Stripe: only *.updated)');
    assert.equal(object(events[1]).status, 'canceled');
  });

  test('a replayed create (same Idempotency-Key) returns the same order and emits nothing', async () => {
    const a = await fresh();
    const first = await a.create(ORDER, { idempotencyKey: 'order-create-1' });
    const second = await a.create(ORDER, { idempotencyKey: 'order-create-1' });
    assert.equal(second.id, first.id);
    assert.equal(second.lastResponse.headers['idempotent-replayed'], 'true');
    assert.equal((await a.list()).data.length, 1);
    assert.deepEqual((await a.events()).map((e) => e.type), ['order.created']);
  });

  test('external_id: the same payload returns the existing order; a different one is 409 already_exists', async () => {
    const a = await fresh();
    const first = await a.create({ ...ORDER, external_id: 'cart-77' });
    assert.equal(first.external_id, 'cart-77');
    const again = await a.create({ ...ORDER, external_id: 'cart-77' });
    assert.equal(again.id, first.id);
    assert.notEqual(again.lastResponse.headers['idempotent-replayed'], 'true', 'not a key replay: a second request found the first order');
    const clash = await stripeError(a.create({ currency: 'usd', line_items: [{ amount: 1 }], external_id: 'cart-77' }));
    assert.deepEqual([clash.statusCode, clash.code, clash.param], [409, 'already_exists', 'external_id']);
    assert.equal((clash.raw as { existing_id?: string }).existing_id, first.id);
    assert.equal((await a.list()).data.length, 1);
    assert.deepEqual((await a.events()).map((e) => e.type), ['order.created']);
    // Another account has its own external ids.
    const b = await fresh();
    assert.notEqual((await b.create({ ...ORDER, external_id: 'cart-77' })).id, first.id);
  });

  test('orders of one account are invisible to another, and its intents cannot pay them', async () => {
    const a = await fresh();
    const b = await fresh();
    const o = await a.create(ORDER);
    assert.equal((await stripeError(b.retrieve(o.id))).statusCode, 404);
    assert.equal((await stripeError(b.update(o.id, { metadata: { x: '1' } }))).statusCode, 404);
    assert.equal((await stripeError(b.cancel(o.id))).statusCode, 404);
    const pay = await stripeError(b.pay(o.id, 100));
    assert.deepEqual([pay.statusCode, pay.code, pay.param], [400, 'resource_missing', 'order']);
    assert.deepEqual((await b.list()).data, []);
  });
});

describe('paying orders with payment intents', () => {
  test('partly, then fully: partially_paid -> paid with order.paid; refunds -> partially_refunded -> refunded; the ledger agrees', async () => {
    const a = await fresh();
    const o = await a.create(ORDER);
    const p1 = await a.pay(o.id, 400);
    assert.equal(p1.status, 'succeeded');
    assert.equal((p1 as Stripe.PaymentIntent & { order: string }).order, o.id);
    let cur = await a.retrieve(o.id);
    assert.deepEqual([cur.status, cur.amount_paid, cur.amount_remaining], ['partially_paid', 400, 600]);

    const p2 = await a.pay(o.id, 600);
    cur = await a.retrieve(o.id);
    assert.deepEqual([cur.status, cur.amount_paid, cur.amount_remaining, cur.amount_refunded], ['paid', 1000, 0, 0]);
    assert.deepEqual((await a.ledger()).map((e) => [e.kind, e.reference, e.amount, e.outcome]).sort(), [
      ['sale', p1.id, 400, 'approved'], ['sale', p2.id, 600, 'approved'],
    ].sort());

    // Nothing more can be paid: refused when the intent is created.
    const more = await stripeError(a.pay(o.id, 1));
    assert.deepEqual([more.statusCode, more.code, more.param], [400, 'amount_too_large', 'amount']);
    assert.match(more.message, new RegExp(`${o.id}.*paid in full`));

    await a.stripe.refunds.create({ payment_intent: p1.id, amount: 150 });
    cur = await a.retrieve(o.id);
    assert.deepEqual([cur.status, cur.amount_paid, cur.amount_refunded, cur.amount_remaining], ['partially_refunded', 1000, 150, 0]);
    await a.stripe.refunds.create({ payment_intent: p1.id });
    await a.stripe.refunds.create({ payment_intent: p2.id });
    cur = await a.retrieve(o.id);
    assert.deepEqual([cur.status, cur.amount_paid, cur.amount_refunded, cur.amount_remaining], ['refunded', 1000, 1000, 0]);
    const refunds = (await a.ledger()).filter((e) => e.kind === 'refund');
    assert.equal(refunds.reduce((sum, e) => sum + e.amount, 0), 1000);

    // A paid (now refunded) order takes no changes and cannot be canceled; metadata is fine.
    const change = await stripeError(a.update(o.id, { line_items: [{ amount: 1 }] }));
    assert.deepEqual([change.statusCode, change.code, change.param], [400, 'order_status_invalid', 'line_items']);
    const customer = await stripeError(a.update(o.id, { customer: '' }));
    assert.deepEqual([customer.statusCode, customer.param], [400, 'customer']);
    const cancel = await stripeError(a.cancel(o.id));
    assert.deepEqual([cancel.statusCode, cancel.code], [400, 'order_status_invalid']);
    assert.match(cancel.message, /status of refunded/);
    assert.deepEqual((await a.update(o.id, { metadata: { done: 'yes' } })).metadata, { done: 'yes' });

    const events = await a.events();
    const types = events.map((e) => e.type as string);
    // order.paid is emitted with the update that pays the order, in the same phase.
    assert.deepEqual([...types.slice(0, 2), ...types.slice(2, 4).sort(), ...types.slice(4)], [
      'order.created', 'order.updated', 'order.paid', 'order.updated', 'order.updated', 'order.updated', 'order.updated', 'order.updated',
    ]);
    assert.deepEqual(events[1].data.previous_attributes, { amount_paid: 0, amount_remaining: 1000, status: 'open' });
    const paidUpdate = events.slice(2, 4).find((e) => (e.type as string) === 'order.updated')!;
    assert.deepEqual(paidUpdate.data.previous_attributes, { amount_paid: 400, amount_remaining: 600, status: 'partially_paid' });
    const paid = events.find((e) => (e.type as string) === 'order.paid')!;
    assert.equal(object(paid).status, 'paid');
    assert.equal(object(paid).amount_paid, 1000);
    assert.deepEqual(events[4].data.previous_attributes, { amount_refunded: 0, status: 'paid' });
    assert.deepEqual(events[5].data.previous_attributes, { amount_refunded: 150 });
    assert.deepEqual(events[6].data.previous_attributes, { amount_refunded: 400, status: 'partially_refunded' });
    assert.deepEqual(events[7].data.previous_attributes, { metadata: {} });
    assert.equal(events.filter((e) => (e.type as string) === 'order.paid').length, 1);
  });

  test('overpayment is refused when the intent is created, and when it is confirmed while others fit alone', async () => {
    const a = await fresh();
    const o = await a.create(ORDER);
    const tooBig = await stripeError(a.pay(o.id, 1001, { confirm: false }));
    assert.deepEqual([tooBig.statusCode, tooBig.code, tooBig.param], [400, 'amount_too_large', 'amount']);
    assert.match(tooBig.message, new RegExp(`${o.id}`));
    assert.match(tooBig.message, /10\.00 usd/);

    // Two intents that each fit alone but not together.
    const x = await a.pay(o.id, 700, { confirm: false });
    const y = await a.pay(o.id, 700, { confirm: false });
    assert.equal((await a.stripe.paymentIntents.confirm(x.id, { payment_method: 'pm_card_visa' })).status, 'succeeded');
    const refused = await stripeError(a.stripe.paymentIntents.confirm(y.id, { payment_method: 'pm_card_visa' }));
    assert.deepEqual([refused.statusCode, refused.code, refused.param], [400, 'amount_too_large', 'amount']);
    assert.match(refused.message, new RegExp(`7\\.00 usd would overpay order ${o.id}.*total is 10\\.00 usd.*7\\.00 usd paid.*only 3\\.00 usd remains`));
    assert.equal((await a.stripe.paymentIntents.retrieve(y.id)).status, 'requires_confirmation', 'the refused confirmation changed nothing');
    assert.deepEqual(await a.ledger(y.id), [], 'the refused payment never reached the acquirer');

    // Lowering the amount to what remains is checked too: over is refused, exact succeeds.
    const over = await stripeError(a.stripe.paymentIntents.update(y.id, { amount: 301 }));
    assert.deepEqual([over.statusCode, over.code, over.param], [400, 'amount_too_large', 'amount']);
    const wrongCurrency = await stripeError(a.stripe.paymentIntents.update(y.id, { currency: 'eur' }));
    assert.deepEqual([wrongCurrency.statusCode, wrongCurrency.param], [400, 'currency']);
    await a.stripe.paymentIntents.update(y.id, { amount: 300 });
    assert.equal((await a.stripe.paymentIntents.confirm(y.id, { payment_method: 'pm_card_visa' })).status, 'succeeded');
    const cur = await a.retrieve(o.id);
    assert.deepEqual([cur.status, cur.amount_paid], ['paid', 1000]);
    assert.equal(sales(await a.ledger(), { outcome: 'any' }).reduce((sum, e) => sum + e.amount, 0), 1000);

    // create+confirm in one call is refused the same way, and creates nothing.
    const o2 = await a.create({ currency: 'usd', line_items: [{ amount: 500 }] });
    const held = await a.pay(o2.id, 400, { capture: 'manual' });
    assert.equal(held.status, 'requires_capture');
    const both = await stripeError(a.pay(o2.id, 200));
    assert.deepEqual([both.statusCode, both.code, both.param], [400, 'amount_too_large', 'amount']);
    assert.match(both.message, new RegExp(`4\\.00 usd in flight \\(${held.id}\\)`));
    assert.deepEqual((await a.stripe.paymentIntents.list({ limit: 100 })).data.filter((p) => (p as Stripe.PaymentIntent & { order: string | null }).order === o2.id).map((p) => p.id), [held.id]);
  });

  test('a manual-capture hold counts as in flight: it blocks overpaying, cancel and changes; a partial capture pays what it captured', async () => {
    const a = await fresh();
    const o = await a.create(ORDER);
    const held = await a.pay(o.id, 700, { capture: 'manual' });
    assert.equal(held.status, 'requires_capture');
    let cur = await a.retrieve(o.id);
    assert.deepEqual([cur.status, cur.amount_paid, cur.amount_remaining], ['open', 0, 1000], 'a hold is not a payment');

    const next = await a.pay(o.id, 400, { confirm: false });
    const refused = await stripeError(a.stripe.paymentIntents.confirm(next.id, { payment_method: 'pm_card_visa' }));
    assert.deepEqual([refused.statusCode, refused.code, refused.param], [400, 'amount_too_large', 'amount']);
    const cancel = await stripeError(a.cancel(o.id));
    assert.deepEqual([cancel.statusCode, cancel.code], [400, 'order_status_invalid']);
    assert.match(cancel.message, new RegExp(`in flight.*${held.id}`));
    const change = await stripeError(a.update(o.id, { line_items: [{ amount: 100 }] }));
    assert.deepEqual([change.statusCode, change.code, change.param], [400, 'order_status_invalid', 'line_items']);
    assert.match(change.message, /in flight/);

    await a.stripe.paymentIntents.capture(held.id, { amount_to_capture: 500 });
    cur = await a.retrieve(o.id);
    assert.deepEqual([cur.status, cur.amount_paid, cur.amount_remaining], ['partially_paid', 500, 500]);
    assert.equal((await a.stripe.paymentIntents.confirm(next.id, { payment_method: 'pm_card_visa' })).status, 'succeeded');
    cur = await a.retrieve(o.id);
    assert.deepEqual([cur.status, cur.amount_paid, cur.amount_remaining], ['partially_paid', 900, 100]);
    assert.deepEqual((await a.ledger()).map((e) => [e.kind, e.amount]).sort(), [['authorization', 700], ['capture', 500], ['sale', 400]].sort());
  });

  test('a voided hold, a decline and a 3-D Secure stop release what they held', async () => {
    const a = await fresh();
    const o = await a.create({ currency: 'usd', line_items: [{ amount: 1000 }] });
    const held = await a.pay(o.id, 1000, { capture: 'manual' });
    await a.stripe.paymentIntents.cancel(held.id);
    const declined = await stripeError(a.pay(o.id, 1000, { pm: 'pm_card_visa_chargeDeclined' }));
    assert.equal(declined.statusCode, 402);
    assert.equal((await a.retrieve(o.id)).status, 'open');
    const threeDs = await a.pay(o.id, 1000, { pm: 'pm_card_authenticationRequired' });
    assert.equal(threeDs.status, 'requires_action');
    // Nothing is in flight now: the whole amount can be paid, and the order can even change.
    assert.equal((await a.update(o.id, { description: 'still open' })).description, 'still open');
    const paid = await a.pay(o.id, 1000);
    assert.equal(paid.status, 'succeeded');
    const cur = await a.retrieve(o.id);
    assert.deepEqual([cur.status, cur.amount_paid], ['paid', 1000]);
    // The authentication completing now would overpay: its confirmation is refused.
    const late = await stripeError(a.stripe.paymentIntents.confirm(threeDs.id));
    assert.deepEqual([late.statusCode, late.code], [400, 'amount_too_large']);
    const sold = sales(await a.ledger(), { captures: true, outcome: (o) => o !== 'declined' });
    assert.deepEqual(sold.map((e) => [e.reference, e.amount, e.outcome]), [[paid.id, 1000, 'approved']]);
    assert.deepEqual((await a.ledger(held.id)).map((e) => e.kind), ['authorization', 'void']);
  });

  test('an order in one currency is not paid in another', async () => {
    const a = await fresh();
    const o = await a.create({ currency: 'eur', line_items: [{ amount: 900 }] });
    const err = await stripeError(a.pay(o.id, 900, { currency: 'usd' }));
    assert.deepEqual([err.statusCode, err.param], [400, 'currency']);
    assert.match(err.message, /eur/);
    assert.equal((await a.pay(o.id, 900, { currency: 'eur' })).status, 'succeeded');
    assert.equal((await a.retrieve(o.id)).status, 'paid');
  });
});

describe('bad input names the parameter', () => {
  const post = async (a: Account, path: string, body: string) => a.post(path, body);

  test('create: every parameter', async () => {
    const a = await fresh();
    const LI = 'line_items[0][amount]=100';
    const cases: Array<[body: string, param: string | RegExp, code?: string]> = [
      [LI, 'currency', 'parameter_missing'],
      ['currency=usd', 'line_items', 'parameter_missing'],
      ['currency=usd&line_items=', 'line_items'],
      [`currency=zzz&${LI}`, 'currency', 'parameter_invalid_currency'],
      ['currency=usd&line_items[0][quantity]=1', 'line_items[0][amount]', 'parameter_missing'],
      ['currency=usd&line_items[0][amount]=0', 'line_items[0][amount]', 'amount_too_small'],
      ['currency=usd&line_items[0][amount]=-5', 'line_items[0][amount]', 'amount_too_small'],
      ['currency=usd&line_items[0][amount]=1.5', 'line_items[0][amount]', 'parameter_invalid_integer'],
      ['currency=usd&line_items[0][amount]=abc', 'line_items[0][amount]', 'parameter_invalid_integer'],
      ['currency=usd&line_items[0][amount]=100000000', 'line_items[0][amount]', 'amount_too_large'],
      [`currency=usd&${LI}&line_items[0][quantity]=0`, 'line_items[0][quantity]', 'parameter_invalid_integer'],
      [`currency=usd&${LI}&line_items[0][quantity]=-1`, 'line_items[0][quantity]', 'parameter_invalid_integer'],
      [`currency=usd&${LI}&line_items[0][quantity]=x`, 'line_items[0][quantity]', 'parameter_invalid_integer'],
      [`currency=usd&${LI}&line_items[0][price]=`, 'line_items[0][price]', 'parameter_invalid_empty'],
      [`currency=usd&${LI}&line_items[0][price]=price_missing`, 'line_items[0][price]', 'resource_missing'],
      [`currency=usd&${LI}&line_items[0][description]=${'d'.repeat(1001)}`, 'line_items[0][description]', 'parameter_invalid_string'],
      [`currency=usd&${LI}&line_items[0][color]=red`, 'line_items[0][color]', 'parameter_unknown'],
      ['currency=usd&line_items[0]=5', 'line_items[0]', 'parameter_invalid_hash'],
      ['currency=usd&line_items=abc', 'line_items', 'parameter_invalid_array'],
      [`currency=usd&${LI}&color=red`, 'color', 'parameter_unknown'],
      [`currency=usd&${LI}&customer=`, 'customer', 'parameter_invalid_empty'],
      [`currency=usd&${LI}&description=${'d'.repeat(1001)}`, 'description', 'parameter_invalid_string'],
      [`currency=usd&${LI}&metadata=x`, 'metadata', 'parameter_invalid_hash'],
      [`currency=usd&${LI}&metadata[${'k'.repeat(41)}]=v`, /^metadata\[k+\]$/],
      [`currency=usd&${LI}&external_id=`, 'external_id', 'parameter_invalid_empty'],
      [`currency=usd&${LI}&expand=customer`, 'expand', 'parameter_invalid_array'],
      // The total must be payable: 2 x 60,000,000 is more than 99,999,999.
      ['currency=usd&line_items[0][amount]=60000000&line_items[0][quantity]=2', 'line_items', 'amount_too_large'],
      ['currency=usd&line_items[0][amount]=99999999&line_items[1][amount]=1', 'line_items', 'amount_too_large'],
      ['currency=usd&line_items[0][amount]=99999999&line_items[0][quantity]=999999999999999', 'line_items', 'amount_too_large'],
    ];
    for (const [body, param, code] of cases) {
      assertStripeError(await post(a, '/v1/orders', body), { status: 400, param, ...(code ? { code } : {}) });
    }
    // 101 items: the form parser refuses more than 100 array elements itself (without naming the
    // parameter); in JSON the parameter schema refuses them, naming line_items.
    const many = Array.from({ length: 101 }, (_, i) => `line_items[${i}][amount]=1`).join('&');
    assertStripeError(await post(a, '/v1/orders', `currency=usd&${many}`), { status: 400 });
    const json = (body: unknown) => a.post('/v1/orders', JSON.stringify(body), 'application/json');
    assertStripeError(await json({ currency: 'usd', line_items: Array.from({ length: 101 }, () => ({ amount: 1 })) }), { status: 400, param: 'line_items', code: 'parameter_invalid_array' });
    assertStripeError(await json({ currency: 'usd', line_items: [] }), { status: 400, param: 'line_items', code: 'parameter_invalid_array' });
    assertStripeError(await json({ currency: 'usd', line_items: [{ amount: 2.5 }] }), { status: 400, param: 'line_items[0][amount]', code: 'parameter_invalid_integer' });
    assertStripeError(await json({ currency: 'usd', line_items: [{ amount: 1, quantity: 0 }] }), { status: 400, param: 'line_items[0][quantity]' });
    assertStripeError(await json({ currency: 'usd', line_items: { amount: 1 } }), { status: 400, param: 'line_items', code: 'parameter_invalid_array' });

    // Unknown or deleted customers are refused at run time, naming customer.
    assertStripeError(await post(a, '/v1/orders', `currency=usd&${LI}&customer=cus_nope`), { status: 400, param: 'customer', code: 'resource_missing' });
    const gone = await a.stripe.customers.create({ name: 'Gone' });
    await a.stripe.customers.del(gone.id);
    assertStripeError(await post(a, '/v1/orders', `currency=usd&${LI}&customer=${gone.id}`), { status: 400, param: 'customer', code: 'resource_missing' });
    // A line's price must be in the order's currency.
    const eur = await a.stripe.prices.create({ currency: 'eur', unit_amount: 100, product_data: { name: 'In euros' } });
    const mismatch = await post(a, '/v1/orders', `currency=usd&${LI}&line_items[0][price]=${eur.id}`);
    assertStripeError(mismatch, { status: 400, param: 'line_items[0][price]' });
    assert.match(mismatch.json.error.message, /eur/);

    // Nothing was created by any of these.
    assert.deepEqual((await a.list()).data, []);
    assert.deepEqual(await a.events(), []);
    // The extremes that are fine: 100 items, and a total of exactly the maximum.
    const hundred = Array.from({ length: 100 }, (_, i) => `line_items[${i}][amount]=1`).join('&');
    assert.equal(assertOk(await post(a, '/v1/orders', `currency=usd&${hundred}`)).amount_total, 100);
    assert.equal(assertOk(await post(a, '/v1/orders', 'currency=jpy&line_items[0][amount]=33333333&line_items[0][quantity]=3')).amount_total, 99_999_999);
  });

  test('update, cancel, retrieve, list and the line items list', async () => {
    const a = await fresh();
    const o = await a.create(ORDER);
    const cases: Array<[body: string, param: string, code?: string]> = [
      ['line_items=', 'line_items'],
      ['line_items[0][amount]=0', 'line_items[0][amount]', 'amount_too_small'],
      ['line_items[0][amount]=60000000&line_items[0][quantity]=2', 'line_items', 'amount_too_large'],
      ['currency=eur', 'currency', 'parameter_unknown'],
      ['status=paid', 'status', 'parameter_unknown'],
      ['amount_paid=1000', 'amount_paid', 'parameter_unknown'],
      ['customer=cus_nope', 'customer', 'resource_missing'],
      ['metadata=x', 'metadata', 'parameter_invalid_hash'],
    ];
    for (const [body, param, code] of cases) {
      assertStripeError(await post(a, `/v1/orders/${o.id}`, body), { status: 400, param, ...(code ? { code } : {}) });
    }
    assertStripeError(await post(a, `/v1/orders/${o.id}/cancel`, 'reason=x'), { status: 400, param: 'reason', code: 'parameter_unknown' });
    assertStripeError(await post(a, '/v1/orders/order_nope', 'metadata[a]=1'), { status: 404, code: 'resource_missing' });
    assertStripeError(await post(a, '/v1/orders/order_nope/cancel', ''), { status: 404, code: 'resource_missing' });
    const get = (path: string) => send(s, 'GET', path, { key: a.key, timeoutMs: 30_000 });
    assertStripeError(await get('/v1/orders/order_nope'), { status: 404, code: 'resource_missing' });
    assertStripeError(await get('/v1/orders?status=done'), { status: 400, param: 'status' });
    assertStripeError(await get('/v1/orders?limit=0'), { status: 400, param: 'limit' });
    assertStripeError(await get('/v1/orders?starting_after=order_nope'), { status: 400, param: 'starting_after', code: 'resource_missing' });
    assertStripeError(await get('/v1/orders/order_nope/line_items'), { status: 404, code: 'resource_missing' });
    assertStripeError(await get(`/v1/orders/${o.id}/line_items?starting_after=li_nope`), { status: 400, param: 'starting_after', code: 'resource_missing' });
    assertStripeError(await get(`/v1/orders/${o.id}/line_items?limit=101`), { status: 400, param: 'limit' });
    // Nothing changed.
    const cur = await a.retrieve(o.id);
    assert.deepEqual(JSON.parse(JSON.stringify(cur)), JSON.parse(JSON.stringify(o)));
    assert.deepEqual((await a.events()).map((e) => e.type), ['order.created']);
  });

  test('payment intents: an unknown order is resource_missing naming order', async () => {
    const a = await fresh();
    assertStripeError(await post(a, '/v1/payment_intents', 'amount=100&currency=usd&order=order_nope'), { status: 400, param: 'order', code: 'resource_missing' });
    assertStripeError(await post(a, '/v1/payment_intents', 'amount=100&currency=usd&order=order_nope&confirm=true&payment_method=pm_card_visa'), { status: 400, param: 'order', code: 'resource_missing' });
    assertStripeError(await post(a, '/v1/payment_intents', 'amount=100&currency=usd&order='), { status: 400, param: 'order', code: 'parameter_invalid_empty' });
    assert.deepEqual((await a.stripe.paymentIntents.list()).data, []);
    assert.deepEqual(await a.ledger(), []);
  });
});

describe('property: random line items', () => {
  test('valid ones are totaled exactly; anything else is a 400 naming a line item parameter; never a 5xx; nothing half-made', async () => {
    const a = await fresh();
    // Mostly small amounts and quantities, so that many random orders are payable (a total of at
    // most 99,999,999); large ones too, whose totals overflow it.
    const amountLike = fc.oneof(
      { weight: 5, arbitrary: fc.integer({ min: 1, max: 10_000 }) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 99_999_999 }) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(0, -1, 1.5, '12.5', 'x', '', 100_000_000, '1e3', null, [], {}) },
    );
    const quantityLike = fc.oneof(
      { weight: 5, arbitrary: fc.integer({ min: 1, max: 100 }) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 1_000_000 }) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(0, -2, 2.5, 'two', '', null) },
    );
    const item = fc.record({ amount: amountLike, quantity: quantityLike, description: fc.string({ maxLength: 20 }) }, { requiredKeys: ['amount'] });
    let created = 0;
    await fc.assert(fc.asyncProperty(fc.array(item, { minLength: 0, maxLength: 6 }), fc.boolean(), async (items, asJson) => {
      const params = { currency: 'usd', line_items: items };
      const res = asJson
        ? await a.post('/v1/orders', JSON.stringify(params), 'application/json')
        : await a.post('/v1/orders', qs.stringify(params, { arrayFormat: 'indices' }));
      assert.ok(res.status < 500, `HTTP ${res.status} ${res.text}`);
      const valid = items.length > 0 && items.every((li) => Number.isSafeInteger(li.amount) && (li.amount as number) >= 1 && (li.amount as number) <= 99_999_999
        && (li.quantity === undefined || (Number.isSafeInteger(li.quantity) && (li.quantity as number) >= 1)));
      const total = valid ? items.reduce((sum, li) => sum + (li.amount as number) * ((li.quantity as number | undefined) ?? 1), 0) : 0;
      if (valid && total <= 99_999_999) {
        const o = assertOk(res);
        created++;
        assert.equal(o.amount_total, total);
        assert.equal(o.amount_remaining, total);
        assert.deepEqual(o.line_items.data.map((li: any) => li.amount_total), items.map((li) => (li.amount as number) * ((li.quantity as number | undefined) ?? 1)));
      } else {
        assertStripeError(res, { status: 400, param: /^line_items/ });
      }
    }), { numRuns: Number(process.env.FC_NUM_RUNS ?? 60), includeErrorInReport: true });
    assert.ok(created > 0, 'some random orders were valid');
    let listed = 0;
    let page = await a.list('?limit=100');
    for (;;) {
      listed += page.data.length;
      if (!page.has_more) break;
      page = await a.list(`?limit=100&starting_after=${page.data[page.data.length - 1].id}`);
    }
    assert.equal(listed, created, 'exactly the accepted orders exist');
    assert.equal((await a.events()).length, created, 'one order.created per order made, none for refusals');
  });
});
