/**
 * GET /v1/balance reads running balances (migration 11) instead of summing every balance
 * transaction. They must equal that sum after a mixed run: concurrent charges in two
 * currencies, declines, manual and partial captures, partial refunds, replays, and phases
 * recovered after a simulated crash (which must not add twice). And the migration's backfill
 * must carry balance transactions written before it.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { uniqueKey } from '../helpers/unique.ts';
import { FaultSwitch } from '../../src/faults.ts';
import { openPglite } from '../../src/store/db.ts';
import { MIGRATIONS } from '../../src/store/migrations.ts';

const faults = new FaultSwitch();
const LOCK_TIMEOUT_MS = 1000;
let once: Stripe;
const { server: s, stripe } = useTestServer({
  faults, config: { lockTimeoutMs: LOCK_TIMEOUT_MS },
  setup: (srv) => {
    once = srv.stripe({ neverRetry: true });
  },
});

/** Net amount per currency, summed over every balance transaction the API lists. */
async function sumOfTransactions(): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  for await (const t of stripe.balanceTransactions.list({ limit: 100 })) sums[t.currency] = (sums[t.currency] ?? 0) + t.net;
  return sums;
}

async function balanceByCurrency(): Promise<Record<string, number>> {
  const b = await stripe.balance.retrieve();
  for (const p of b.pending) assert.equal(p.amount, 0, 'every balance transaction is available at once');
  return Object.fromEntries(b.available.map((a) => [a.currency, a.amount]));
}

const waitForStaleLock = () => new Promise((r) => setTimeout(r, LOCK_TIMEOUT_MS + 200));

describe('GET /v1/balance', () => {
  test('a new account: zero usd', async () => {
    const fresh = await s.newAccount();
    const b = await s.stripe({ key: fresh.key }).balance.retrieve();
    assert.deepEqual(b.available, [{ amount: 0, currency: 'usd', source_types: { card: 0 } }]);
    assert.deepEqual(b.pending, [{ amount: 0, currency: 'usd', source_types: { card: 0 } }]);
  });

  test('equals the sum of balance transactions after a mixed, concurrent run with replays and recovered crashes', async () => {
    const expected: Record<string, number> = { usd: 0, eur: 0 };
    const add = (currency: string, amount: number) => { expected[currency] += amount; };

    // Concurrent automatic charges in two currencies, each replayed once (the replay adds nothing).
    const charges = await Promise.all(Array.from({ length: 16 }, async (_, i) => {
      const currency = i % 4 === 0 ? 'eur' : 'usd';
      const params = { amount: 1000 + i, currency, payment_method: 'pm_card_visa', confirm: true } as const;
      const k = uniqueKey(`bal-charge-${i}`);
      const pi = await stripe.paymentIntents.create(params, { idempotencyKey: k });
      const again = await stripe.paymentIntents.create(params, { idempotencyKey: k });
      assert.equal(again.lastResponse.headers['idempotent-replayed'], 'true');
      add(currency, params.amount);
      return pi;
    }));

    // Declines write no balance transaction.
    await Promise.all(Array.from({ length: 4 }, (_, i) => stripe.paymentIntents.create(
      { amount: 500 + i, currency: 'usd', payment_method: 'pm_card_visa_chargeDeclined', confirm: true },
      { idempotencyKey: uniqueKey('bal-decline') }).then(() => assert.fail('a decline'), (e) => assert.equal(e.statusCode, 402))));

    // Manual captures, full and partial, concurrently; one authorization is canceled (no money moves).
    const manual = await Promise.all(Array.from({ length: 6 }, (_, i) => stripe.paymentIntents.create(
      { amount: 3000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, capture_method: 'manual' },
      { idempotencyKey: uniqueKey(`bal-manual-${i}`) })));
    await Promise.all(manual.map(async (pi, i) => {
      if (i === 5) return stripe.paymentIntents.cancel(pi.id);
      const amount = i % 2 === 0 ? 3000 : 1200 + i;
      add('usd', amount);
      return stripe.paymentIntents.capture(pi.id, { amount_to_capture: amount }, { idempotencyKey: uniqueKey('bal-capture') });
    }));

    // Partial refunds, several per charge, concurrently.
    await Promise.all(charges.slice(0, 8).flatMap((pi) => [100, 250].map(async (amount) => {
      await stripe.refunds.create({ payment_intent: pi.id, amount }, { idempotencyKey: uniqueKey('bal-refund') });
      add(pi.currency, -amount);
    })));

    // Crashes right after the phases that write balance transactions: the retry resumes (or
    // replays) and the money moves once.
    for (const [command, step, run] of [
      ['payment_intents.create', 'record', (c: Stripe, k: string) => c.paymentIntents.create(
        { amount: 777, currency: 'usd', payment_method: 'pm_card_visa', confirm: true }, { idempotencyKey: k })],
      ['refunds.create', 'refund', (c: Stripe, k: string) => c.refunds.create({ payment_intent: charges[1].id, amount: 55 }, { idempotencyKey: k })],
    ] as const) {
      const k = uniqueKey(`bal-crash-${step}`);
      faults.arm(command, step);
      const lost = await run(once, k).catch((e) => e);
      assert.equal(lost.type, 'StripeConnectionError', `${command} after ${step}: expected the connection to drop`);
      await waitForStaleLock();
      await run(stripe, k);
      await run(stripe, k);
    }
    add('usd', 777);
    add('usd', -55);

    const sums = await sumOfTransactions();
    assert.deepEqual(sums, expected, 'the balance transactions themselves');
    assert.deepEqual(await balanceByCurrency(), expected);
  });

  test('the running balance follows deletions of balance transactions too', async () => {
    const acct = await s.newAccount();
    const c = s.stripe({ key: acct.key });
    await c.paymentIntents.create({ amount: 4200, currency: 'gbp', payment_method: 'pm_card_visa', confirm: true });
    const second = await c.paymentIntents.create({ amount: 800, currency: 'gbp', payment_method: 'pm_card_visa', confirm: true });
    assert.deepEqual((await c.balance.retrieve()).available, [{ amount: 5000, currency: 'gbp', source_types: { card: 5000 } }]);
    await s.oncepay.db.query('DELETE FROM balance_transactions WHERE account_id = $1 AND source = $2', [acct.accountId, second.latest_charge]);
    assert.deepEqual((await c.balance.retrieve()).available, [{ amount: 4200, currency: 'gbp', source_types: { card: 4200 } }]);
    await s.oncepay.db.query('DELETE FROM balance_transactions WHERE account_id = $1', [acct.accountId]);
    assert.deepEqual((await c.balance.retrieve()).available, [{ amount: 0, currency: 'usd', source_types: { card: 0 } }],
      'no balance transaction left: the empty balance');
  });
});

describe('migration 11 (running balances)', () => {
  test('backfills the balance transactions written before it', async () => {
    const db = await openPglite('memory://');
    try {
      const index = MIGRATIONS.findIndex((m) => m.name === 'running_balances');
      assert.ok(index > 0);
      for (const m of MIGRATIONS.slice(0, index)) await db.exec(m.sql);
      const row = (account: string, id: string, currency: string, net: number) => db.query(
        `INSERT INTO balance_transactions (account_id, id, created, data, source, type) VALUES ($1, $2, 0, $3, $2, 'charge')`,
        [account, id, JSON.stringify({ id, currency, net, status: 'available' })]);
      await row('acct_a', 'txn_1', 'usd', 1000);
      await row('acct_a', 'txn_2', 'usd', -300);
      await row('acct_a', 'txn_3', 'eur', 50);
      await row('acct_b', 'txn_4', 'usd', 9);
      await db.exec(MIGRATIONS[index].sql);
      const { rows } = await db.query(
        `SELECT account_id, currency, sum(available)::int8 AS available, sum(transactions)::int8 AS n
           FROM balances GROUP BY 1, 2 ORDER BY 1, 2`);
      assert.deepEqual(rows, [
        { account_id: 'acct_a', currency: 'eur', available: 50, n: 1 },
        { account_id: 'acct_a', currency: 'usd', available: 700, n: 2 },
        { account_id: 'acct_b', currency: 'usd', available: 9, n: 1 },
      ]);
      // And later rows go through the triggers.
      await row('acct_b', 'txn_5', 'usd', 1);
      const after = await db.query(`SELECT sum(available)::int8 AS available FROM balances WHERE account_id = 'acct_b'`);
      assert.equal(after.rows[0].available, 10);
    } finally {
      await db.close();
    }
  });
});
