/**
 * The legacy Charges API through the official stripe client: a charge from a token, a customer's
 * card or its default source; declines saved as failed charges; capture=false and capture
 * (partial, twice); update; refunds by charge; exactly once (a retried key, concurrent identical
 * requests) with the acquirer's ledger as the truth; every refusal naming its param.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { sales } from '../helpers/ledger.ts';

const { server: s, stripe } = useTestServer();

async function eventsOf(type: string, id: string): Promise<Stripe.Event[]> {
  const list = await stripe.events.list({ type, limit: 100 });
  return list.data.filter((e) => (e.data.object as { id: string }).id === id);
}

const fail = (p: Promise<unknown>) => p.then(() => assert.fail('expected an error'), (e: Stripe.errors.StripeError) => e);

describe('legacy charges', () => {
  test('a charge from tok_visa: captured, its card as source, a balance transaction, charge.succeeded, one sale', async () => {
    const ch = await stripe.charges.create({ amount: 1500, currency: 'usd', source: 'tok_visa', description: 'Legacy', metadata: { order: '7' } });
    assert.match(ch.id, /^ch_/);
    assert.equal(ch.status, 'succeeded');
    assert.equal(ch.paid, true);
    assert.equal(ch.captured, true);
    assert.equal(ch.amount_captured, 1500);
    assert.equal(ch.payment_intent, null);
    assert.equal(ch.description, 'Legacy');
    assert.deepEqual(ch.metadata, { order: '7' });
    const card = ch.source as Stripe.Card;
    assert.equal(card.object, 'card');
    assert.match(card.id, /^card_/);
    assert.equal(card.brand, 'Visa');
    assert.equal(card.last4, '4242');
    assert.equal(ch.payment_method, card.id);
    assert.equal(ch.payment_method_details?.card?.brand, 'visa');
    const txn = await stripe.balanceTransactions.retrieve(ch.balance_transaction as string);
    assert.equal(txn.amount, 1500);
    assert.equal(txn.source, ch.id);
    assert.equal((await eventsOf('charge.succeeded', ch.id)).length, 1);
    assert.equal(sales(await s.ledger(ch.id)).length, 1);
    const got = await stripe.charges.retrieve(ch.id);
    assert.equal(got.amount, 1500);
    assert.equal((got.source as Stripe.Card).id, card.id);
  });

  test('a declined card: 402 card_error naming the failed charge, which is saved; charge.failed; no sale', async () => {
    const err = await fail(stripe.charges.create({ amount: 900, currency: 'usd', source: 'tok_chargeDeclinedInsufficientFunds' }));
    assert.equal(err.statusCode, 402);
    assert.equal(err.type, 'StripeCardError');
    assert.equal(err.code, 'card_declined');
    assert.equal(err.decline_code, 'insufficient_funds');
    const chargeId = (err.raw as { charge: string }).charge;
    assert.match(chargeId, /^ch_/);
    const ch = await stripe.charges.retrieve(chargeId);
    assert.equal(ch.status, 'failed');
    assert.equal(ch.paid, false);
    assert.equal(ch.failure_code, 'card_declined');
    assert.equal(ch.balance_transaction, null);
    assert.equal((await eventsOf('charge.failed', chargeId)).length, 1);
    assert.equal(sales(await s.ledger(chargeId)).length, 0);
  });

  test('a card that requires 3-D Secure cannot authenticate on a legacy charge: declined authentication_required', async () => {
    const err = await fail(stripe.charges.create({ amount: 900, currency: 'usd', source: 'tok_threeDSecure2Required' }));
    assert.equal(err.statusCode, 402);
    assert.equal(err.code, 'card_declined');
    assert.equal(err.decline_code, 'authentication_required');
    const ch = await stripe.charges.retrieve((err.raw as { charge: string }).charge);
    assert.equal(ch.status, 'failed');
  });

  test('capture=false holds; a partial capture releases the rest; a second capture is charge_already_captured', async () => {
    const held = await stripe.charges.create({ amount: 5000, currency: 'eur', source: 'tok_mastercard', capture: false });
    assert.equal(held.status, 'succeeded');
    assert.equal(held.captured, false);
    assert.equal(held.balance_transaction, null);
    assert.equal((held.source as Stripe.Card).brand, 'MasterCard');
    const captured = await stripe.charges.capture(held.id, { amount: 3000, receipt_email: 'a@example.com' });
    assert.equal(captured.captured, true);
    assert.equal(captured.amount_captured, 3000);
    assert.equal(captured.amount_refunded, 2000);
    assert.equal(captured.receipt_email, 'a@example.com');
    assert.equal((await stripe.balanceTransactions.retrieve(captured.balance_transaction as string)).amount, 3000);
    assert.equal((await eventsOf('charge.captured', held.id)).length, 1);
    const again = await fail(stripe.charges.capture(held.id));
    assert.equal(again.statusCode, 400);
    assert.equal(again.code, 'charge_already_captured');
    const ledger = await s.ledger(held.id);
    assert.deepEqual(ledger.map((e) => e.kind).sort(), ['authorization', 'capture']);
    const tooMuch = await stripe.charges.create({ amount: 100, currency: 'usd', source: 'tok_visa', capture: false });
    const big = await fail(stripe.charges.capture(tooMuch.id, { amount: 101 }));
    assert.equal(big.param, 'amount');
    const missing = await fail(stripe.charges.capture('ch_missing'));
    assert.equal(missing.statusCode, 404);
  });

  test('update: description, metadata, receipt_email, fraud_details, shipping; charge.updated with previous attributes', async () => {
    const ch = await stripe.charges.create({ amount: 700, currency: 'usd', source: 'tok_amex' });
    assert.equal((ch.source as Stripe.Card).brand, 'American Express');
    const up = await stripe.charges.update(ch.id, {
      description: 'Updated', metadata: { k: 'v' }, receipt_email: 'r@example.com', fraud_details: { user_report: 'safe' },
      shipping: { name: 'Ada', address: { line1: '1 Main St', city: 'Paris', country: 'FR' } },
    });
    assert.equal(up.description, 'Updated');
    assert.deepEqual(up.metadata, { k: 'v' });
    assert.equal(up.receipt_email, 'r@example.com');
    assert.deepEqual(up.fraud_details, { user_report: 'safe' });
    assert.equal(up.shipping?.name, 'Ada');
    const [ev] = await eventsOf('charge.updated', ch.id);
    assert.ok(ev);
    assert.equal((ev.data.previous_attributes as { description: string | null }).description, null);
  });

  test('refunds by charge: partial, the rest, then more than left is refused', async () => {
    const ch = await stripe.charges.create({ amount: 1000, currency: 'usd', source: 'tok_visa' });
    const r1 = await stripe.refunds.create({ charge: ch.id, amount: 400 });
    assert.equal(r1.status, 'succeeded');
    assert.equal(r1.payment_intent, null);
    const tooMuch = await fail(stripe.refunds.create({ charge: ch.id, amount: 601 }));
    assert.equal(tooMuch.code, 'amount_too_large');
    const r2 = await stripe.refunds.create({ charge: ch.id });
    assert.equal(r2.amount, 600);
    const after = await stripe.charges.retrieve(ch.id);
    assert.equal(after.amount_refunded, 1000);
    assert.equal(after.refunded, true);
    const ledger = await s.ledger(ch.id);
    assert.equal(ledger.filter((e) => e.kind === 'refund').length, 2);
  });

  test('refunding an uncaptured charge releases its authorization: whole only, no balance transaction, then no capture', async () => {
    const held = await stripe.charges.create({ amount: 1800, currency: 'usd', source: 'tok_visa', capture: false });
    const partial = await fail(stripe.refunds.create({ charge: held.id, amount: 100 }));
    assert.equal(partial.param, 'amount');
    const refund = await stripe.refunds.create({ charge: held.id });
    assert.equal(refund.status, 'succeeded');
    assert.equal(refund.amount, 1800);
    assert.equal(refund.balance_transaction, null);
    const after = await stripe.charges.retrieve(held.id);
    assert.equal(after.captured, false);
    assert.equal(after.refunded, true);
    assert.equal(after.amount_refunded, 1800);
    const ledger = await s.ledger(held.id);
    assert.deepEqual(ledger.map((e) => e.kind).sort(), ['authorization', 'void']);
    const capture = await fail(stripe.charges.capture(held.id));
    assert.equal(capture.code, 'charge_already_refunded');
  });

  test('a customer\'s default source is charged when no source is given; its card by id; another customer\'s card is refused', async () => {
    const cus = await stripe.customers.create({ source: 'tok_visa' });
    assert.match(cus.default_source as string, /^card_/);
    const ch = await stripe.charges.create({ amount: 2500, currency: 'usd', customer: cus.id });
    assert.equal(ch.customer, cus.id);
    assert.equal((ch.source as Stripe.Card).id, cus.default_source);
    assert.equal(ch.payment_method, cus.default_source);
    const byId = await stripe.charges.create({ amount: 300, currency: 'usd', customer: cus.id, source: cus.default_source as string });
    assert.equal(byId.status, 'succeeded');
    const other = await stripe.customers.create({});
    const err = await fail(stripe.charges.create({ amount: 300, currency: 'usd', customer: other.id, source: cus.default_source as string }));
    assert.equal(err.statusCode, 400);
    assert.equal(err.param, 'source');
    const noCard = await fail(stripe.charges.create({ amount: 300, currency: 'usd', customer: other.id }));
    assert.equal(noCard.code, 'missing');
    const noCustomer = await fail(stripe.charges.create({ amount: 300, currency: 'usd', source: cus.default_source as string }));
    assert.equal(noCustomer.param, 'customer');
    const list = await stripe.charges.list({ customer: cus.id });
    assert.deepEqual(list.data.map((c) => c.id).sort(), [ch.id, byId.id].sort());
  });

  test('payment methods as the source: pm_card_visa, and a saved one only for its customer', async () => {
    const ch = await stripe.charges.create({ amount: 400, currency: 'usd', source: 'pm_card_visa' });
    assert.equal(ch.status, 'succeeded');
    assert.equal(ch.payment_method, 'pm_card_visa');
    assert.equal(ch.source, null);
  });

  test('refusals: no source nor customer, a made token with a bad number, an unknown token, a used token, Connect params', async () => {
    const none = await fail(stripe.charges.create({ amount: 300, currency: 'usd' }));
    assert.equal(none.statusCode, 400);
    assert.equal(none.param, 'source');
    const bad = await fail(stripe.tokens.create({ card: { number: '4242424242424241', exp_month: '12', exp_year: '2040', cvc: '123' } }));
    assert.equal(bad.statusCode, 402);
    assert.equal(bad.code, 'incorrect_number');
    assert.equal(bad.param, 'card[number]');
    const expired = await fail(stripe.tokens.create({ card: { number: '4242424242424242', exp_month: '13', exp_year: '2040' } }));
    assert.equal(expired.code, 'invalid_expiry_month');
    assert.equal(expired.param, 'card[exp_month]');
    const unknown = await fail(stripe.charges.create({ amount: 300, currency: 'usd', source: 'tok_doesNotExist' }));
    assert.equal(unknown.code, 'resource_missing');
    assert.equal(unknown.param, 'source');
    const tok = await stripe.tokens.create({ card: { number: '4242424242424242', exp_month: '12', exp_year: '2040', cvc: '123' } });
    await stripe.charges.create({ amount: 300, currency: 'usd', source: tok.id });
    const used = await fail(stripe.charges.create({ amount: 300, currency: 'usd', source: tok.id }));
    assert.equal(used.code, 'token_already_used');
    const fee = await fail(stripe.charges.create({ amount: 300, currency: 'usd', source: 'tok_visa', application_fee_amount: 10 }));
    assert.equal(fee.code, 'parameter_unsupported');
    assert.equal(fee.param, 'application_fee_amount');
  });
});

describe('legacy charges exactly once', () => {
  test('concurrent captures with different keys: one capture at the acquirer, one balance transaction, the others charge_already_captured', async () => {
    const held = await stripe.charges.create({ amount: 2600, currency: 'usd', source: 'tok_visa', capture: false });
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => stripe.charges.capture(held.id)));
    const ok = results.filter((r) => r.status === 'fulfilled');
    assert.equal(ok.length, 1);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as Stripe.errors.StripeError).code, 'charge_already_captured');
    const ledger = await s.ledger(held.id);
    assert.deepEqual(ledger.map((e) => e.kind).sort(), ['authorization', 'capture']);
    const txns = await stripe.balanceTransactions.list({ source: held.id });
    assert.equal(txns.data.length, 1);
    assert.equal((await eventsOf('charge.captured', held.id)).length, 1);
  });
  test('a retried key answers the first charge; the acquirer charged once', async () => {
    const key = `legacy-${Date.now()}`;
    const a = await stripe.charges.create({ amount: 1234, currency: 'usd', source: 'tok_visa' }, { idempotencyKey: key });
    const b = await stripe.charges.create({ amount: 1234, currency: 'usd', source: 'tok_visa' }, { idempotencyKey: key });
    assert.equal(a.id, b.id);
    assert.equal(sales(await s.ledger(a.id)).length, 1);
  });

  test('concurrent identical requests with one key: one charge, one sale', async () => {
    const key = `legacy-concurrent-${Date.now()}`;
    const results = await Promise.allSettled(Array.from({ length: 5 }, () =>
      stripe.charges.create({ amount: 4321, currency: 'usd', source: 'tok_visa' }, { idempotencyKey: key })));
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    assert.ok(ok.length >= 1);
    assert.equal(new Set(ok.map((c) => c.id)).size, 1);
    const list = await stripe.charges.list({ limit: 100 });
    assert.equal(list.data.filter((c) => c.amount === 4321).length, 1);
    assert.equal(sales(await s.ledger(ok[0].id)).length, 1);
  });
});
