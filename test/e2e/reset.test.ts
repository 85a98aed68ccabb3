/**
 * POST /v1/test_helpers/reset (Oncepay extension, test mode): everything of the calling account
 * goes — objects, events, webhook endpoints, request logs, idempotency keys, the balance — while
 * the account, its keys and every other account stay; a retry with the same Idempotency-Key
 * replays the first answer; refused in production mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestServer, useTestServer } from '../helpers/server.ts';
import { assertStripeError, send } from '../helpers/stripe_errors.ts';
import { uniqueKey } from '../helpers/unique.ts';
import { accountTables } from '../../src/accounts/reset.ts';

const { server } = useTestServer();

test('reset empties every list of the account, leaves another account alone, keeps the key working, and replays', async () => {
  const key = `sk_test_${randomBytes(16).toString('hex')}`; // a fresh account of its own (any-key mode)
  const mine = server.stripe({ key });
  const theirs = server.stripe();
  const theirCustomer = await theirs.customers.create({ email: 'other@example.com' });
  for (const i of [1, 2, 3]) await mine.customers.create({ email: `c${i}@example.com` });
  const pi = await mine.paymentIntents.create({ amount: 3000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true }, { idempotencyKey: uniqueKey('before-reset') });
  await mine.refunds.create({ payment_intent: pi.id, amount: 100 });
  await mine.webhookEndpoints.create({ url: 'http://127.0.0.1:9/reset', enabled_events: ['*'] });
  const product = await mine.products.create({ name: 'Thing' });
  await mine.prices.create({ product: product.id, unit_amount: 500, currency: 'usd' });
  assert.ok((await mine.events.list()).data.length > 0);
  assert.ok((await mine.balance.retrieve()).available.some((b) => b.amount !== 0) || (await mine.balance.retrieve()).pending.some((b) => b.amount !== 0));

  const resetKey = uniqueKey('reset');
  const first = await send(server, 'POST', '/v1/test_helpers/reset', { key, body: '', headers: { 'Idempotency-Key': resetKey } });
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.object, 'test_helpers.reset');
  assert.equal(first.json.deleted.customers, 3);
  assert.equal(first.json.deleted.payment_intents, 1);
  assert.equal(first.json.deleted.refunds, 1);
  assert.equal(first.json.deleted.webhook_endpoints, 1);
  assert.ok(first.json.deleted.events > 0 && first.json.deleted.request_logs > 0 && first.json.deleted.idempotency_keys > 0);
  assert.deepEqual(Object.keys(first.json.deleted).sort(), await accountTables(server.oncepay.db), 'every table keyed by account is reported');
  assert.ok(!('api_keys' in first.json.deleted) && !('accounts' in first.json.deleted));

  for (const list of [mine.customers.list(), mine.paymentIntents.list(), mine.charges.list(), mine.refunds.list(), mine.events.list(),
    mine.webhookEndpoints.list(), mine.products.list(), mine.prices.list(), mine.balanceTransactions.list()]) {
    assert.deepEqual((await list).data, []);
  }
  const balance = await mine.balance.retrieve();
  assert.ok([...balance.available, ...balance.pending].every((b) => b.amount === 0), JSON.stringify(balance));
  const logs = await send(server, 'GET', '/v1/request_logs?limit=100', { key });
  assert.deepEqual(logs.json.data.filter((l: any) => l.path !== '/v1/test_helpers/reset' && l.method === 'POST'), [], 'no request log from before');
  assert.equal((await send(server, 'GET', `/v1/idempotency_keys/${uniqueKey('x')}`, { key })).status, 404);

  // The other account is untouched; this key still works, on an empty account.
  assert.equal((await theirs.customers.retrieve(theirCustomer.id)).id, theirCustomer.id);
  const after = await mine.customers.create({ email: 'after@example.com' });
  assert.deepEqual((await mine.customers.list()).data.map((c) => c.id), [after.id]);

  // Same Idempotency-Key: the first answer, byte for byte, without running again.
  const replay = await send(server, 'POST', '/v1/test_helpers/reset', { key, body: '', headers: { 'Idempotency-Key': resetKey } });
  assert.equal(replay.status, 200);
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  assert.equal(replay.text, first.text);
  assert.deepEqual((await mine.customers.list()).data.map((c) => c.id), [after.id], 'the replay deleted nothing');
  // A new key runs again.
  const again = await send(server, 'POST', '/v1/test_helpers/reset', { key, body: '', headers: { 'Idempotency-Key': uniqueKey('reset-2') } });
  assert.equal(again.json.deleted.customers, 1);
});

test('reset takes no parameters, and a publishable key is refused', async () => {
  assertStripeError(await send(server, 'POST', '/v1/test_helpers/reset', { body: 'everything=true' }), { status: 400, param: 'everything' });
  const { publishableKeyFor } = await import('../../src/accounts/keys.ts');
  assertStripeError(await send(server, 'POST', '/v1/test_helpers/reset', { key: publishableKeyFor(server.key), body: '' }), { status: 401 });
});

test('in production mode the reset is refused and deletes nothing', async () => {
  const s = await startTestServer({ config: { production: true } });
  try {
    const customer = await s.stripe().customers.create({ email: 'prod@example.com' });
    const r = await send(s, 'POST', '/v1/test_helpers/reset', { body: '' });
    assertStripeError(r, { status: 400 });
    assert.match(r.json.error.message, /test mode only/);
    assert.equal((await s.stripe().customers.retrieve(customer.id)).id, customer.id);
  } finally {
    await s.close();
  }
});
