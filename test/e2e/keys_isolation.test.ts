/**
 * Any-key isolation (test mode's default, ONCEPAY_ACCEPT_ANY_KEY): a well-formed sk_test_ key
 * nobody used gets its own new, empty account on first use, and sees only its own objects,
 * events, request logs, idempotency keys and webhook endpoints. One key, however many
 * concurrent first requests, ends in one account. Off, an unknown key is 401 as before.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type Stripe from 'stripe';
import { startTestServer, useTestServer } from '../helpers/server.ts';
import { assertStripeError, send, stripeError } from '../helpers/stripe_errors.ts';
import { uniqueKey } from '../helpers/unique.ts';
import { hashKey } from '../../src/accounts/keys.ts';
import { loadConfig } from '../../src/config.ts';

const randomKey = () => `sk_test_${randomBytes(18).toString('hex')}`;

describe('any-key mode (the default in test mode)', () => {
  const { server } = useTestServer();

  test('two made-up keys see disjoint customers, payment intents, events, request logs, keys and endpoints', async () => {
    const keys = [randomKey(), randomKey()];
    const sharedIdempotencyKey = uniqueKey('same-key-both-accounts');
    const made: { key: string; stripe: Stripe; customer: Stripe.Customer; pi: Stripe.PaymentIntent; endpoint: Stripe.WebhookEndpoint }[] = [];
    for (const key of keys) {
      const stripe = server.stripe({ key });
      // A brand-new account: empty.
      assert.deepEqual((await stripe.customers.list()).data, []);
      assert.deepEqual((await stripe.events.list()).data, []);
      const customer = await stripe.customers.create({ email: 'iso@example.com' }, { idempotencyKey: sharedIdempotencyKey });
      const pi = await stripe.paymentIntents.create(
        { amount: 1500, currency: 'usd', customer: customer.id, payment_method: 'pm_card_visa', confirm: true });
      const endpoint = await stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:9/hook', enabled_events: ['*'] });
      made.push({ key, stripe, customer, pi, endpoint });
    }
    assert.notEqual(made[0].customer.id, made[1].customer.id, 'one Idempotency-Key, two accounts: two customers');
    for (const [i, mine] of made.entries()) {
      const theirs = made[1 - i];
      const { stripe } = mine;
      assert.deepEqual((await stripe.customers.list()).data.map((c) => c.id), [mine.customer.id]);
      assert.deepEqual((await stripe.paymentIntents.list()).data.map((p) => p.id), [mine.pi.id]);
      assert.deepEqual((await stripe.webhookEndpoints.list()).data.map((e) => e.id), [mine.endpoint.id]);
      const events = (await stripe.events.list({ limit: 100 })).data;
      assert.ok(events.length > 0);
      const eventObjects = new Set(events.map((e) => (e.data.object as { id: string }).id));
      assert.ok(eventObjects.has(mine.pi.id) && !eventObjects.has(theirs.pi.id), 'events of its own objects only');
      const logs = await send(server, 'GET', '/v1/request_logs?limit=100', { key: mine.key });
      assert.equal(logs.status, 200, logs.text);
      const loggedIds = JSON.stringify(logs.json.data);
      assert.ok(loggedIds.includes(mine.customer.id) || logs.json.data.some((l: any) => l.path === '/v1/customers'));
      assert.ok(!loggedIds.includes(theirs.pi.id) && !loggedIds.includes(theirs.customer.id), 'no request log of the other account');
      const err = await stripeError(stripe.customers.retrieve(theirs.customer.id));
      assert.equal(err.statusCode, 404);
      const theirKey = await send(server, 'GET', `/v1/idempotency_keys/${encodeURIComponent(sharedIdempotencyKey)}`, { key: mine.key });
      assert.equal(theirKey.status, 200, 'each account has its own record of the shared key');
      assert.ok(theirKey.text.includes(mine.customer.id) && !theirKey.text.includes(theirs.customer.id), theirKey.text);
    }
    // The test server's own account saw none of it.
    assert.ok(!(await server.stripe().customers.list({ limit: 100 })).data.some((c) => made.some((m) => m.customer.id === c.id)));
  });

  test('20 concurrent first requests with one new key make one account', async () => {
    const key = randomKey();
    const db = server.oncepay.db;
    const count = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM accounts')).rows[0].n;
    const before = await count();
    const stripe = server.stripe({ key });
    const created = await Promise.all(Array.from({ length: 20 }, (_, i) => stripe.customers.create({ name: `c${i}` })));
    const { rows } = await db.query<{ account_id: string }>('SELECT account_id FROM api_keys WHERE key_hash = $1', [hashKey(key)]);
    assert.equal(rows.length, 1, 'one key row');
    // Other tests of this file run one at a time, so the only new account is this key's.
    assert.equal(await count(), before + 1, 'one new account');
    const listed = await stripe.customers.list({ limit: 100 });
    assert.deepEqual(listed.data.map((c) => c.id).sort(), created.map((c) => c.id).sort(), 'all 20 in that one account');
  });

  test('a malformed key is still 401 in Stripe\'s shape, and creates nothing', async () => {
    const db = server.oncepay.db;
    const count = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM accounts')).rows[0].n;
    const before = await count();
    for (const key of ['sk_test_short', 'sk_live_0123456789abcdef', 'sk_test_has-a-dash-0123456789', `sk_test_${'a'.repeat(201)}`, 'whatever1234']) {
      assertStripeError(await send(server, 'GET', '/v1/customers', { key }), { status: 401 });
    }
    const err = await stripeError(server.stripe({ key: 'sk_test_x' }).customers.list());
    assert.equal(err.type, 'StripeAuthenticationError');
    assert.equal(await count(), before);
  });

  test('a made-up key that hits an unknown path gets a 404 and no account', async () => {
    const key = randomKey();
    const res = await send(server, 'GET', '/v1/no_such_thing', { key });
    assert.equal(res.status, 404);
    const { rows } = await server.oncepay.db.query('SELECT 1 FROM api_keys WHERE key_hash = $1', [hashKey(key)]);
    assert.equal(rows.length, 0);
  });
});

describe('any-key mode off (ONCEPAY_ACCEPT_ANY_KEY=false)', () => {
  test('an unknown well-formed key is 401', async () => {
    const s = await startTestServer({ config: { acceptAnyKey: false } });
    try {
      const err = await stripeError(s.stripe({ key: randomKey() }).customers.list());
      assert.equal(err.type, 'StripeAuthenticationError');
      assert.equal(err.statusCode, 401);
      assert.equal((await s.stripe().customers.list()).object, 'list', 'known keys work');
    } finally {
      await s.close();
    }
  });

  test('the setting: on in test mode, off in production, overridden by ONCEPAY_ACCEPT_ANY_KEY, refused when not a boolean', () => {
    assert.equal(loadConfig({}).acceptAnyKey, true);
    assert.equal(loadConfig({ ONCEPAY_ENV: 'production' }).acceptAnyKey, false);
    assert.equal(loadConfig({ ONCEPAY_ENV: 'production', ONCEPAY_ACCEPT_ANY_KEY: 'true' }).acceptAnyKey, true);
    assert.equal(loadConfig({ ONCEPAY_ACCEPT_ANY_KEY: 'false' }).acceptAnyKey, false);
    assert.throws(() => loadConfig({ ONCEPAY_ACCEPT_ANY_KEY: 'yes' }), /ONCEPAY_ACCEPT_ANY_KEY: expected true or false, got "yes"/);
  });
});
