// An integration test against Oncepay with vitest: `npx vitest run --root examples/testing/vitest`.
// startOncepay() starts a server on a free port (in memory) and gives a fresh account's client.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startOncepay, type RunningOncepay } from 'oncepay/testing';

let oncepay: RunningOncepay;
beforeAll(async () => { oncepay = await startOncepay({ process: 'child' }); });
afterAll(() => oncepay.stop());

test('a customer pays by card, once', async () => {
  const { stripe } = oncepay;
  const customer = await stripe.customers.create({ email: 'ada@example.com' });
  const intent = await stripe.paymentIntents.create(
    { amount: 2000, currency: 'usd', customer: customer.id, payment_method: 'pm_card_visa', confirm: true },
    { idempotencyKey: `order-${customer.id}` },
  );
  // (EXPECTED_STATUS lets Oncepay's own suite check that a wrong expectation fails this test.)
  expect(intent.status).toBe(process.env.EXPECTED_STATUS ?? 'succeeded');
  expect(intent.customer).toBe(customer.id);
});

test('each test can take an account of its own', async () => {
  const { stripe } = await oncepay.newAccount();
  const customers = await stripe.customers.list();
  expect(customers.data).toEqual([]);
});
