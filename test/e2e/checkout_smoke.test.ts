process.env.ONCEPAY_STRIPE_TYPES = 'enforce';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';

const { stripe } = useTestServer();
const complete = (id: string, pm: string) => stripe.rawRequest('POST', `/v1/test_helpers/checkout/sessions/${id}/complete`, { payment_method: pm, email: 'a@example.com', name: 'Ann' }) as unknown as Promise<Stripe.Checkout.Session>;

test('smoke: payment mode', async () => {
  const s = await stripe.checkout.sessions.create({
    mode: 'payment', success_url: 'https://example.com/ok?session_id={CHECKOUT_SESSION_ID}',
    line_items: [{ price_data: { currency: 'usd', unit_amount: 1500, product_data: { name: 'T-shirt' } }, quantity: 2 }],
  });
  assert.equal(s.amount_total, 3000);
  assert.match(s.url!, /\/c\/pay\//);
  const done = await complete(s.id, 'pm_card_visa');
  console.log(JSON.stringify(done).slice(0, 400));
  const got = await stripe.checkout.sessions.retrieve(s.id, { expand: ['payment_intent', 'line_items'] });
  assert.equal(got.status, 'complete');
  assert.equal((got.payment_intent as Stripe.PaymentIntent).status, 'succeeded');
  assert.equal(got.line_items!.data.length, 1);
});

test('smoke: subscription mode + setup', async () => {
  const price = await stripe.prices.create({ currency: 'usd', unit_amount: 900, recurring: { interval: 'month' }, product_data: { name: 'Pro' } });
  const s = await stripe.checkout.sessions.create({ mode: 'subscription', success_url: 'https://example.com/ok', line_items: [{ price: price.id, quantity: 1 }] });
  const done = await complete(s.id, 'pm_card_visa');
  assert.equal(done.status, 'complete');
  const sub = await stripe.subscriptions.retrieve(done.subscription as string);
  assert.equal(sub.status, 'active');
  const st = await stripe.checkout.sessions.create({ mode: 'setup', currency: 'usd', success_url: 'https://example.com/ok' });
  const d2 = await complete(st.id, 'pm_card_visa');
  assert.equal(d2.status, 'complete');
});

test('smoke: decline then success, 3ds', async () => {
  const s = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [{ price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'X' } }, quantity: 1 }] });
  await assert.rejects(complete(s.id, 'pm_card_chargeDeclined'), (e: Stripe.errors.StripeError) => e.code === 'card_declined' && (e.raw as any).payment_intent?.status === 'requires_payment_method');
  const ok = await complete(s.id, 'pm_card_visa');
  assert.equal(ok.status, 'complete');
  const t = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [{ price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'X' } }, quantity: 1 }] });
  const waiting = await complete(t.id, 'pm_card_threeDSecure2Required');
  assert.equal(waiting.status, 'open');
  const authed = await stripe.rawRequest('POST', `/v1/test_helpers/checkout/sessions/${t.id}/authenticate`, { outcome: 'complete' }) as unknown as Stripe.Checkout.Session;
  assert.equal(authed.status, 'complete');
});
