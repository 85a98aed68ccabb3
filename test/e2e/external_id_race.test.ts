/**
 * external_id while the request that claimed it is still running: a second create with the same
 * external_id and payload but another Idempotency-Key must not answer with the first one's
 * mid-flight object (a `processing` payment intent, an `incomplete` subscription, a `pending`
 * refund) and store that under its own key for ever. It is answered like an in-flight key: 409
 * lock_timeout with Retry-After, nothing stored under the second key, so its retry after the
 * first one settled runs afresh and answers with the settled object. A settled duplicate still
 * answers 200 with the existing object.
 *
 * The first create is made slow deterministically: pm_card_oncepay_slow (the acquirer answers
 * after 3 s) for payment intents and subscriptions; a simulated crash right after its first
 * phase for refunds (the refund stays pending until a retry or the completer records it).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { useTestServer, rawRequest, type TestServer } from '../helpers/server.ts';
import { sales } from '../helpers/ledger.ts';
import { form } from '../helpers/stripe_errors.ts';
import { uniqueKey } from '../helpers/unique.ts';
import { FaultSwitch } from '../../src/faults.ts';
import { intentOf } from '../helpers/invoices.ts';

const faults = new FaultSwitch();
/** Short, so the crashed refund's lock goes stale quickly; the slow card's run keeps its own lock fresh (heartbeat). */
const LOCK_TIMEOUT_MS = 1000;
const { server: s, stripe } = useTestServer({ faults, config: { lockTimeoutMs: LOCK_TIMEOUT_MS } });

/** Waits until `resource`'s external_id is claimed (the first create's first phase committed); returns the object id. */
async function claimed(server: TestServer, resource: string, externalId: string): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const { rows } = await server.oncepay.db.query<{ object_id: string }>(
      'SELECT object_id FROM external_ids WHERE account_id = $1 AND resource = $2 AND external_id = $3',
      [server.accountId, resource, externalId]);
    if (rows[0]) return rows[0].object_id;
    if (Date.now() > deadline) throw new Error(`${resource} external_id ${externalId} was never claimed`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function keyRow(server: TestServer, key: string): Promise<{ finished: boolean } | undefined> {
  const { rows } = await server.oncepay.db.query<{ finished: boolean }>(
    'SELECT finished_at IS NOT NULL AS finished FROM idempotency_keys WHERE account_id = $1 AND key = $2', [server.accountId, key]);
  return rows[0];
}

/** The transient refusal: 409 lock_timeout, retry shortly, naming the resource, the external_id and the object. */
function assertBusy(res: { status: number; headers: Headers; json: any }, resource: RegExp, externalId: string, objectId: string): void {
  assert.equal(res.status, 409, `expected 409, got ${res.status} ${JSON.stringify(res.json)}`);
  assert.equal(res.json.error.type, 'invalid_request_error');
  assert.equal(res.json.error.code, 'lock_timeout');
  assert.equal(res.headers.get('retry-after'), '1');
  assert.equal(res.headers.get('stripe-should-retry'), 'true');
  assert.equal(res.headers.get('idempotent-replayed'), null);
  const message: string = res.json.error.message;
  assert.match(message, resource);
  assert.ok(message.includes(`external_id '${externalId}'`), message);
  assert.ok(message.includes(objectId), message);
  assert.match(message, /retry/i);
}

const post = (path: string, body: string, key: string) =>
  rawRequest(s, 'POST', path, { body, headers: { 'Idempotency-Key': key } });

describe('payment intents', () => {
  test('create+confirm still authorizing: a duplicate under another key is 409 lock_timeout, stores nothing, and its retry answers succeeded afresh', async () => {
    const ext = uniqueKey('pi-race');
    const [k1, k2] = [uniqueKey('k1'), uniqueKey('k2')];
    const params = { amount: 4100, currency: 'usd', payment_method: 'pm_card_oncepay_slow', confirm: 'true', external_id: ext };
    const first = post('/v1/payment_intents', form(params), k1);
    const id = await claimed(s, 'payment_intent', ext);
    assert.equal((await stripe.paymentIntents.retrieve(id)).status, 'processing');

    const busy = await post('/v1/payment_intents', form(params), k2);
    assertBusy(busy, /payment_intent/, ext, id);
    assert.equal(await keyRow(s, k2), undefined, 'nothing is stored under the second key');
    // The official client sees the same, as a retryable conflict.
    const viaClient = await stripe.paymentIntents.create({ ...params, confirm: true } as any, { idempotencyKey: k2 }).catch((e) => e);
    assert.equal(viaClient.statusCode, 409);
    assert.equal(viaClient.code, 'lock_timeout');
    assert.match(viaClient.message, new RegExp(ext));
    assert.equal(viaClient.headers['stripe-should-retry'], 'true');

    const one = await first;
    assert.equal(one.status, 200);
    assert.equal(one.json.id, id);
    assert.equal(one.json.status, 'succeeded');

    const retried = await post('/v1/payment_intents', form(params), k2);
    assert.equal(retried.status, 200, retried.text);
    assert.equal(retried.json.id, id);
    assert.equal(retried.json.status, 'succeeded');
    assert.equal(retried.headers.get('idempotent-replayed'), null, 'a fresh execution, not a replay of the 409');
    assert.equal((await keyRow(s, k2))?.finished, true);
    // What is stored under the second key now is the settled object.
    const replay = await post('/v1/payment_intents', form(params), k2);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(replay.json.status, 'succeeded');

    assert.equal(sales(await s.ledger(id)).length, 1);
    assert.equal((await s.ledger(id)).length, 1);
  });

  test('a duplicate after the first settled still answers 200 with the existing intent', async () => {
    const ext = uniqueKey('pi-settled');
    const params = { amount: 4200, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, external_id: ext } as any;
    const a = await stripe.paymentIntents.create(params, { idempotencyKey: uniqueKey('k1') });
    const b = await stripe.paymentIntents.create(params, { idempotencyKey: uniqueKey('k2') });
    const c = await stripe.paymentIntents.create(params); // an internal key
    assert.equal(a.status, 'succeeded');
    for (const dup of [b, c]) {
      assert.equal(dup.id, a.id);
      assert.equal(dup.status, 'succeeded');
      assert.equal(dup.lastResponse.headers['idempotent-replayed'], undefined);
    }
    assert.equal(sales(await s.ledger(a.id)).length, 1);
  });

  test('the same key again while it runs is still idempotency_key_in_use (not the external_id refusal)', async () => {
    const ext = uniqueKey('pi-same-key');
    const k1 = uniqueKey('k1');
    const params = { amount: 4300, currency: 'usd', payment_method: 'pm_card_oncepay_slow', confirm: 'true', external_id: ext };
    const first = post('/v1/payment_intents', form(params), k1);
    await claimed(s, 'payment_intent', ext);
    const again = await post('/v1/payment_intents', form(params), k1);
    assert.equal(again.status, 409);
    assert.equal(again.json.error.code, 'idempotency_key_in_use');
    assert.equal((await first).json.status, 'succeeded');
  });

  test('a duplicate with a different payload while the first runs is still 409 already_exists (a settled answer)', async () => {
    const ext = uniqueKey('pi-other');
    const params = { amount: 4400, currency: 'usd', payment_method: 'pm_card_oncepay_slow', confirm: 'true', external_id: ext };
    const first = post('/v1/payment_intents', form(params), uniqueKey('k1'));
    const id = await claimed(s, 'payment_intent', ext);
    const clash = await post('/v1/payment_intents', form({ ...params, amount: 4401 }), uniqueKey('k2'));
    assert.equal(clash.status, 409);
    assert.equal(clash.json.error.code, 'already_exists');
    assert.equal(clash.json.error.existing_id, id);
    assert.equal((await first).json.status, 'succeeded');
  });
});

describe('subscriptions (another resource, same rule)', () => {
  test('create still paying its first invoice: a duplicate under another key is 409, its retry answers active afresh', async () => {
    const price = await stripe.prices.create({
      currency: 'usd', unit_amount: 1500, product_data: { name: uniqueKey('Plan') }, recurring: { interval: 'month' },
    });
    const cus = await stripe.customers.create({ name: uniqueKey('Customer') });
    const ext = uniqueKey('sub-race');
    const [k1, k2] = [uniqueKey('k1'), uniqueKey('k2')];
    const body = form({ customer: cus.id, 'items[0][price]': price.id, default_payment_method: 'pm_card_oncepay_slow', external_id: ext });
    const first = post('/v1/subscriptions', body, k1);
    const id = await claimed(s, 'subscription', ext);

    const busy = await post('/v1/subscriptions', body, k2);
    assertBusy(busy, /subscription/, ext, id);
    assert.equal(await keyRow(s, k2), undefined);

    const one = await first;
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.status, 'active');
    const retried = await post('/v1/subscriptions', body, k2);
    assert.equal(retried.status, 200, retried.text);
    assert.equal(retried.json.id, id);
    assert.equal(retried.json.status, 'active');
    assert.equal(retried.headers.get('idempotent-replayed'), null);
    const invoices = await stripe.invoices.list({ customer: cus.id, limit: 10 });
    assert.equal(invoices.data.length, 1);
    const intent = await intentOf(stripe, invoices.data[0].id);
    assert.ok(intent, 'the first invoice has its payment intent');
    assert.equal(sales(await s.ledger(intent)).length, 1);
  });
});

describe('refunds', () => {
  test('create left pending (its request died after the first phase): a duplicate is 409 until the completer records it, then 200 succeeded afresh', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 3000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const ext = uniqueKey('re-race');
    const [k1, k2] = [uniqueKey('k1'), uniqueKey('k2')];
    const body = form({ payment_intent: pi.id, amount: 700, external_id: ext });
    faults.arm('refunds.create', 'begin');
    const dropped = await post('/v1/refunds', body, k1).catch((e) => e);
    assert.ok(dropped instanceof Error, 'the first request is dropped (simulated crash)');
    const id = await claimed(s, 'refund', ext);
    assert.equal((await stripe.refunds.retrieve(id)).status, 'pending');

    // Its lock is fresh (as if still running) ...
    assertBusy(await post('/v1/refunds', body, k2), /refund/, ext, id);
    assert.equal(await keyRow(s, k2), undefined);
    // ... and once stale (abandoned, waiting for the completer) it is still unsettled.
    await new Promise((r) => setTimeout(r, LOCK_TIMEOUT_MS + 200));
    assertBusy(await post('/v1/refunds', body, k2), /refund/, ext, id);
    assert.equal(await keyRow(s, k2), undefined);

    assert.equal(await s.complete(), 1);
    assert.equal((await keyRow(s, k1))?.finished, true);
    const retried = await post('/v1/refunds', body, k2);
    assert.equal(retried.status, 200, retried.text);
    assert.equal(retried.json.id, id);
    assert.equal(retried.json.status, 'succeeded');
    assert.equal(retried.headers.get('idempotent-replayed'), null);

    // Settled: a duplicate under yet another key (and a key-less one) answers 200 with it.
    const settled = await stripe.refunds.create({ payment_intent: pi.id, amount: 700, external_id: ext } as any, { idempotencyKey: uniqueKey('k3') });
    assert.equal(settled.id, id);
    assert.equal(settled.status, 'succeeded');
    assert.equal((await stripe.refunds.create({ payment_intent: pi.id, amount: 700, external_id: ext } as any)).id, id);

    const refunds = (await s.ledger(pi.id)).filter((e) => e.kind === 'refund');
    assert.equal(refunds.length, 1);
    assert.equal(refunds[0].amount, 700);
    assert.equal((await stripe.charges.retrieve(pi.latest_charge as string)).amount_refunded, 700);
  });
});

// Rows claimed before the idempotency_key column existed have none: they count as settled.
test('an external_id row without a claiming key (claimed before this rule) is settled: 200 with the existing object', async () => {
  const ext = uniqueKey('legacy');
  const params = { amount: 4500, currency: 'usd', external_id: ext } as any;
  const a = await stripe.paymentIntents.create(params);
  await s.oncepay.db.query('UPDATE external_ids SET idempotency_key = NULL WHERE account_id = $1 AND external_id = $2', [s.accountId, ext]);
  const b = await stripe.paymentIntents.create(params, { idempotencyKey: uniqueKey('k2') });
  assert.equal(b.id, a.id);
});
