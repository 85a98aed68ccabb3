/**
 * The exact events of every payment flow, as Stripe emits them for card payments (issue 15):
 * their types in the order they were created, the object state each carries, and
 * previous_attributes (only on `*.updated` events, as Stripe's Event object documents).
 *
 *   automatic capture    payment_intent.created, charge.succeeded, payment_intent.succeeded
 *   manual capture       ... charge.succeeded (captured false), payment_intent.amount_capturable_updated;
 *                        capture: charge.captured, payment_intent.succeeded
 *   decline              ... charge.failed, payment_intent.payment_failed
 *   3-D Secure           ... payment_intent.requires_action; confirm: charge.succeeded, payment_intent.succeeded
 *   cancel               payment_intent.canceled (an authorized one: charge.refunded first)
 *   refund               charge.refunded, refund.created (succeeded); update: charge.refund.updated, refund.updated
 *   customer             customer.created, customer.updated (previous_attributes), customer.deleted
 *
 * No card flow shows `processing` (Stripe: cards never enter it). A second part delivers the
 * same flows to a webhook endpoint whose receiver fails some first attempts, and checks each
 * object's events arrive in the order they were created.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { startTestServer, usingPostgres, useTestServer, type TestServer } from '../helpers/server.ts';
import { createPrivateSchema, dropPrivateSchemas } from '../helpers/processes.ts';
import { STORE } from '../helpers/store.ts';
import { freshEventReader, type SeenEvent } from '../helpers/events.ts';

const { server: s } = useTestServer({ config: { webhookIntervalMs: 0 } });

type Obj = Record<string, any>;
type Seen = SeenEvent;

/** A client on a fresh account, and a reader of the events since the last read, oldest first. */
const fresh = () => freshEventReader(s);

const types = (events: Seen[]) => events.map((e) => e.type);

/** Every event Stripe documents as a state event carries no previous_attributes; created never goes back. */
function assertWellFormed(events: Seen[]): void {
  for (const e of events) {
    if (!e.type.endsWith('.updated')) assert.equal(e.previous, undefined, `${e.type} carries previous_attributes`);
    assert.notEqual(e.object.status, 'processing', `${e.type} shows a card payment processing`);
  }
  for (let i = 1; i < events.length; i++) assert.ok(events[i].created >= events[i - 1].created, 'events are in order of created');
}

const card = { amount: 2000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true } as const;

describe(`payment event sequences [${STORE}]`, () => {
  test('automatic capture: created (before its payment method is attached), charge.succeeded, payment_intent.succeeded', async () => {
    const { stripe, next } = await fresh();
    const pi = await stripe.paymentIntents.create(card);
    const ev = await next();
    assert.deepEqual(types(ev), ['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
    assertWellFormed(ev);
    const [created, charge, succeeded] = ev.map((e) => e.object);
    assert.deepEqual([created.id, created.status, created.payment_method, created.latest_charge, created.amount_received], [pi.id, 'requires_payment_method', null, null, 0]);
    assert.deepEqual([charge.id, charge.status, charge.captured, charge.paid, charge.amount_captured, charge.payment_intent], [pi.latest_charge, 'succeeded', true, true, 2000, pi.id]);
    assert.match(charge.balance_transaction, /^txn_/);
    assert.deepEqual([succeeded.status, succeeded.amount_received, succeeded.latest_charge, succeeded.payment_method], ['succeeded', 2000, pi.latest_charge, 'pm_card_visa']);
    assert.deepEqual(succeeded, JSON.parse(JSON.stringify(await stripe.paymentIntents.retrieve(pi.id))), 'the last event carries what GET answers');
  });

  test('create, then confirm: created carries requires_confirmation; the confirmation adds charge.succeeded and succeeded only', async () => {
    const { stripe, next } = await fresh();
    const pi = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', payment_method: 'pm_card_visa' });
    const first = await next();
    assert.deepEqual(types(first), ['payment_intent.created']);
    assert.deepEqual([first[0].object.status, first[0].object.payment_method], ['requires_confirmation', 'pm_card_visa']);
    await stripe.paymentIntents.confirm(pi.id);
    const ev = await next();
    assert.deepEqual(types(ev), ['charge.succeeded', 'payment_intent.succeeded']);
    assertWellFormed(ev);
  });

  test('manual capture: charge.succeeded uncaptured, amount_capturable_updated; capture: charge.captured, succeeded', async () => {
    const { stripe, next } = await fresh();
    const pi = await stripe.paymentIntents.create({ ...card, capture_method: 'manual' });
    const held = await next();
    assert.deepEqual(types(held), ['payment_intent.created', 'charge.succeeded', 'payment_intent.amount_capturable_updated']);
    assertWellFormed(held);
    const [, charge, capturable] = held.map((e) => e.object);
    assert.deepEqual([charge.status, charge.captured, charge.amount_captured, charge.balance_transaction, charge.paid], ['succeeded', false, 0, null, true]);
    assert.deepEqual([capturable.status, capturable.amount_capturable, capturable.amount_received], ['requires_capture', 2000, 0]);
    await stripe.paymentIntents.capture(pi.id);
    const ev = await next();
    assert.deepEqual(types(ev), ['charge.captured', 'payment_intent.succeeded']);
    assertWellFormed(ev);
    const [captured, succeeded] = ev.map((e) => e.object);
    assert.deepEqual([captured.captured, captured.amount_captured, captured.amount_refunded, captured.refunded], [true, 2000, 0, false]);
    assert.match(captured.balance_transaction, /^txn_/);
    assert.deepEqual([succeeded.status, succeeded.amount_received, succeeded.amount_capturable], ['succeeded', 2000, 0]);
  });

  test('partial capture: the uncaptured rest is released (the charge\'s amount_refunded), with the same two events', async () => {
    const { stripe, next } = await fresh();
    const pi = await stripe.paymentIntents.create({ ...card, capture_method: 'manual' });
    await next();
    await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 1200 });
    const ev = await next();
    assert.deepEqual(types(ev), ['charge.captured', 'payment_intent.succeeded']);
    const [captured, succeeded] = ev.map((e) => e.object);
    assert.deepEqual([captured.amount, captured.amount_captured, captured.amount_refunded, captured.refunded], [2000, 1200, 800, false]);
    assert.deepEqual([succeeded.amount_received, succeeded.amount_capturable], [1200, 0]);
    // What is left to refund is what was captured.
    const over = await stripe.refunds.create({ payment_intent: pi.id, amount: 1201 }).catch((e) => e);
    assert.equal(over.statusCode, 400);
    await stripe.refunds.create({ payment_intent: pi.id });
    const refund = await next();
    assert.deepEqual(types(refund), ['charge.refunded', 'refund.created']);
    assert.deepEqual([refund[0].object.amount_refunded, refund[0].object.refunded, refund[1].object.amount], [2000, true, 1200]);
  });

  test('decline: charge.failed, then payment_failed back at requires_payment_method with the error', async () => {
    const { stripe, next } = await fresh();
    const err = await stripe.paymentIntents.create({ ...card, payment_method: 'pm_card_chargeDeclinedInsufficientFunds' }).catch((e) => e);
    assert.equal(err.statusCode, 402);
    const ev = await next();
    assert.deepEqual(types(ev), ['payment_intent.created', 'charge.failed', 'payment_intent.payment_failed']);
    assertWellFormed(ev);
    const [, charge, failed] = ev.map((e) => e.object);
    assert.deepEqual([charge.status, charge.paid, charge.captured, charge.failure_code, charge.balance_transaction], ['failed', false, false, 'card_declined', null]);
    assert.deepEqual([failed.status, failed.payment_method, failed.last_payment_error?.decline_code, failed.latest_charge],
      ['requires_payment_method', null, 'insufficient_funds', charge.id]);
  });

  test('3-D Secure: requires_action with its next_action; once authenticated, charge.succeeded and succeeded', async () => {
    const { stripe, next } = await fresh();
    const pi = await stripe.paymentIntents.create({ ...card, payment_method: 'pm_card_authenticationRequired' });
    const first = await next();
    assert.deepEqual(types(first), ['payment_intent.created', 'payment_intent.requires_action']);
    assertWellFormed(first);
    assert.deepEqual([first[1].object.status, first[1].object.next_action?.type, first[1].object.latest_charge], ['requires_action', 'use_stripe_sdk', null]);
    await stripe.paymentIntents.confirm(pi.id);
    const ev = await next();
    assert.deepEqual(types(ev), ['charge.succeeded', 'payment_intent.succeeded']);
    assertWellFormed(ev);
    assert.equal(ev[0].object.payment_method_details.card.three_d_secure.result, 'authenticated');
    assert.equal(ev[1].object.next_action, null);
  });

  test('cancel: an unconfirmed intent emits payment_intent.canceled; an authorized one is refunded first (charge.refunded)', async () => {
    const { stripe, next } = await fresh();
    const open = await stripe.paymentIntents.create({ amount: 900, currency: 'usd' });
    await next();
    await stripe.paymentIntents.cancel(open.id, { cancellation_reason: 'abandoned' });
    const ev = await next();
    assert.deepEqual(types(ev), ['payment_intent.canceled']);
    assert.deepEqual([ev[0].object.status, ev[0].object.cancellation_reason, typeof ev[0].object.canceled_at], ['canceled', 'abandoned', 'number']);
    assertWellFormed(ev);

    const held = await stripe.paymentIntents.create({ ...card, capture_method: 'manual' });
    await next();
    await stripe.paymentIntents.cancel(held.id);
    const voided = await next();
    assert.deepEqual(types(voided), ['charge.refunded', 'payment_intent.canceled']);
    assertWellFormed(voided);
    const [charge, canceled] = voided.map((e) => e.object);
    assert.deepEqual([charge.captured, charge.amount_refunded, charge.refunded, charge.balance_transaction], [false, 2000, true, null]);
    assert.deepEqual([canceled.status, canceled.amount_capturable, canceled.amount_received], ['canceled', 0, 0]);
    assert.deepEqual(charge, JSON.parse(JSON.stringify(await stripe.charges.retrieve(held.latest_charge as string))));
  });

  test('refunds: each is created succeeded (charge.refunded, refund.created), the last one makes the charge refunded; an update emits charge.refund.updated and refund.updated', async () => {
    const { stripe, next } = await fresh();
    const pi = await stripe.paymentIntents.create(card);
    await next();
    const r1 = await stripe.refunds.create({ payment_intent: pi.id, amount: 500 });
    const first = await next();
    assert.deepEqual(types(first), ['charge.refunded', 'refund.created']);
    assertWellFormed(first);
    assert.deepEqual([first[0].object.amount_refunded, first[0].object.refunded], [500, false]);
    assert.deepEqual([first[1].object.id, first[1].object.status, first[1].object.amount], [r1.id, 'succeeded', 500]);
    assert.match(first[1].object.balance_transaction, /^txn_/);
    assert.equal(first[1].object.destination_details.card.reference_status, 'available');

    const r2 = await stripe.refunds.create({ charge: pi.latest_charge as string });
    const second = await next();
    assert.deepEqual(types(second), ['charge.refunded', 'refund.created']);
    assert.deepEqual([second[0].object.amount_refunded, second[0].object.refunded, second[1].object.amount], [2000, true, 1500]);

    await stripe.refunds.update(r2.id, { metadata: { reason: 'late' } });
    const updated = await next();
    assert.deepEqual(types(updated), ['charge.refund.updated', 'refund.updated']);
    for (const e of updated) {
      assert.equal(e.object.id, r2.id);
      assert.deepEqual(e.object.metadata, { reason: 'late' });
      assert.deepEqual(e.previous, { metadata: {} });
    }
    await stripe.refunds.update(r2.id, { metadata: { reason: 'late' } });
    assert.deepEqual(await next(), [], 'an update that changes nothing emits nothing');
  });

  test('customers: created, updated with the previous values of what changed, deleted', async () => {
    const { stripe, next } = await fresh();
    const c = await stripe.customers.create({ email: 'a@example.com', name: 'Ada' });
    await stripe.customers.update(c.id, { name: 'Ada L.', phone: '+15555550100' });
    await stripe.customers.del(c.id);
    const ev = await next();
    assert.deepEqual(types(ev), ['customer.created', 'customer.updated', 'customer.deleted']);
    assertWellFormed(ev);
    assert.deepEqual(ev[1].previous, { name: 'Ada', phone: null });
    assert.deepEqual([ev[1].object.name, ev[1].object.phone], ['Ada L.', '+15555550100']);
    assert.equal(ev[2].object.id, c.id);
  });
});

describe(`payment events delivered in each object's order [${STORE}]`, () => {
  let srv: TestServer;
  const schemas: string[] = [];

  before(async () => {
    const databaseUrl = usingPostgres() ? await createPrivateSchema('ev_seq').then((x) => { schemas.push(x.schema); return x.url; }) : undefined;
    srv = await startTestServer({
      config: { ...(databaseUrl ? { databaseUrl } : {}), webhookScheduleMs: [50, 100, 200], webhookTimeoutMs: 2000, webhookIntervalMs: 25 },
    });
  });
  after(async () => {
    await srv?.close();
    await dropPrivateSchemas(schemas);
  });

  test('a receiver failing every third first attempt still gets each object\'s events in creation order', { timeout: 60_000 }, async () => {
    const delivered: { id: string; type: string; object: string }[] = [];
    const attempts = new Map<string, number>();
    let n = 0;
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const e = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Stripe.Event;
        const attempt = (attempts.get(e.id) ?? 0) + 1;
        attempts.set(e.id, attempt);
        if (attempt === 1 && ++n % 3 === 0) return void res.writeHead(500).end('again');
        if (!delivered.some((d) => d.id === e.id)) delivered.push({ id: e.id, type: e.type, object: (e.data.object as { id: string }).id });
        setTimeout(() => res.writeHead(200).end('ok'), 5);
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const acct = await srv.newAccount();
      const stripe = srv.stripe({ key: acct.key });
      await stripe.webhookEndpoints.create({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`, enabled_events: ['*'] });
      await Promise.all([
        (async () => { const pi = await stripe.paymentIntents.create(card); await stripe.refunds.create({ payment_intent: pi.id, amount: 100 }); await stripe.refunds.create({ payment_intent: pi.id }); })(),
        (async () => { const pi = await stripe.paymentIntents.create({ ...card, capture_method: 'manual' }); await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 700 }); })(),
        (async () => { const pi = await stripe.paymentIntents.create({ ...card, capture_method: 'manual' }); await stripe.paymentIntents.cancel(pi.id); })(),
        (async () => { const pi = await stripe.paymentIntents.create({ ...card, payment_method: 'pm_card_authenticationRequired' }); await stripe.paymentIntents.confirm(pi.id); })(),
        stripe.paymentIntents.create({ ...card, payment_method: 'pm_card_visa_chargeDeclined' }).catch(() => null),
      ]);
      const created: { id: string; type: string; object: string }[] = [];
      for await (const e of stripe.events.list({ limit: 100 })) created.push({ id: e.id, type: e.type, object: (e.data.object as { id: string }).id });
      created.reverse();
      const deadline = Date.now() + 45_000;
      while (delivered.length < created.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(delivered.length, created.length, 'every event delivered once');
      assert.ok(n >= 3, 'some first attempts failed');
      for (const object of new Set(created.map((e) => e.object))) {
        assert.deepEqual(delivered.filter((d) => d.object === object).map((d) => d.type), created.filter((e) => e.object === object).map((e) => e.type),
          `${object}: delivered in creation order`);
      }
      assert.ok(!created.some((e) => e.type === 'payment_intent.processing'), 'no card flow emits processing');
    } finally {
      await new Promise<void>((r) => { receiver.closeAllConnections(); receiver.close(() => r()); });
    }
  });
});
