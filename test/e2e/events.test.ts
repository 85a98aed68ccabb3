/**
 * Events: every state change emits its events in the same transaction, with Stripe's event
 * shape; replayed requests emit nothing; the events API lists and filters them.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';

const { server: s } = useTestServer({ config: { webhookIntervalMs: 0 } });

/** A fresh account per test, so its event stream holds exactly what the test did. */
async function fresh(): Promise<Stripe> {
  const acct = await s.newAccount();
  return s.stripe({ key: acct.key });
}

async function types(stripe: Stripe): Promise<string[]> {
  const all: string[] = [];
  for await (const e of stripe.events.list({ limit: 100 })) all.push(e.type);
  return all.reverse(); // oldest first
}

describe('events per flow', () => {
  test('create+confirm emits created, charge.succeeded, succeeded (a card never shows processing); a replay emits nothing', async () => {
    const stripe = await fresh();
    const params = { amount: 1200, currency: 'usd', payment_method: 'pm_card_visa', confirm: true } as const;
    const pi = await stripe.paymentIntents.create(params, { idempotencyKey: 'flow-1' });
    const expected = ['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded'];
    assert.deepEqual(await types(stripe), expected);
    const replay = await stripe.paymentIntents.create(params, { idempotencyKey: 'flow-1' });
    assert.equal(replay.lastResponse.headers['idempotent-replayed'], 'true');
    assert.equal((await types(stripe)).length, 3);

    const succeeded = (await stripe.events.list({ type: 'payment_intent.succeeded' })).data[0];
    assert.match(succeeded.id, /^evt_/);
    assert.equal(succeeded.object, 'event');
    assert.equal(succeeded.livemode, false);
    assert.equal(typeof succeeded.api_version, 'string');
    assert.equal(typeof succeeded.created, 'number');
    assert.equal((succeeded.data.object as Stripe.PaymentIntent).id, pi.id);
    assert.equal((succeeded.data.object as Stripe.PaymentIntent).status, 'succeeded');
    assert.equal(succeeded.data.previous_attributes, undefined, 'Stripe includes previous_attributes only on *.updated events');
    assert.equal(succeeded.request?.idempotency_key, 'flow-1');
    assert.match(succeeded.request?.id ?? '', /^req_/);
    assert.equal(succeeded.pending_webhooks, 0);
    const byId = await stripe.events.retrieve(succeeded.id);
    assert.deepEqual(JSON.parse(JSON.stringify(byId)), JSON.parse(JSON.stringify(succeeded)));
  });

  test('events keep the object as it was at that moment', async () => {
    const stripe = await fresh();
    await stripe.paymentIntents.create({ amount: 1300, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const created = (await stripe.events.list({ type: 'payment_intent.created' })).data[0];
    assert.equal((created.data.object as Stripe.PaymentIntent).status, 'requires_payment_method');
    assert.equal((created.data.object as Stripe.PaymentIntent).payment_method, null);
    const succeeded = (await stripe.events.list({ type: 'payment_intent.succeeded' })).data[0];
    assert.equal((succeeded.data.object as Stripe.PaymentIntent).payment_method, 'pm_card_visa');
  });

  test('a decline emits charge.failed and payment_intent.payment_failed', async () => {
    const stripe = await fresh();
    await stripe.paymentIntents.create({ amount: 1400, currency: 'usd', payment_method: 'pm_card_visa_chargeDeclined', confirm: true }).catch(() => {});
    assert.deepEqual(await types(stripe), ['payment_intent.created', 'charge.failed', 'payment_intent.payment_failed']);
    const failed = (await stripe.events.list({ type: 'payment_intent.payment_failed' })).data[0];
    assert.equal((failed.data.object as Stripe.PaymentIntent).last_payment_error?.decline_code, 'generic_decline');
  });

  test('requires_action, then authentication completes', async () => {
    const stripe = await fresh();
    const pi = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', payment_method: 'pm_card_authenticationRequired', confirm: true });
    await stripe.paymentIntents.confirm(pi.id);
    const all = await types(stripe);
    // The first confirmation stops at requires_action, the second succeeds; neither shows processing.
    assert.deepEqual(all, ['payment_intent.created', 'payment_intent.requires_action', 'charge.succeeded', 'payment_intent.succeeded']);
  });

  test('manual capture emits amount_capturable_updated, then charge.captured and succeeded; cancel emits canceled', async () => {
    const stripe = await fresh();
    const held = await stripe.paymentIntents.create({ amount: 1600, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, capture_method: 'manual' });
    await stripe.paymentIntents.capture(held.id, { amount_to_capture: 1000 });
    const other = await stripe.paymentIntents.create({ amount: 1700, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, capture_method: 'manual' });
    await stripe.paymentIntents.cancel(other.id);
    const all = await types(stripe);
    const count = (t: string) => all.filter((x) => x === t).length;
    assert.equal(count('payment_intent.amount_capturable_updated'), 2);
    assert.equal(count('charge.succeeded'), 2);
    assert.equal(count('charge.captured'), 1);
    assert.equal(count('payment_intent.succeeded'), 1);
    assert.equal(count('payment_intent.canceled'), 1);
    assert.equal(count('charge.refunded'), 1, 'canceling an authorized intent refunds its amount_capturable');
    assert.equal(all.length, 2 + 2 + 2 + 1 + 1 + 1 + 1);
    const captured = (await stripe.events.list({ type: 'charge.captured' })).data[0];
    assert.equal((captured.data.object as Stripe.Charge).amount_captured, 1000);
    assert.equal((captured.data.object as Stripe.Charge).amount_refunded, 600, 'the uncaptured rest is released');
    assert.equal(captured.data.previous_attributes, undefined);
  });

  test('refunds emit charge.refunded and refund.created (succeeded at once); an update emits charge.refund.updated and refund.updated', async () => {
    const stripe = await fresh();
    const pi = await stripe.paymentIntents.create({ amount: 1800, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 500 }, { idempotencyKey: 'refund-once' });
    await stripe.refunds.create({ payment_intent: pi.id, amount: 500 }, { idempotencyKey: 'refund-once' });
    await stripe.refunds.update(refund.id, { metadata: { k: 'v' } });
    const all = await types(stripe);
    assert.deepEqual(all.slice(3), ['charge.refunded', 'refund.created', 'charge.refund.updated', 'refund.updated']);
    const created = (await stripe.events.list({ type: 'refund.created' })).data[0];
    assert.equal((created.data.object as Stripe.Refund).id, refund.id);
    assert.equal((created.data.object as Stripe.Refund).status, 'succeeded');
    assert.match((created.data.object as Stripe.Refund).balance_transaction as string, /^txn_/);
    const updated = (await stripe.events.list({ type: 'refund.updated' })).data[0];
    assert.deepEqual(updated.data.previous_attributes, { metadata: {} });
    const refunded = (await stripe.events.list({ type: 'charge.refunded' })).data[0];
    assert.equal((refunded.data.object as Stripe.Charge).amount_refunded, 500);
    assert.equal(refunded.data.previous_attributes, undefined);
  });

  test('customers: created, updated with previous_attributes (no event when nothing changed), deleted', async () => {
    const stripe = await fresh();
    const c = await stripe.customers.create({ email: 'a@example.com' });
    await stripe.customers.update(c.id, { email: 'b@example.com', metadata: { k: 'v' } });
    await stripe.customers.update(c.id, { email: 'b@example.com' });
    await stripe.customers.del(c.id);
    assert.deepEqual(await types(stripe), ['customer.created', 'customer.updated', 'customer.deleted']);
    const updated = (await stripe.events.list({ type: 'customer.updated' })).data[0];
    assert.deepEqual(updated.data.previous_attributes, { email: 'a@example.com', metadata: {} });
  });

  test('a request without Idempotency-Key records a null idempotency_key in its events', async () => {
    const acct = await s.newAccount();
    const res = await fetch(`${s.url}/v1/customers`, { method: 'POST', headers: { authorization: `Bearer ${acct.key}` } });
    assert.equal(res.status, 200);
    const stripe = s.stripe({ key: acct.key });
    const e = (await stripe.events.list()).data[0];
    assert.equal(e.request?.idempotency_key, null);
    assert.equal(e.request?.id, res.headers.get('request-id'));
  });
});

describe('events API', () => {
  test('filters: type, wildcard type, types[], created range; pagination; other accounts see nothing', async () => {
    const stripe = await fresh();
    await stripe.customers.create({});
    await stripe.paymentIntents.create({ amount: 1900, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const wildcard = await stripe.events.list({ type: 'payment_intent.*' });
    assert.deepEqual(wildcard.data.map((e) => e.type).sort(), ['payment_intent.created', 'payment_intent.succeeded']);
    const several = await stripe.events.list({ types: ['customer.created', 'charge.succeeded'] });
    assert.deepEqual(several.data.map((e) => e.type).sort(), ['charge.succeeded', 'customer.created']);
    const page = await stripe.events.list({ limit: 2 });
    assert.equal(page.has_more, true);
    const rest = await stripe.events.list({ limit: 10, starting_after: page.data[1].id });
    assert.equal(page.data.length + rest.data.length, 4);
    const now = Math.floor(Date.now() / 1000);
    assert.equal((await stripe.events.list({ created: { gt: now + 100 } })).data.length, 0);
    assert.equal((await stripe.events.list({ created: { gte: now - 100 }, limit: 100 })).data.length, 4);
    const both = await stripe.events.list({ type: 'x', types: ['y'] } as any).catch((e) => e);
    assert.equal(both.statusCode, 400);
    const other = await fresh();
    assert.equal((await other.events.list()).data.length, 0);
    const missing = await other.events.retrieve(page.data[0].id).catch((e) => e);
    assert.equal(missing.statusCode, 404);
  });
});
