/**
 * Restricted keys (rk_test_) and publishable keys (pk_test_) through the official client, as
 * Stripe answers them: a restricted key lacking a permission gets 403 naming the permission it
 * needs (rak_<resource>_<read|write>), before anything runs — nothing is created and the
 * Idempotency-Key stays unused; a publishable key may only retrieve and confirm a payment
 * intent with its client_secret, anything else is 401.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useTestServer } from '../helpers/server.ts';
import { assertStripeError, form, send, stripeError } from '../helpers/stripe_errors.ts';
import { uniqueKey } from '../helpers/unique.ts';
import { createRestrictedKey, publishableKeyFor } from '../../src/accounts/keys.ts';
import type { Permissions } from '../../src/accounts/permissions.ts';

const { server, stripe } = useTestServer();
const restricted = async (permissions: Permissions) => (await createRestrictedKey(server.oncepay.db, server.accountId, permissions)).key;

describe('restricted keys', () => {
  test('read-only customers: lists and retrieves, cannot create (403 rak_customer_write); nothing created, the key stays unused', async () => {
    const existing = await stripe.customers.create({ email: 'ro@example.com' });
    const rk = server.stripe({ key: await restricted({ customers: 'read' }) });
    assert.ok((await rk.customers.list({ limit: 100 })).data.some((c) => c.id === existing.id));
    assert.equal((await rk.customers.retrieve(existing.id)).id, existing.id);
    const before = (await stripe.customers.list({ limit: 100 })).data.length;
    const idempotencyKey = uniqueKey('rk-refused');
    const err = await stripeError(rk.customers.create({ email: 'no@example.com' }, { idempotencyKey }));
    assert.equal(err.type, 'StripePermissionError');
    assert.equal(err.statusCode, 403);
    assert.equal(err.rawType, 'invalid_request_error');
    assert.match(err.message, /'rak_customer_write'/);
    assert.match(err.message, new RegExp(server.accountId));
    assert.equal((await stripe.customers.list({ limit: 100 })).data.length, before, 'nothing created');
    assert.equal((await send(server, 'GET', `/v1/idempotency_keys/${idempotencyKey}`)).status, 404, 'the key was never used');
    const created = await stripe.customers.create({ email: 'yes@example.com' }, { idempotencyKey });
    assert.equal(created.email, 'yes@example.com', 'the same key then works for a permitted request');
    // Nested routes belong to their parent resource.
    const taxIds = await rk.customers.listTaxIds(existing.id);
    assert.equal(taxIds.object, 'list');
    const nested = await stripeError(rk.customers.createTaxId(existing.id, { type: 'eu_vat', value: 'DE123456789' }));
    assert.equal(nested.statusCode, 403);
    assert.match(nested.message, /'rak_customer_write'/);
  });

  test('a key without the resource: 403 naming the read permission; a write key works end to end', async () => {
    const none = server.stripe({ key: await restricted({ customers: 'write' }) });
    const err = await stripeError(none.paymentIntents.list());
    assert.equal(err.statusCode, 403);
    assert.match(err.message, /'rak_payment_intent_read'/);
    assert.match((await stripeError(none.balance.retrieve())).message, /'rak_balance_read'/);
    const customer = await none.customers.create({ email: 'w@example.com' });
    assert.equal((await none.customers.update(customer.id, { name: 'W' })).name, 'W');
    assert.equal((await none.customers.del(customer.id)).deleted, true);
  });

  test('a Saleor-style key (payment intents, charges, webhook endpoints: write) pays, refunds and manages its webhook', async () => {
    const rk = server.stripe({ key: await restricted({ payment_intents: 'write', charges: 'write', webhook_endpoints: 'write' }) });
    const pi = await rk.paymentIntents.create({ amount: 2500, currency: 'usd', payment_method: 'pm_card_visa', capture_method: 'manual', confirm: true });
    assert.equal(pi.status, 'requires_capture');
    const captured = await rk.paymentIntents.capture(pi.id);
    assert.equal(captured.status, 'succeeded');
    const charge = await rk.charges.retrieve(captured.latest_charge as string);
    assert.equal(charge.amount_captured, 2500);
    const refund = await rk.refunds.create({ payment_intent: pi.id, amount: 500 }); // refunds come with the charges permission
    assert.equal(refund.status, 'succeeded');
    const endpoint = await rk.webhookEndpoints.create({ url: 'http://127.0.0.1:9/saleor', enabled_events: ['payment_intent.succeeded'] });
    assert.equal((await rk.webhookEndpoints.del(endpoint.id)).deleted, true);
    assert.match((await stripeError(rk.customers.list())).message, /'rak_customer_read'/);
  });

  test('the test-mode reset needs a secret key', async () => {
    const every = await restricted({ customers: 'write', payment_intents: 'write', events: 'write' });
    const r = await send(server, 'POST', '/v1/test_helpers/reset', { key: every, body: '' });
    assertStripeError(r, { status: 403 });
    assert.match(r.json.error.message, /needs a secret key/);
  });
});

describe('publishable keys', () => {
  const pk = () => publishableKeyFor(server.key);

  test('secret-key endpoints answer 401; nothing is created', async () => {
    const client = server.stripe({ key: pk() });
    const before = (await stripe.customers.list({ limit: 100 })).data.length;
    for (const call of [() => client.customers.create({ email: 'pk@example.com' }), () => client.customers.list(),
      () => client.paymentIntents.create({ amount: 100, currency: 'usd' }), () => client.paymentIntents.list(), () => client.balance.retrieve()]) {
      const err = await stripeError(call());
      assert.equal(err.type, 'StripeAuthenticationError');
      assert.equal(err.statusCode, 401);
      assert.match(err.message, /publishable key/);
    }
    assert.equal((await stripe.customers.list({ limit: 100 })).data.length, before);
  });

  test('as Stripe.js does: the card becomes a payment method or a token with the publishable key; everything else about them needs the secret key', async () => {
    const client = server.stripe({ key: pk() });
    const year = new Date().getUTCFullYear() + 2;
    const pm = await client.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 4, exp_year: year, cvc: '314' } });
    assert.equal(pm.card!.last4, '4242');
    const token = await client.tokens.create({ card: { number: '5555555555554444', exp_month: '4', exp_year: String(year), cvc: '314' } });
    assert.match(token.id, /^tok_/);
    for (const call of [() => client.paymentMethods.retrieve(pm.id), () => client.paymentMethods.list(), () => client.paymentMethods.attach(pm.id, { customer: 'cus_x' }),
      () => client.tokens.retrieve(token.id)]) {
      assert.equal((await stripeError(call())).statusCode, 401);
    }
    // The server side takes it from there.
    const customer = await stripe.customers.create({ payment_method: pm.id });
    assert.equal((await stripe.paymentMethods.retrieve(pm.id)).customer, customer.id);
  });

  test('retrieve and confirm a payment intent with its client_secret; without it or with another one: 400 naming client_secret', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1800, currency: 'usd' });
    const other = await stripe.paymentIntents.create({ amount: 1900, currency: 'usd' });
    const client = server.stripe({ key: pk() });
    const got = await client.paymentIntents.retrieve(pi.id, { client_secret: pi.client_secret! });
    assert.equal(got.id, pi.id);
    assert.equal(got.status, 'requires_payment_method');
    assert.equal((await stripeError(client.paymentIntents.retrieve(pi.id))).param, 'client_secret');
    assert.equal((await stripeError(client.paymentIntents.retrieve(pi.id, { client_secret: other.client_secret! }))).param, 'client_secret');
    const wrong = await send(server, 'POST', `/v1/payment_intents/${pi.id}/confirm`,
      { key: pk(), body: form({ client_secret: other.client_secret!, payment_method: 'pm_card_visa' }) });
    assertStripeError(wrong, { status: 400, param: 'client_secret' });
    const confirmed = await send(server, 'POST', `/v1/payment_intents/${pi.id}/confirm`,
      { key: pk(), body: form({ client_secret: pi.client_secret!, payment_method: 'pm_card_visa' }), headers: { 'Idempotency-Key': uniqueKey('pk-confirm') } });
    assert.equal(confirmed.status, 200, confirmed.text);
    assert.equal(confirmed.json.status, 'succeeded');
    assert.equal((await stripe.paymentIntents.retrieve(pi.id)).status, 'succeeded');
    assert.equal((await stripe.paymentIntents.retrieve(other.id)).status, 'requires_payment_method', 'the other intent untouched');
  });

  test('another account\'s publishable key cannot reach this account\'s intent', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1700, currency: 'usd' });
    const stranger = await server.newAccount();
    const err = await stripeError(server.stripe({ key: publishableKeyFor(stranger.key) }).paymentIntents.retrieve(pi.id, { client_secret: pi.client_secret! }));
    assert.equal(err.statusCode, 404);
  });
});
