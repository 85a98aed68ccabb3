/**
 * The idempotency contract, end to end through the official stripe client and raw HTTP:
 * replays, mismatches, in-flight conflicts, crash recovery at every step, the completer, the
 * reaper, external_id, and account isolation. The acquirer's ledger is the ground truth.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import { useTestServer, rawRequest } from '../helpers/server.ts';
import { sales } from '../helpers/ledger.ts';
import { uniqueKey } from '../helpers/unique.ts';
import { form } from '../helpers/stripe_errors.ts';
import { FaultSwitch } from '../../src/faults.ts';

const faults = new FaultSwitch();
/**
 * Long enough that a retry sent right after a simulated crash still finds the dead request's lock
 * fresh on a loaded CI machine (300 ms was not), short enough to keep the matrix quick.
 */
const LOCK_TIMEOUT_MS = 1000;
/**
 * A client that does not retry at all: stripe-node retries a reset connection once even with
 * maxNetworkRetries 0 (its node http client); its fetch client does not, so crash tests see the drop.
 */
let once: Stripe;
const { server: s, stripe } = useTestServer({
  faults, config: { lockTimeoutMs: LOCK_TIMEOUT_MS },
  setup: (srv) => {
    once = srv.stripe({ neverRetry: true });
  },
});

describe('replays', () => {
  test('same key and parameters replays the stored response byte for byte, and nothing runs again', async () => {
    const k = uniqueKey('replay');
    const body = form({ amount: 1500, currency: 'usd', payment_method: 'pm_card_visa', confirm: 'true' });
    const first = await rawRequest(s, 'POST', '/v1/payment_intents', { body, headers: { 'Idempotency-Key': k } });
    const second = await rawRequest(s, 'POST', '/v1/payment_intents', { body, headers: { 'Idempotency-Key': k } });
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.equal(second.text, first.text);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(second.headers.get('original-request'), first.headers.get('request-id'));
    assert.notEqual(second.headers.get('request-id'), first.headers.get('request-id'));
    assert.equal(sales(await s.ledger(first.json.id)).length, 1);
  });

  test('a decline (402) is a saved outcome: replayed as 402, the card is not tried again', async () => {
    const k = uniqueKey('decline');
    const params = { amount: 700, currency: 'usd', payment_method: 'pm_card_visa_chargeDeclined', confirm: true } as const;
    const e1 = await stripe.paymentIntents.create(params, { idempotencyKey: k }).catch((e) => e);
    const e2 = await stripe.paymentIntents.create(params, { idempotencyKey: k }).catch((e) => e);
    assert.equal(e1.statusCode, 402);
    assert.equal(e1.code, 'card_declined');
    assert.equal(e1.decline_code, 'generic_decline');
    assert.equal(e2.statusCode, 402);
    assert.equal(e2.headers['idempotent-replayed'], 'true');
    assert.equal(e2.payment_intent.id, e1.payment_intent.id);
    const ledger = await s.ledger(e1.payment_intent.id);
    assert.equal(ledger.length, 1);
    assert.equal(ledger[0].outcome, 'declined');
    assert.equal(ledger[0].attempts, 1);
  });

  test('same key with different parameters is refused with idempotency_error and runs nothing', async () => {
    const k = uniqueKey('mismatch');
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: k });
    const err = await stripe.paymentIntents.create({ amount: 1001, currency: 'usd' }, { idempotencyKey: k }).catch((e) => e);
    assert.equal(err.statusCode, 400);
    assert.equal(err.type, 'StripeIdempotencyError');
    assert.match(err.message, /same parameters/);
    const list = await stripe.paymentIntents.list({ limit: 100 });
    assert.equal(list.data.filter((p) => p.amount === 1001).length, 0);
    assert.ok(list.data.some((p) => p.id === pi.id));
  });

  test('same key on a different endpoint is refused with idempotency_error', async () => {
    const k = uniqueKey('endpoint');
    await stripe.customers.create({ email: 'x@example.com' }, { idempotencyKey: k });
    const err = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: k }).catch((e) => e);
    assert.equal(err.statusCode, 400);
    assert.equal(err.rawType, 'idempotency_error');
    assert.match(err.message, /same endpoint/);
  });

  test('keys are scoped per account: another account reusing a key runs its own request', async () => {
    const other = await s.newAccount();
    const stripe2 = s.stripe({ key: other.key });
    const k = uniqueKey('scoped');
    const a = await stripe.customers.create({ name: 'A' }, { idempotencyKey: k });
    const b = await stripe2.customers.create({ name: 'B' }, { idempotencyKey: k });
    assert.notEqual(a.id, b.id);
    assert.equal(b.name, 'B');
    assert.equal(b.lastResponse.headers['idempotent-replayed'], undefined);
    const missing = await stripe2.customers.retrieve(a.id).catch((e) => e);
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.code, 'resource_missing');
    const pi = await stripe.paymentIntents.create({ amount: 100, currency: 'usd' });
    for (const call of [() => stripe2.paymentIntents.retrieve(pi.id), () => stripe2.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' })]) {
      const e = await call().catch((x) => x);
      assert.equal(e.statusCode, 404);
      assert.equal(e.code, 'resource_missing');
    }
  });
});

describe('concurrency', () => {
  test('50 simultaneous identical requests with one key: one payment intent, one acquirer charge', async () => {
    const k = uniqueKey('burst');
    const body = form({ amount: 4200, currency: 'usd', payment_method: 'pm_card_visa', confirm: 'true', description: k });
    const results = await Promise.all(Array.from({ length: 50 }, () =>
      rawRequest(s, 'POST', '/v1/payment_intents', { body, headers: { 'Idempotency-Key': k } })));
    const ok = results.filter((r) => r.status === 200);
    const busy = results.filter((r) => r.status === 409);
    assert.equal(ok.length + busy.length, 50, `unexpected statuses ${results.map((r) => r.status)}`);
    for (const r of busy) {
      assert.equal(r.json.error.code, 'idempotency_key_in_use');
      assert.equal(r.headers.get('retry-after'), '1');
    }
    const ids = new Set(ok.map((r) => r.json.id));
    assert.equal(ids.size, 1);
    const list = await stripe.paymentIntents.list({ limit: 100 });
    assert.equal(list.data.filter((p) => p.description === k).length, 1);
    assert.equal(sales(await s.ledger([...ids][0])).length, 1);
  });

  test('concurrent refunds of one charge with different keys never exceed the captured amount', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      stripe.refunds.create({ payment_intent: pi.id, amount: 300 }, { idempotencyKey: uniqueKey(`refund-${i}`) }).then((r) => r, (e) => e)));
    const succeeded = results.filter((r) => r.object === 'refund');
    assert.equal(succeeded.length, 3);
    for (const r of results.filter((r) => r.object !== 'refund')) {
      assert.ok([400, 409].includes(r.statusCode), `unexpected ${r.statusCode} ${r.message}`);
    }
    const refunds = (await s.ledger(pi.id)).filter((e) => e.kind === 'refund');
    assert.equal(refunds.reduce((sum, e) => sum + e.amount, 0), 900);
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    assert.equal(charge.amount_refunded, 900);
  });
});

/** Every step of every money-moving command, crashed in-process (the lock is left behind, as by a dead process). */
describe('crash at every step, then the client retries with the same key', () => {
  const waitForStaleLock = () => new Promise((r) => setTimeout(r, LOCK_TIMEOUT_MS + 50));

  const matrix: { command: string; steps: string[]; run: (client: Stripe, k: string) => Promise<any>; check: (result: any) => Promise<void> }[] = [
    {
      command: 'payment_intents.create',
      steps: ['create', 'authorize', 'record'],
      run: (c, k) => c.paymentIntents.create({ amount: 2500, currency: 'usd', payment_method: 'pm_card_visa', confirm: true }, { idempotencyKey: k }),
      check: async (pi) => {
        assert.equal(pi.status, 'succeeded');
        assert.equal(sales(await s.ledger(pi.id)).length, 1);
      },
    },
    {
      command: 'payment_intents.confirm',
      steps: ['begin', 'authorize', 'record'],
      run: async (c, k) => {
        const pi = await c.paymentIntents.create({ amount: 2600, currency: 'usd', payment_method: 'pm_card_mastercard' }, { idempotencyKey: `${k}-setup` });
        return c.paymentIntents.confirm(pi.id, {}, { idempotencyKey: k });
      },
      check: async (pi) => {
        assert.equal(pi.status, 'succeeded');
        assert.equal(sales(await s.ledger(pi.id)).length, 1);
      },
    },
    {
      command: 'payment_intents.capture',
      steps: ['begin', 'capture', 'record'],
      run: async (c, k) => {
        const pi = await c.paymentIntents.create({ amount: 2700, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, capture_method: 'manual' }, { idempotencyKey: `${k}-setup` });
        return c.paymentIntents.capture(pi.id, { amount_to_capture: 2000 }, { idempotencyKey: k });
      },
      check: async (pi) => {
        assert.equal(pi.status, 'succeeded');
        assert.equal(pi.amount_received, 2000);
        const ledger = await s.ledger(pi.id);
        assert.deepEqual(ledger.map((e) => e.kind), ['authorization', 'capture']);
        assert.equal(ledger[1].amount, 2000);
      },
    },
    {
      command: 'payment_intents.cancel',
      steps: ['begin', 'void', 'record'],
      run: async (c, k) => {
        const pi = await c.paymentIntents.create({ amount: 2800, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, capture_method: 'manual' }, { idempotencyKey: `${k}-setup` });
        return c.paymentIntents.cancel(pi.id, { cancellation_reason: 'requested_by_customer' }, { idempotencyKey: k });
      },
      check: async (pi) => {
        assert.equal(pi.status, 'canceled');
        assert.deepEqual((await s.ledger(pi.id)).map((e) => e.kind), ['authorization', 'void']);
      },
    },
    {
      command: 'refunds.create',
      steps: ['begin', 'refund', 'record'],
      run: async (c, k) => {
        const pi = await c.paymentIntents.create({ amount: 2900, currency: 'usd', payment_method: 'pm_card_visa', confirm: true }, { idempotencyKey: `${k}-setup` });
        return c.refunds.create({ payment_intent: pi.id, amount: 900 }, { idempotencyKey: k });
      },
      check: async (refund) => {
        assert.equal(refund.status, 'succeeded');
        const refunds = (await s.ledger(refund.payment_intent)).filter((e) => e.kind === 'refund');
        assert.equal(refunds.length, 1);
        assert.equal(refunds[0].amount, 900);
        const charge = await stripe.charges.retrieve(refund.charge);
        assert.equal(charge.amount_refunded, 900);
      },
    },
  ];

  for (const row of matrix) {
    for (const step of row.steps) {
      test(`${row.command} crashed after ${step} -> same-key retry resumes, moves money once`, async () => {
        const k = uniqueKey(`${row.command}-${step}`);
        faults.arm(row.command, step);
        const lost = await row.run(once, k).catch((e) => e);
        assert.equal(lost.type, 'StripeConnectionError', `expected the connection to drop, got ${lost?.type ?? lost?.object}`);
        const inFlight = await row.run(once, k).catch((e) => e);
        if (step === 'record') {
          // The last phase committed the response before the crash: the retry is a replay.
          assert.equal(inFlight.lastResponse.headers.get('idempotent-replayed'), 'true'); // fetch client: a Headers object
        } else {
          // Right after the crash the dead request's lock is still fresh: 409 with Retry-After.
          assert.equal(inFlight.statusCode, 409);
          assert.equal(inFlight.code, 'idempotency_key_in_use');
          assert.equal(inFlight.headers['retry-after'], '1');
        }
        await waitForStaleLock();
        const result = await row.run(stripe, k);
        if (step === 'record') assert.equal(result.lastResponse.headers['idempotent-replayed'], 'true');
        await row.check(result);
      });

      test(`${row.command} crashed after ${step} -> the completer finishes it without any client`, async () => {
        const k = uniqueKey(`${row.command}-${step}-bg`);
        faults.arm(row.command, step);
        const lost = await row.run(once, k).catch((e) => e);
        assert.equal(lost.type, 'StripeConnectionError');
        await waitForStaleLock();
        await s.complete();
        const replay = await row.run(stripe, k);
        assert.equal(replay.lastResponse.headers['idempotent-replayed'], 'true');
        await row.check(replay);
      });
    }
  }
});

describe('fault cards', () => {
  test('timeoutAfterCharge: the answer is lost, a retry with the same key ends succeeded, charged once', async () => {
    const k = uniqueKey('timeout');
    const params = { amount: 3100, currency: 'usd', payment_method: 'pm_card_oncepay_timeoutAfterCharge', confirm: true } as const;
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: k }).catch((e) => e);
    assert.equal(first.statusCode, 500);
    assert.equal(first.rawType, 'api_error');
    assert.equal(first.headers['stripe-should-retry'], 'true');
    const pi = await stripe.paymentIntents.create(params, { idempotencyKey: k });
    assert.equal(pi.status, 'succeeded');
    const ledger = await s.ledger(pi.id);
    assert.equal(ledger.length, 1);
    assert.equal(ledger[0].kind, 'sale');
    assert.equal(ledger[0].attempts, 2);
  });

  test('timeoutAfterCharge: the official client\'s own retries converge in one call', async () => {
    const retrying = s.stripe({ maxNetworkRetries: 2 });
    const pi = await retrying.paymentIntents.create({ amount: 3200, currency: 'usd', payment_method: 'pm_card_oncepay_timeoutAfterCharge', confirm: true });
    assert.equal(pi.status, 'succeeded');
    assert.equal(sales(await s.ledger(pi.id)).length, 1);
  });

  test('errorBeforeCharge: 500 with nothing charged, then the retry charges once', async () => {
    const k = uniqueKey('err');
    const params = { amount: 3300, currency: 'usd', payment_method: 'pm_card_oncepay_errorBeforeCharge', confirm: true } as const;
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: k }).catch((e) => e);
    assert.equal(first.statusCode, 500);
    const stuck = (await stripe.paymentIntents.list({ limit: 5 })).data.find((p) => p.amount === 3300)!;
    assert.equal(stuck.status, 'processing');
    assert.equal((await s.ledger(stuck.id)).length, 0);
    const pi = await stripe.paymentIntents.create(params, { idempotencyKey: k });
    assert.equal(pi.id, stuck.id);
    assert.equal(pi.status, 'succeeded');
    assert.equal(sales(await s.ledger(pi.id)).length, 1);
  });

  test('errorBeforeCharge without a client retry: the completer converges it', async () => {
    const body = form({ amount: 3400, currency: 'usd', payment_method: 'pm_card_oncepay_errorBeforeCharge', confirm: 'true' });
    const first = await rawRequest(s, 'POST', '/v1/payment_intents', { body });
    assert.equal(first.status, 500);
    const stuck = (await stripe.paymentIntents.list({ limit: 5 })).data.find((p) => p.amount === 3400)!;
    assert.equal(stuck.status, 'processing');
    assert.equal(await s.complete(), 1);
    const done = await stripe.paymentIntents.retrieve(stuck.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(sales(await s.ledger(done.id)).length, 1);
  });
});

describe('external_id', () => {
  test('the same payload returns the existing payment intent; a different one is 409 already_exists', async () => {
    const ext = uniqueKey('order');
    const a = await stripe.paymentIntents.create({ amount: 500, currency: 'eur', external_id: ext } as any);
    const b = await stripe.paymentIntents.create({ amount: 500, currency: 'eur', external_id: ext } as any);
    assert.equal(b.id, a.id);
    const err = await stripe.paymentIntents.create({ amount: 501, currency: 'eur', external_id: ext } as any).catch((e) => e);
    assert.equal(err.statusCode, 409);
    assert.equal(err.code, 'already_exists');
    assert.equal(err.param, 'external_id');
    assert.equal(err.raw.existing_id, a.id);
    assert.equal((await stripe.paymentIntents.list({ limit: 100 })).data.filter((p) => (p as any).external_id === ext).length, 1);
  });

  test('confirm=true with the same external_id twice charges once', async () => {
    const ext = uniqueKey('pay');
    const params = { amount: 800, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, external_id: ext } as any;
    const a = await stripe.paymentIntents.create(params);
    const b = await stripe.paymentIntents.create(params);
    assert.equal(a.id, b.id);
    assert.equal(b.status, 'succeeded');
    assert.equal(sales(await s.ledger(a.id)).length, 1);
  });

  test('refund external_id: a repeated refund request refunds once', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const ext = uniqueKey('rf');
    const r1 = await stripe.refunds.create({ payment_intent: pi.id, amount: 200, external_id: ext } as any);
    const r2 = await stripe.refunds.create({ payment_intent: pi.id, amount: 200, external_id: ext } as any);
    assert.equal(r1.id, r2.id);
    const err = await stripe.refunds.create({ payment_intent: pi.id, amount: 300, external_id: ext } as any).catch((e) => e);
    assert.equal(err.statusCode, 409);
    assert.equal((await s.ledger(pi.id)).filter((e) => e.kind === 'refund').length, 1);
  });
});

describe('retention', () => {
  test('the reaper expires finished keys; the same key then runs as new', async () => {
    const k = uniqueKey('reap');
    const a = await stripe.customers.create({ name: 'first' }, { idempotencyKey: k });
    await s.oncepay.db.query(`UPDATE idempotency_keys SET finished_at = now() - interval '2 days' WHERE account_id = $1 AND key = $2`, [s.accountId, k]);
    const reaped = await s.oncepay.engine.reapExpired(24 * 3600 * 1000);
    assert.ok(reaped >= 1);
    const { rows } = await s.oncepay.db.query('SELECT 1 FROM idempotency_keys WHERE account_id = $1 AND key = $2', [s.accountId, k]);
    assert.equal(rows.length, 0);
    const b = await stripe.customers.create({ name: 'first' }, { idempotencyKey: k });
    assert.notEqual(b.id, a.id);
  });

  test('unfinished keys are never reaped', async () => {
    const k = uniqueKey('keep');
    faults.arm('payment_intents.create', 'authorize');
    const lost = await once.paymentIntents.create({ amount: 100, currency: 'usd', payment_method: 'pm_card_visa', confirm: true }, { idempotencyKey: k }).catch((e) => e);
    assert.equal(lost.type, 'StripeConnectionError');
    await s.oncepay.db.query(`UPDATE idempotency_keys SET created_at = now() - interval '9 days' WHERE account_id = $1 AND key = $2`, [s.accountId, k]);
    await s.oncepay.engine.reapExpired(1000);
    const { rows } = await s.oncepay.db.query('SELECT finished_at FROM idempotency_keys WHERE account_id = $1 AND key = $2', [s.accountId, k]);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].finished_at, null);
    await new Promise((r) => setTimeout(r, LOCK_TIMEOUT_MS + 50));
    await s.complete();
  });
});
