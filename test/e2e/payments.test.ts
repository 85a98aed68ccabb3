/**
 * Payment flows through the official stripe client: statuses and transitions as Stripe
 * documents them, charges, refunds, balance, lists with auto-pagination, and expand.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer, rawRequest } from '../helpers/server.ts';
import { sales } from '../helpers/ledger.ts';

const { server: s, stripe } = useTestServer();

describe('customers', () => {
  test('create, retrieve, update (metadata merge and unset), list, delete', async () => {
    const c = await stripe.customers.create({ email: 'ada@example.com', name: 'Ada', metadata: { tier: 'gold', region: 'eu' } });
    assert.match(c.id, /^cus_/);
    assert.equal(c.object, 'customer');
    assert.equal(c.livemode, false);
    assert.equal(typeof c.created, 'number');
    const got = await stripe.customers.retrieve(c.id);
    assert.equal((got as Stripe.Customer).email, 'ada@example.com');
    const updated = await stripe.customers.update(c.id, { name: 'Ada L.', metadata: { tier: '', plan: 'pro' }, description: 'vip' });
    assert.equal(updated.name, 'Ada L.');
    assert.deepEqual(updated.metadata, { region: 'eu', plan: 'pro' });
    const cleared = await stripe.customers.update(c.id, { description: '' });
    assert.equal(cleared.description, null);
    const byEmail = await stripe.customers.list({ email: 'ada@example.com' });
    assert.deepEqual(byEmail.data.map((x) => x.id), [c.id]);
    const del = await stripe.customers.del(c.id);
    assert.deepEqual({ id: del.id, deleted: del.deleted }, { id: c.id, deleted: true });
    const after = await stripe.customers.retrieve(c.id);
    assert.equal((after as Stripe.DeletedCustomer).deleted, true);
    assert.equal((await stripe.customers.list({ email: 'ada@example.com' })).data.length, 0);
    const err = await stripe.customers.update(c.id, { name: 'x' }).catch((e) => e);
    assert.equal(err.statusCode, 404);
  });
});

describe('payment intents', () => {
  test('create without a payment method -> requires_payment_method; confirm with one -> succeeded with a charge', async () => {
    const customer = await stripe.customers.create({ name: 'Buyer' });
    const pi = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', customer: customer.id, metadata: { order: '42' } });
    assert.match(pi.id, /^pi_/);
    assert.equal(pi.status, 'requires_payment_method');
    assert.match(pi.client_secret!, new RegExp(`^${pi.id}_secret_`));
    assert.deepEqual(pi.payment_method_types, ['card']);
    const confirmed = await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa', expand: ['latest_charge'] });
    assert.equal(confirmed.status, 'succeeded');
    assert.equal(confirmed.amount_received, 2000);
    const charge = confirmed.latest_charge as Stripe.Charge;
    assert.match(charge.id, /^ch_/);
    assert.equal(charge.status, 'succeeded');
    assert.equal(charge.paid, true);
    assert.equal(charge.captured, true);
    assert.equal(charge.amount_captured, 2000);
    assert.equal(charge.customer, customer.id);
    assert.equal(charge.payment_method_details?.card?.last4, '4242');
    assert.match(charge.balance_transaction as string, /^txn_/);
  });

  test('update sets a payment method -> requires_confirmation; confirm then succeeds', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'eur' });
    const up = await stripe.paymentIntents.update(pi.id, { payment_method: 'pm_card_mastercard', amount: 1100, description: 'upd' });
    assert.equal(up.status, 'requires_confirmation');
    assert.equal(up.amount, 1100);
    const done = await stripe.paymentIntents.confirm(pi.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.amount_received, 1100);
  });

  test('confirm without any payment method is refused and changes nothing', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    const err = await stripe.paymentIntents.confirm(pi.id).catch((e) => e);
    assert.equal(err.statusCode, 400);
    assert.equal(err.code, 'payment_intent_unexpected_state');
    assert.equal(err.param, 'payment_method');
    assert.equal((await stripe.paymentIntents.retrieve(pi.id)).status, 'requires_payment_method');
  });

  for (const [pm, code, decline] of [
    ['pm_card_visa_chargeDeclined', 'card_declined', 'generic_decline'],
    ['pm_card_visa_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
    ['pm_card_chargeDeclinedExpiredCard', 'expired_card', 'expired_card'],
    ['pm_card_chargeDeclinedProcessingError', 'processing_error', 'processing_error'],
  ] as const) {
    test(`${pm}: 402 ${code}/${decline}, intent back to requires_payment_method with last_payment_error, then a good card succeeds`, async () => {
      const err = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', payment_method: pm, confirm: true }).catch((e) => e);
      assert.equal(err.type, 'StripeCardError');
      assert.equal(err.statusCode, 402);
      assert.equal(err.code, code);
      assert.equal(err.decline_code, decline);
      const pi = await stripe.paymentIntents.retrieve(err.payment_intent.id);
      assert.equal(pi.status, 'requires_payment_method');
      assert.equal(pi.last_payment_error?.code, code);
      assert.equal(pi.payment_method, null);
      const failed = await stripe.charges.retrieve(pi.latest_charge as string);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.failure_code, code);
      assert.equal(failed.balance_transaction, null);
      const retried = await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
      assert.equal(retried.status, 'succeeded');
      assert.equal(retried.last_payment_error, null);
      const charges = await stripe.charges.list({ payment_intent: pi.id });
      assert.deepEqual(charges.data.map((c) => c.status), ['succeeded', 'failed']);
    });
  }

  test('authentication required: requires_action with next_action, confirming again succeeds', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 900, currency: 'usd', payment_method: 'pm_card_authenticationRequired', confirm: true });
    assert.equal(pi.status, 'requires_action');
    assert.equal(pi.next_action?.type, 'use_stripe_sdk');
    assert.equal(pi.latest_charge, null);
    const done = await stripe.paymentIntents.confirm(pi.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.next_action, null);
    assert.equal(sales(await s.ledger(pi.id), { outcome: 'any' }).length, 1);
  });

  test('manual capture: requires_capture, partial capture of amount_to_capture, over-capture refused', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 5000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, capture_method: 'manual' });
    assert.equal(pi.status, 'requires_capture');
    assert.equal(pi.amount_capturable, 5000);
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    assert.equal(charge.captured, false);
    assert.equal(charge.balance_transaction, null);
    const over = await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 5001 }).catch((e) => e);
    assert.equal(over.statusCode, 400);
    assert.equal(over.param, 'amount_to_capture');
    const captured = await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 3000 });
    assert.equal(captured.status, 'succeeded');
    assert.equal(captured.amount_received, 3000);
    assert.equal(captured.amount_capturable, 0);
    const after = await stripe.charges.retrieve(pi.latest_charge as string);
    assert.equal(after.captured, true);
    assert.equal(after.amount_captured, 3000);
    const again = await stripe.paymentIntents.capture(pi.id).catch((e) => e);
    assert.equal(again.statusCode, 400);
    assert.equal(again.code, 'payment_intent_unexpected_state');
    assert.deepEqual((await s.ledger(pi.id)).map((e) => [e.kind, e.amount]), [['authorization', 5000], ['capture', 3000]]);
  });

  test('cancel: before confirmation and after authorization (voids the hold); canceled intents refuse confirm', async () => {
    const a = await stripe.paymentIntents.create({ amount: 700, currency: 'usd' });
    const ca = await stripe.paymentIntents.cancel(a.id, { cancellation_reason: 'abandoned' });
    assert.equal(ca.status, 'canceled');
    assert.equal(ca.cancellation_reason, 'abandoned');
    assert.equal(typeof ca.canceled_at, 'number');
    const b = await stripe.paymentIntents.create({ amount: 800, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, capture_method: 'manual' });
    const cb = await stripe.paymentIntents.cancel(b.id);
    assert.equal(cb.status, 'canceled');
    assert.equal(cb.amount_capturable, 0);
    assert.deepEqual((await s.ledger(b.id)).map((e) => e.kind), ['authorization', 'void']);
    const err = await stripe.paymentIntents.confirm(a.id, { payment_method: 'pm_card_visa' }).catch((e) => e);
    assert.equal(err.statusCode, 400);
    assert.equal(err.code, 'payment_intent_unexpected_state');
    const succeeded = await stripe.paymentIntents.create({ amount: 900, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const err2 = await stripe.paymentIntents.cancel(succeeded.id).catch((e) => e);
    assert.equal(err2.code, 'payment_intent_unexpected_state');
    const err3 = await stripe.paymentIntents.update(succeeded.id, { amount: 1 }).catch((e) => e);
    assert.equal(err3.code, 'payment_intent_unexpected_state');
  });

  test('an unknown customer on create names the parameter', async () => {
    const err = await stripe.paymentIntents.create({ amount: 100, currency: 'usd', customer: 'cus_nope' }).catch((e) => e);
    assert.equal(err.statusCode, 400);
    assert.equal(err.code, 'resource_missing');
    assert.equal(err.param, 'customer');
  });

  test('zero-decimal currency: JPY amounts are whole yen', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 500, currency: 'jpy', payment_method: 'pm_card_visa', confirm: true });
    assert.equal(pi.status, 'succeeded');
    assert.equal(pi.currency, 'jpy');
    assert.equal(pi.amount_received, 500);
  });
});

describe('refunds and balance', () => {
  test('several partial refunds, never more than captured; balance transactions reconcile', async () => {
    const fresh = await s.newAccount();
    const st = s.stripe({ key: fresh.key });
    const pi = await st.paymentIntents.create({ amount: 10000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const r1 = await st.refunds.create({ payment_intent: pi.id, amount: 2500, reason: 'requested_by_customer', metadata: { ticket: 't1' } });
    assert.match(r1.id, /^re_/);
    assert.equal(r1.status, 'succeeded');
    assert.equal(r1.amount, 2500);
    assert.equal(r1.charge, pi.latest_charge);
    assert.equal(r1.payment_intent, pi.id);
    const r2 = await st.refunds.create({ charge: pi.latest_charge as string, amount: 2500 });
    const over = await st.refunds.create({ payment_intent: pi.id, amount: 5001 }).catch((e) => e);
    assert.equal(over.statusCode, 400);
    assert.equal(over.code, 'amount_too_large');
    assert.equal(over.param, 'amount');
    const rest = await st.refunds.create({ payment_intent: pi.id });
    assert.equal(rest.amount, 5000);
    const charge = await st.charges.retrieve(pi.latest_charge as string);
    assert.equal(charge.amount_refunded, 10000);
    assert.equal(charge.refunded, true);
    const none = await st.refunds.create({ payment_intent: pi.id, amount: 1 }).catch((e) => e);
    assert.equal(none.code, 'charge_already_refunded');
    const listed = await st.refunds.list({ payment_intent: pi.id });
    assert.deepEqual(listed.data.map((r) => r.id), [rest.id, r2.id, r1.id]);
    const updated = await st.refunds.update(r1.id, { metadata: { ticket: 't2' } });
    assert.deepEqual(updated.metadata, { ticket: 't2' });

    const txns = await st.balanceTransactions.list({ limit: 100 });
    assert.deepEqual(txns.data.map((t) => [t.type, t.amount]).sort(), [['charge', 10000], ['refund', -2500], ['refund', -2500], ['refund', -5000]].sort());
    const refundTxn = await st.balanceTransactions.retrieve(r1.balance_transaction as string);
    assert.equal(refundTxn.source, r1.id);
    const balance = await st.balance.retrieve();
    assert.deepEqual(balance.available, [{ amount: 0, currency: 'usd', source_types: { card: 0 } }]);
    const ledgerRefunds = (await fresh && (await s.oncepay.processor.ledger(fresh.accountId, pi.id))).filter((e) => e.kind === 'refund');
    assert.equal(ledgerRefunds.reduce((sum, e) => sum + e.amount, 0), 10000);
  });

  test('refunding an uncaptured or failed payment is refused', async () => {
    const held = await stripe.paymentIntents.create({ amount: 600, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, capture_method: 'manual' });
    const e1 = await stripe.refunds.create({ payment_intent: held.id }).catch((e) => e);
    assert.equal(e1.statusCode, 400);
    assert.equal(e1.param, 'payment_intent');
    const e2 = await stripe.refunds.create({ charge: held.latest_charge as string }).catch((e) => e);
    assert.equal(e2.statusCode, 400);
    assert.equal(e2.code, 'charge_not_refundable');
    const e3 = await stripe.refunds.create({ charge: 'ch_missing' }).catch((e) => e);
    assert.equal(e3.code, 'resource_missing');
    assert.equal(e3.param, 'charge');
  });
});

describe('lists and expand', () => {
  test('pagination with limit, starting_after, ending_before and has_more; auto-pagination sees every item once', async () => {
    const acct = await s.newAccount();
    const st = s.stripe({ key: acct.key });
    const customer = await st.customers.create({});
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push((await st.paymentIntents.create({ amount: 100 + i, currency: 'usd', customer: customer.id })).id);
    const newestFirst = [...ids].reverse();
    const page1 = await st.paymentIntents.list({ limit: 10 });
    assert.equal(page1.has_more, true);
    assert.equal(page1.url, '/v1/payment_intents');
    assert.deepEqual(page1.data.map((p) => p.id), newestFirst.slice(0, 10));
    const page2 = await st.paymentIntents.list({ limit: 10, starting_after: page1.data[9].id });
    assert.deepEqual(page2.data.map((p) => p.id), newestFirst.slice(10, 20));
    const back = await st.paymentIntents.list({ limit: 5, ending_before: page2.data[0].id });
    assert.deepEqual(back.data.map((p) => p.id), newestFirst.slice(5, 10));
    assert.equal(back.has_more, true);
    const all: string[] = [];
    for await (const p of st.paymentIntents.list({ limit: 7 })) all.push(p.id);
    assert.deepEqual(all, newestFirst);
    const byCustomer = await st.paymentIntents.list({ customer: customer.id, limit: 100 });
    assert.equal(byCustomer.data.length, 25);
    const bad = await st.paymentIntents.list({ starting_after: 'pi_missing' }).catch((e) => e);
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.param, 'starting_after');
    const created = page1.data[0].created;
    const range = await st.paymentIntents.list({ created: { gte: created, lte: created }, limit: 100 });
    assert.ok(range.data.every((p) => p.created === created));
  });

  test('expand latest_charge, customer, payment_intent and nested references; lists expand data.*', async () => {
    const customer = await stripe.customers.create({ email: 'e@example.com' });
    const pi = await stripe.paymentIntents.create({ amount: 1300, currency: 'usd', customer: customer.id, payment_method: 'pm_card_visa', confirm: true });
    const expanded = await stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge.balance_transaction', 'customer'] });
    assert.equal((expanded.customer as Stripe.Customer).email, 'e@example.com');
    const charge = expanded.latest_charge as Stripe.Charge;
    assert.equal(charge.object, 'charge');
    assert.equal((charge.balance_transaction as Stripe.BalanceTransaction).amount, 1300);
    const ch = await stripe.charges.retrieve(pi.latest_charge as string, { expand: ['payment_intent'] });
    assert.equal((ch.payment_intent as Stripe.PaymentIntent).id, pi.id);
    const list = await stripe.charges.list({ payment_intent: pi.id, expand: ['data.customer'] });
    assert.equal((list.data[0].customer as Stripe.Customer).id, customer.id);
    const bad = await stripe.paymentIntents.retrieve(pi.id, { expand: ['amount'] }).catch((e) => e);
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.param, 'expand');
  });

  test('retrieving a missing object is 404 resource_missing; every response carries a Request-Id', async () => {
    const r = await rawRequest(s, 'GET', '/v1/payment_intents/pi_nope');
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'resource_missing');
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.match(r.headers.get('request-id')!, /^req_/);
  });
});
