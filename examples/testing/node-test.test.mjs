// An integration test against Oncepay with node:test: `node --test examples/testing/`.
// startOncepay() starts a server on a free port (in memory) and gives a fresh account's client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startOncepay } from 'oncepay/testing';

let oncepay;
before(async () => { oncepay = await startOncepay(); });
after(() => oncepay.stop());

test('a customer pays by card, once', async () => {
  const { stripe } = oncepay;
  const customer = await stripe.customers.create({ email: 'ada@example.com' });
  const intent = await stripe.paymentIntents.create(
    { amount: 2000, currency: 'usd', customer: customer.id, payment_method: 'pm_card_visa', confirm: true },
    { idempotencyKey: `order-${customer.id}` },
  );
  // (EXPECTED_STATUS lets Oncepay's own suite check that a wrong expectation fails this test.)
  assert.equal(intent.status, process.env.EXPECTED_STATUS ?? 'succeeded');
  assert.equal(intent.customer, customer.id);
});

test('each test can take an account of its own', async () => {
  const { stripe } = await oncepay.newAccount();
  const customers = await stripe.customers.list();
  assert.deepEqual(customers.data, []);
});
