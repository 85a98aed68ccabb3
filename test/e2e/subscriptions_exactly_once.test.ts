/**
 * Subscriptions and the billing run under crashes and concurrency: one invoice per period, one
 * charge per invoice, whatever dies or races. The acquirer's ledger is the ground truth.
 *
 * 1. Real processes killed with SIGKILL (ONCEPAY_TEST_FAULTS=kill:<command>:<step>), then a new
 *    process on the same data:
 *    (a) at billing.renew:renewed during a test clock advance over 6 monthly periods (the server
 *        dies right after committing the first renewal): the client's retry with the same
 *        Idempotency-Key, or, with nobody retrying, the completer, finishes the advance;
 *    (b) at invoices.pay:authorize, the automatic collection during an advance (the acquirer had
 *        charged): the resumed collection asks the acquirer again with the same downstream key;
 *    (c) at test_clocks.advance:begin;
 *    (d) at each step of subscriptions.create (create, pay, authorize, record).
 * 2. In process, on every store: several billing runs at once over due renewals, auto-advancing
 *    drafts and open invoices; billing runs of a clock while its advance runs (what a takeover of
 *    a slow advance would do), with the completer sweeping meanwhile; a crashed create whose first
 *    invoice the billing run collects before the retry.
 * 3. PostgreSQL only: two server processes on one schema, both running the wall-clock billing
 *    every 100 ms over the same due renewals, drafts and invoices; advances of one clock sent to
 *    both processes at once; a long advance on one process while the other's completer sweeps.
 *
 * Servers here sweep every account of their database (completer, billing loop): on PostgreSQL each
 * scenario gets a schema of its own (dropped at the end), on PGlite a data directory of its own.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import StripeClient from 'stripe';
import type Stripe from 'stripe';
import {
  cleanupServersAndStores, createPrivateSchema, dropPrivateSchemas, explain, mapLimit, newSecretKey, newStore, pollUntil, spawnServer,
  STORE, usingPostgres, withTimeout, type LedgerEntry, type ServerProcess, type Store,
} from '../helpers/processes.ts';
import { useTestServer, type TestServer } from '../helpers/server.ts';
import { sales } from '../helpers/ledger.ts';
import { at, expectedEnd, expectedPeriods, iso } from '../helpers/periods.ts';
import { FaultSwitch } from '../../src/faults.ts';
import { openDatabase, type Db } from '../../src/store/db.ts';
import { invoices as invoiceTable, subscriptions as subscriptionTable } from '../../src/billing/billing_objects.ts';
import { SHARED_DATABASE_ONLY } from '../helpers/store.ts';

const ROW_TIMEOUT = 240_000;
const PARALLEL = Number(process.env.CRASH_PARALLEL ?? 3);
const DAY = 86_400;
const PG_ONLY = SHARED_DATABASE_ONLY;

const schemas: string[] = [];
after(async () => {
  await cleanupServersAndStores();
  await dropPrivateSchemas(schemas.splice(0));
});

// ---------------------------------------------------------------------------------------------
// Stores, time, expected periods

/** A store of the scenario's own: a private PostgreSQL schema, or a PGlite directory. */
async function scenarioStore(tag: string): Promise<Store> {
  if (!usingPostgres()) return newStore();
  const { schema, url } = await createPrivateSchema(`subx_${tag}`);
  schemas.push(schema);
  return { databaseUrl: url, dispose() {} };
}

const JAN31 = at('2026-01-31T12:00:00Z');

interface Inv {
  id: string; status: string; billing_reason: string; customer: string; number: string | null;
  total: number; amount_paid: number; attempt_count: number; period_start: number; period_end: number;
  /** Not on the invoice since 2025-03-31: the intent of its payment (invoice_payments), added by subInvoices. */
  payment_intent: string | null;
}
interface Sub {
  id: string; status: string; customer: string; latest_invoice: string | null; created: number;
  items: { data: Array<{ current_period_start: number; current_period_end: number }> };
}

// ---------------------------------------------------------------------------------------------
// The API, for a server process or an in-process server alike

interface Api {
  get(path: string): Promise<any>;
  ledger(reference?: string): Promise<LedgerEntry[]>;
}

const procApi = (srv: ServerProcess): Api => ({
  async get(path) {
    const r = await srv.raw('GET', path);
    assert.equal(r.status, 200, `GET ${path}: ${r.text}`);
    return r.json;
  },
  ledger: (reference) => srv.ledger(reference),
});

const localApi = (s: TestServer, stripe: Stripe, accountId = s.accountId): Api => ({
  async get(path) {
    return stripe.rawRequest('GET', path, {});
  },
  ledger: (reference) => s.oncepay.processor.ledger(accountId, reference) as Promise<LedgerEntry[]>,
});

/** Every page of a list endpoint. */
async function listAll<T>(api: Api, path: string): Promise<T[]> {
  const out: T[] = [];
  let after: string | undefined;
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api.get(`${path}${sep}limit=100${after ? `&starting_after=${after}` : ''}`);
    out.push(...page.data);
    if (!page.has_more) return out;
    after = page.data.at(-1).id;
  }
}

/** Sets each invoice's payment_intent: the intent of its payment (from /v1/invoice_payments). */
async function withIntents(api: Api, invoices: Inv[]): Promise<Inv[]> {
  for (const inv of invoices) {
    const payments = await listAll<{ payment: { payment_intent: string } }>(api, `/v1/invoice_payments?invoice=${inv.id}`);
    inv.payment_intent = payments[0]?.payment.payment_intent ?? null;
  }
  return invoices;
}

/** A subscription's invoices, oldest first, each with its payment intent. */
const subInvoices = async (api: Api, sub: string) => withIntents(api, (await listAll<Inv>(api, `/v1/invoices?subscription=${sub}`)).reverse());

/**
 * Every invoice is paid exactly once: one approved sale under its payment intent, and the
 * account's ledger holds one approved sale per paid invoice and no other money movement.
 */
async function assertEachInvoicePaidOnce(api: Api, invoices: Inv[]): Promise<LedgerEntry[]> {
  const all = await api.ledger();
  const sold = sales(all);
  await withIntents(api, invoices);
  for (const inv of invoices) {
    assert.equal(inv.status, 'paid', `${inv.id} (${inv.billing_reason}, ${iso(inv.period_start)}) should be paid: ${JSON.stringify(inv).slice(0, 300)}`);
    assert.equal(inv.amount_paid, inv.total);
    const mine = sold.filter((e) => e.reference === inv.payment_intent);
    assert.deepEqual(mine.map((e) => e.amount), [inv.total], `${inv.id}: exactly one sale of ${inv.total}`);
  }
  const paid = new Set(invoices.map((i) => i.payment_intent));
  const stray = sold.filter((e) => !paid.has(e.reference));
  assert.deepEqual(stray, [], 'no sale outside the invoices\' own payment intents (a second charge of an invoice would be one)');
  assert.equal(sold.length, invoices.length, 'one sale per invoice');
  assert.deepEqual(all.filter((e) => e.kind !== 'sale'), [], 'no other acquirer operation');
  return all;
}

/** A monthly subscription anchored at `anchor`: exactly one invoice per period 0..periods-1, each paid once. */
async function assertMonthlyBilledOnce(api: Api, subId: string, anchor: number, periods: number): Promise<Inv[]> {
  const invoices = await subInvoices(api, subId);
  assert.deepEqual(invoices.map((i) => `${iso(i.period_start)} -> ${iso(i.period_end)}`), expectedPeriods(anchor, 'month', 1, periods),
    `one invoice per period for ${subId}: ${invoices.map((i) => `${i.id}:${iso(i.period_start)}:${i.status}`).join(', ')}`);
  assert.equal(new Set(invoices.map((i) => i.period_start)).size, invoices.length, 'unique period_start');
  assert.deepEqual(invoices.map((i) => i.billing_reason), ['subscription_create', ...Array(periods - 1).fill('subscription_cycle')]);
  const sub = await api.get(`/v1/subscriptions/${subId}`) as Sub;
  assert.equal(sub.status, 'active');
  assert.equal(sub.items.data[0].current_period_end, expectedEnd(anchor, 'month', 1, periods));
  return invoices;
}

/** Invoice numbers of the account: 1..n, no gap, no duplicate. */
async function assertGaplessNumbers(api: Api): Promise<void> {
  const all = await listAll<Inv>(api, '/v1/invoices');
  const numbers = all.filter((i) => i.number).map((i) => Number(i.number!.split('-')[1])).sort((a, b) => a - b);
  assert.deepEqual(numbers, Array.from({ length: numbers.length }, (_, i) => i + 1), 'invoice numbers 1..n, no gap, no duplicate');
}

// ---------------------------------------------------------------------------------------------
// Processes

/** The request sent to the faulted server is never answered: the process dies by SIGKILL. */
async function expectKilled(srv: ServerProcess, pending: Promise<unknown>, fault: string): Promise<void> {
  const settled = await withTimeout(
    pending.then((value) => ({ ok: true as const, value }), (error) => ({ ok: false as const, error })),
    120_000, `request to the server armed with ${fault}`);
  if (settled.ok) assert.fail(`fault ${fault} did not fire: the request was answered ${JSON.stringify(settled.value).slice(0, 300)}\n${srv.output()}`);
  const exit = await withTimeout(srv.exited, 20_000, `exit of the server armed with ${fault}`);
  assert.equal(exit.signal, 'SIGKILL', `server armed with ${fault} should die by SIGKILL, got ${JSON.stringify(exit)}`);
}

/** Server processes keep out of the way unless a test asks: no wall-clock billing, no completer. */
const QUIET = { ONCEPAY_BILLING_INTERVAL: '1h' };

interface ClockSetup { clock: string; customer: string; price: string; sub: Sub }

/** On `srv`: a test clock at JAN31, a customer on it with a card, a monthly price, an active subscription. */
async function clockSubscription(srv: ServerProcess, amount = 1000): Promise<ClockSetup> {
  const stripe = srv.stripe();
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: JAN31 });
  const customer = await stripe.customers.create({ test_clock: clock.id, invoice_settings: { default_payment_method: 'pm_card_visa' } });
  const price = await stripe.prices.create({ currency: 'usd', unit_amount: amount, recurring: { interval: 'month' }, product_data: { name: 'Plan' } });
  const sub = (await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] })) as unknown as Sub;
  assert.equal(sub.status, 'active');
  return { clock: clock.id, customer: customer.id, price: price.id, sub };
}

const advanceBody = (frozen: number) => `frozen_time=${frozen}`;

/** POSTs an advance until it is answered with something other than 409 (a dead or busy holder of its key). */
async function advanceUntilAnswered(srv: ServerProcess, clock: string, frozen: number, key: string) {
  return pollUntil(
    () => srv.raw('POST', `/v1/test_helpers/test_clocks/${clock}/advance`, { body: advanceBody(frozen), headers: { 'Idempotency-Key': key } }),
    (r) => r.status !== 409, { timeoutMs: 120_000, intervalMs: 300 });
}

// ---------------------------------------------------------------------------------------------
// 1) SIGKILL at each billing step

describe(`subscriptions and test clocks under SIGKILL [${STORE}]`, { concurrency: PARALLEL }, () => {
  const SIX = at('2026-07-31T12:00:00Z'); // six renewals after Jan 31: Feb 28, Mar 31, Apr 30, May 31, Jun 30, Jul 31

  for (const recovery of ['retry', 'completer'] as const) {
    test(`(a) killed at billing.renew:renewed (after the first of 6 renewals) -> ${recovery === 'retry' ? 'retry with the same key' : 'nobody retries: the completer'} finishes the advance: 1 + 6 invoices, one per period, each paid once`,
      { timeout: ROW_TIMEOUT }, async () => {
        const store = await scenarioStore('renew');
        const secret = newSecretKey();
        const key = `advance-renew-${recovery}-${Date.now()}`;
        let faulted: ServerProcess | undefined;
        let restarted: ServerProcess | undefined;
        try {
          faulted = await spawnServer({ store, key: secret, faults: 'kill:billing.renew:renewed', env: QUIET });
          const setup = await clockSubscription(faulted);
          await expectKilled(faulted, faulted.raw('POST', `/v1/test_helpers/test_clocks/${setup.clock}/advance`,
            { body: advanceBody(SIX), headers: { 'Idempotency-Key': key } }), 'kill:billing.renew:renewed');

          restarted = await spawnServer({
            store, key: secret, env: QUIET, ...(recovery === 'completer' ? { completerInterval: '200ms', lockTimeout: '1s' } : {}),
          });
          const api = procApi(restarted);
          if (recovery === 'retry') {
            // What the kill left: the first renewal committed (its invoice not collected yet), the clock still advancing.
            const left = await subInvoices(api, setup.sub.id);
            assert.deepEqual(left.map((i) => [i.billing_reason, i.status]), [['subscription_create', 'paid'], ['subscription_cycle', 'open']],
              'the server died right after committing the first renewal');
            assert.equal((await api.get(`/v1/test_helpers/test_clocks/${setup.clock}`)).status, 'advancing');
            const r = await advanceUntilAnswered(restarted, setup.clock, SIX, key);
            assert.equal(r.status, 200, r.text);
            assert.equal(r.json.status, 'ready');
            assert.equal(r.json.frozen_time, SIX);
          } else {
            const clock = await pollUntil(() => api.get(`/v1/test_helpers/test_clocks/${setup.clock}`), (c) => c.status === 'ready', { timeoutMs: 60_000, intervalMs: 250 });
            assert.equal(clock.status, 'ready', 'the completer finished the advance with no client');
            assert.equal(clock.frozen_time, SIX);
          }
          const invoices = await assertMonthlyBilledOnce(api, setup.sub.id, JAN31, 7);
          await assertEachInvoicePaidOnce(api, invoices);
          await assertGaplessNumbers(api);
          // The key keeps answering the finished advance.
          const late = await restarted.raw('POST', `/v1/test_helpers/test_clocks/${setup.clock}/advance`, { body: advanceBody(SIX), headers: { 'Idempotency-Key': key } });
          assert.equal(late.status, 200, late.text);
          assert.equal(late.headers.get('idempotent-replayed'), 'true');
          assert.equal((await subInvoices(api, setup.sub.id)).length, 7);
        } catch (err) {
          explain(err, [faulted, restarted]);
        } finally {
          await faulted?.kill();
          await restarted?.kill();
          store.dispose();
        }
      });
  }

  for (const recovery of ['retry', 'completer'] as const) {
    test(`(b) killed at invoices.pay:authorize (the automatic collection during an advance, right after the acquirer charged) -> ${recovery}: each invoice charged once, the repeated downstream key asked again`,
      { timeout: ROW_TIMEOUT }, async () => {
        const store = await scenarioStore('collect');
        const secret = newSecretKey();
        const key = `advance-collect-${recovery}-${Date.now()}`;
        const to = at('2026-04-30T12:00:00Z');
        let faulted: ServerProcess | undefined;
        let restarted: ServerProcess | undefined;
        try {
          faulted = await spawnServer({ store, key: secret, faults: 'kill:invoices.pay:authorize', env: QUIET });
          const setup = await clockSubscription(faulted, 1700);
          await expectKilled(faulted, faulted.raw('POST', `/v1/test_helpers/test_clocks/${setup.clock}/advance`,
            { body: advanceBody(to), headers: { 'Idempotency-Key': key } }), 'kill:invoices.pay:authorize');

          restarted = await spawnServer({
            store, key: secret, env: QUIET, ...(recovery === 'completer' ? { completerInterval: '200ms', lockTimeout: '1s' } : {}),
          });
          const api = procApi(restarted);
          let chargedBeforeKill: LedgerEntry[] | undefined;
          if (recovery === 'retry') {
            // What the kill left: every renewal committed; the collections (up to 8 at once) cut off, one of them right
            // after the acquirer charged, the others begun or not: their payment intents are processing.
            const left = await subInvoices(api, setup.sub.id);
            assert.equal(left.length, 4, 'every renewal committed before the collection began');
            assert.ok(left.every((i) => i.status !== 'paid' || i.billing_reason === 'subscription_create'), 'no renewal was recorded paid');
            const inFlight = left.filter((i) => i.payment_intent && i.status === 'open');
            assert.ok(inFlight.length >= 1, 'a collection was cut off');
            for (const inv of inFlight) assert.equal((await api.get(`/v1/payment_intents/${inv.payment_intent}`)).status, 'processing');
            chargedBeforeKill = (await restarted.ledger()).filter((e) => e.reference !== left[0].payment_intent);
            assert.ok(chargedBeforeKill.length >= 1, 'the acquirer charged before the kill');
            const inFlightIntents = new Set(inFlight.map((i) => i.payment_intent));
            for (const e of chargedBeforeKill) assert.ok(inFlightIntents.has(e.reference), `charged for a collection in flight: ${JSON.stringify(e)}`);
            const r = await advanceUntilAnswered(restarted, setup.clock, to, key);
            assert.equal(r.status, 200, r.text);
            assert.equal(r.json.status, 'ready');
          } else {
            const invs = await pollUntil(() => subInvoices(api, setup.sub.id), (l) => l.length === 4 && l.every((i) => i.status === 'paid'), { timeoutMs: 60_000, intervalMs: 250 });
            assert.ok(invs.every((i) => i.status === 'paid'), `the completer should finish the collection: ${invs.map((i) => i.status)}`);
            const clock = await pollUntil(() => api.get(`/v1/test_helpers/test_clocks/${setup.clock}`), (c) => c.status === 'ready', { timeoutMs: 60_000, intervalMs: 250 });
            assert.equal(clock.status, 'ready');
          }
          const invoices = await assertMonthlyBilledOnce(api, setup.sub.id, JAN31, 4);
          const ledger = await assertEachInvoicePaidOnce(api, invoices);
          // The charges the acquirer had made before the kill were asked again with their downstream keys instead of
          // charging again (attempts >= 2); the first invoice, paid before the advance, was not asked again.
          const repeated = ledger.filter((e) => e.attempts >= 2);
          assert.ok(repeated.length >= 1, `a downstream key was asked again: ${JSON.stringify(ledger)}`);
          const cycleIntents = new Set(invoices.slice(1).map((i) => i.payment_intent));
          for (const e of repeated) assert.ok(cycleIntents.has(e.reference), `only renewals' charges were asked again: ${JSON.stringify(e)}`);
          if (chargedBeforeKill) {
            const before = new Set(chargedBeforeKill.map((e) => e.downstream_key));
            for (const e of ledger) {
              if (before.has(e.downstream_key)) assert.ok(e.attempts >= 2, `asked again with the same downstream key: ${JSON.stringify(e)}`);
              else assert.equal(e.attempts, 1, `asked once: ${JSON.stringify(e)}`);
            }
          }
          await assertGaplessNumbers(api);
        } catch (err) {
          explain(err, [faulted, restarted]);
        } finally {
          await faulted?.kill();
          await restarted?.kill();
          store.dispose();
        }
      });
  }

  test('(c) killed at test_clocks.advance:begin (clock moved, nothing billed yet) -> the retry with the same key converges', { timeout: ROW_TIMEOUT }, async () => {
    const store = await scenarioStore('begin');
    const secret = newSecretKey();
    const key = `advance-begin-${Date.now()}`;
    const to = at('2026-05-31T12:00:00Z');
    let faulted: ServerProcess | undefined;
    let restarted: ServerProcess | undefined;
    try {
      faulted = await spawnServer({ store, key: secret, faults: 'kill:test_clocks.advance:begin', env: QUIET });
      const setup = await clockSubscription(faulted);
      await expectKilled(faulted, faulted.raw('POST', `/v1/test_helpers/test_clocks/${setup.clock}/advance`,
        { body: advanceBody(to), headers: { 'Idempotency-Key': key } }), 'kill:test_clocks.advance:begin');
      restarted = await spawnServer({ store, key: secret, env: QUIET });
      const api = procApi(restarted);
      const clock = await api.get(`/v1/test_helpers/test_clocks/${setup.clock}`);
      assert.deepEqual([clock.status, clock.frozen_time], ['advancing', to], 'the begin phase committed');
      assert.equal((await subInvoices(api, setup.sub.id)).length, 1, 'nothing billed yet');
      // Another advance meanwhile is refused: the clock is still advancing.
      const other = await restarted.raw('POST', `/v1/test_helpers/test_clocks/${setup.clock}/advance`, { body: advanceBody(to + DAY), headers: { 'Idempotency-Key': `${key}-other` } });
      assert.equal(other.status, 400, other.text);
      assert.equal(other.json.error.code, 'test_clock_unexpected_state');
      const r = await advanceUntilAnswered(restarted, setup.clock, to, key);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'ready');
      const invoices = await assertMonthlyBilledOnce(api, setup.sub.id, JAN31, 5);
      await assertEachInvoicePaidOnce(api, invoices);
    } catch (err) {
      explain(err, [faulted, restarted]);
    } finally {
      await faulted?.kill();
      await restarted?.kill();
      store.dispose();
    }
  });

  for (const step of ['create', 'pay', 'authorize', 'record']) {
    test(`(d) subscriptions.create killed after ${step} -> the retry with the same key ${step === 'record' ? 'replays' : 'resumes'}: one subscription, one first invoice, one sale`, { timeout: ROW_TIMEOUT }, async () => {
      const store = await scenarioStore(`create_${step}`);
      const secret = newSecretKey();
      const key = `sub-create-${step}-${Date.now()}`;
      const fault = `kill:subscriptions.create:${step}`;
      let faulted: ServerProcess | undefined;
      let restarted: ServerProcess | undefined;
      try {
        faulted = await spawnServer({ store, key: secret, faults: fault, env: QUIET });
        const stripe = faulted.stripe();
        // On a test clock, so that no wall-clock billing run anywhere touches its first invoice (see the in-process test of a create cut off after its first phase, below).
        const clock = await stripe.testHelpers.testClocks.create({ frozen_time: JAN31 });
        const customer = await stripe.customers.create({ test_clock: clock.id, invoice_settings: { default_payment_method: 'pm_card_visa' } });
        const price = await stripe.prices.create({ currency: 'usd', unit_amount: 2300, recurring: { interval: 'month' }, product_data: { name: 'Plan' } });
        const body = `customer=${customer.id}&items[0][price]=${price.id}&items[0][quantity]=2`;
        await expectKilled(faulted, faulted.raw('POST', '/v1/subscriptions', { body, headers: { 'Idempotency-Key': key } }), fault);

        restarted = await spawnServer({ store, key: secret, env: QUIET });
        const api = procApi(restarted);
        const r = await pollUntil(() => restarted!.raw('POST', '/v1/subscriptions', { body, headers: { 'Idempotency-Key': key } }),
          (x) => x.status !== 409, { timeoutMs: 60_000, intervalMs: 300 });
        assert.equal(r.status, 200, r.text);
        if (step === 'record') assert.equal(r.headers.get('idempotent-replayed'), 'true', 'the response was stored before the kill');
        const sub = r.json as Sub;
        assert.equal(sub.status, 'active');
        const subs = await listAll<Sub>(api, `/v1/subscriptions?customer=${customer.id}&status=all`);
        assert.deepEqual(subs.map((x) => x.id), [sub.id], 'exactly one subscription');
        const invoices = await listAll<Inv>(api, `/v1/invoices?customer=${customer.id}`);
        assert.deepEqual(invoices.map((i) => [i.id, i.billing_reason, i.status, i.total]), [[sub.latest_invoice, 'subscription_create', 'paid', 4600]], 'exactly one first invoice, paid');
        const intents = await listAll<{ id: string; status: string }>(api, `/v1/payment_intents?customer=${customer.id}`);
        assert.deepEqual(intents.map((p) => p.status), ['succeeded'], 'exactly one payment intent');
        const ledger = await assertEachInvoicePaidOnce(api, invoices);
        if (step === 'authorize') assert.ok(ledger[0].attempts >= 2, `the sale recorded before the kill was asked again with the same downstream key: ${JSON.stringify(ledger[0])}`);
        else assert.equal(ledger[0].attempts, 1);
        const again = await restarted.raw('POST', '/v1/subscriptions', { body, headers: { 'Idempotency-Key': key } });
        assert.equal(again.json.id, sub.id);
        assert.equal(again.headers.get('idempotent-replayed'), 'true');
        assert.equal((await api.get(`/v1/subscriptions/${sub.id}`)).status, 'active');
      } catch (err) {
        explain(err, [faulted, restarted]);
      } finally {
        await faulted?.kill();
        await restarted?.kill();
        store.dispose();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 2) In process, on every store

/** Moves wall-clock subscriptions back in time so that `periods` daily periods have ended (the test's time machine). */
async function backdate(db: Db, accountId: string, subIds: string[], periods: number): Promise<Map<string, number>> {
  const anchors = new Map<string, number>();
  await db.tx(async (q) => {
    for (const id of subIds) {
      const sub = await subscriptionTable.get(q, accountId, id, { forUpdate: true });
      const anchor = sub.created - periods * DAY - 60;
      sub.billing_cycle_anchor = anchor;
      for (const it of sub.items.data) {
        it.current_period_start = anchor;
        it.current_period_end = anchor + DAY;
      }
      subscriptionTable.update(q, accountId, sub);
      anchors.set(id, anchor);
    }
  });
  return anchors;
}

/** Makes auto-advancing drafts due for finalization now (they would be an hour after creation). */
async function makeDraftsDue(db: Db, accountId: string, invoiceIds: string[]): Promise<void> {
  await db.tx(async (q) => {
    for (const id of invoiceIds) {
      const inv = await invoiceTable.get(q, accountId, id, { forUpdate: true });
      inv.automatically_finalizes_at = Math.floor(Date.now() / 1000) - 1;
      invoiceTable.update(q, accountId, inv);
    }
  });
}

/** Wall-clock subscriptions (daily) and auto-advancing drafts, made through the API. */
async function dueWork(stripe: Stripe, n: number): Promise<{ subs: Sub[]; drafts: string[] }> {
  const price = await stripe.prices.create({ currency: 'usd', unit_amount: 300, recurring: { interval: 'day' }, product_data: { name: 'Daily' } });
  const subs: Sub[] = [];
  const drafts: string[] = [];
  await mapLimit(Array.from({ length: n }, (_, i) => i), 4, async (i) => {
    const customer = await stripe.customers.create({ email: `due${i}@example.com`, invoice_settings: { default_payment_method: 'pm_card_visa' } });
    subs.push((await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] })) as unknown as Sub);
    await stripe.invoiceItems.create({ customer: customer.id, amount: 450 + i, currency: 'usd', description: 'one-off' });
    const draft = await stripe.invoices.create({ customer: customer.id, auto_advance: true, pending_invoice_items_behavior: 'include' });
    assert.equal(draft.status, 'draft');
    drafts.push(draft.id);
  });
  return { subs, drafts };
}

/** After the runs: each backdated subscription billed once per period, each draft finalized and paid once, numbers gapless. */
async function assertDueWorkDoneOnce(api: Api, subs: Sub[], anchors: Map<string, number>, drafts: string[], periods: number): Promise<void> {
  const everything: Inv[] = [];
  for (const sub of subs) {
    const invoices = await subInvoices(api, sub.id);
    const anchor = anchors.get(sub.id)!;
    const cycles = invoices.filter((i) => i.billing_reason === 'subscription_cycle');
    assert.deepEqual(cycles.map((i) => [i.period_start - anchor, i.period_end - anchor]),
      Array.from({ length: periods }, (_, k) => [(k + 1) * DAY, (k + 2) * DAY]), `${sub.id}: one invoice per ended period`);
    assert.equal(invoices.length, periods + 1);
    assert.equal(new Set(invoices.map((i) => i.period_start)).size, invoices.length);
    everything.push(...invoices);
  }
  for (const id of drafts) {
    const inv = await api.get(`/v1/invoices/${id}`) as Inv;
    assert.equal(inv.status, 'paid', `draft ${id} finalized and collected`);
    everything.push(inv);
  }
  await assertEachInvoicePaidOnce(api, everything);
  await assertGaplessNumbers(api);
}

describe(`in process [${STORE}]`, () => {
  const faults = new FaultSwitch();
  const { server: s } = useTestServer({ faults, config: { lockTimeoutMs: 300 } });

  /** A fresh account on the shared in-process server. */
  async function account() {
    const a = await s.newAccount();
    const stripe = s.stripe({ key: a.key });
    return { ...a, stripe, api: localApi(s, stripe, a.accountId) };
  }

  test('three billing runs at once over 8 backdated subscriptions (4 periods due each) and 8 auto-advancing drafts: one invoice per period, one charge per invoice', { timeout: ROW_TIMEOUT }, async () => {
    const a = await account();
    const { subs, drafts } = await dueWork(a.stripe, 8);
    const anchors = await backdate(s.oncepay.db, a.accountId, subs.map((x) => x.id), 4);
    await makeDraftsDue(s.oncepay.db, a.accountId, drafts);
    const runs = await Promise.all([0, 1, 2].map(() => s.oncepay.billing.run({ accountId: a.accountId, clock: null })));
    assert.ok(runs.reduce((x, y) => x + y, 0) > 0);
    await s.oncepay.billing.run({ accountId: a.accountId, clock: null }); // anything a busy run skipped
    await assertDueWorkDoneOnce(a.api, subs, anchors, drafts, 4);
    // Running again changes nothing.
    await Promise.all([0, 1].map(() => s.oncepay.billing.run({ accountId: a.accountId, clock: null })));
    await assertDueWorkDoneOnce(a.api, subs, anchors, drafts, 4);
  });

  test('billing runs of one clock while its advance runs (as when a slow advance is taken over): still one invoice per period, one charge per invoice; the heartbeat keeps the advance\'s lock', { timeout: ROW_TIMEOUT }, async (t) => {
    const a = await account();
    const clock = await a.stripe.testHelpers.testClocks.create({ frozen_time: JAN31 });
    const price = await a.stripe.prices.create({ currency: 'usd', unit_amount: 600, recurring: { interval: 'month' }, product_data: { name: 'Plan' } });
    const subs: Sub[] = [];
    for (let i = 0; i < 6; i++) {
      const customer = await a.stripe.customers.create({ test_clock: clock.id, invoice_settings: { default_payment_method: 'pm_card_visa' } });
      subs.push((await a.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] })) as unknown as Sub);
    }
    const to = expectedEnd(JAN31, 'month', 1, 12);
    const key = `long-advance-${Date.now()}`;
    let done = false;
    const advanceOnce = () => a.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: to }, { idempotencyKey: key });
    const client = advanceOnce().then((c) => ({ ok: true as const, c }), (e) => ({ ok: false as const, e })).finally(() => { done = true; });
    // Once the clock has moved (the advance's first phase), run its billing twice more at the same time as the advance's own.
    await pollUntil(() => a.stripe.testHelpers.testClocks.retrieve(clock.id), (c) => c.status === 'advancing' || done, { timeoutMs: 60_000, intervalMs: 20 });
    const extra = Promise.all([0, 1].map(() => s.oncepay.billing.run({ accountId: a.accountId, clock: clock.id })));
    let takeovers = 0;
    while (!done) {
      await new Promise((r) => setTimeout(r, 100));
      takeovers += await s.oncepay.engine.completeAbandoned({ graceMs: 0, accountId: a.accountId });
    }
    const first = await client;
    // On a loaded machine the heartbeat (every third of the 300 ms lock timeout) can come late: the completer then
    // takes the advance over and its client gets 409 (LockLost); the retry replays the completer's answer.
    if (!first.ok) assert.equal((first.e as any).code, 'idempotency_key_in_use', String(first.e));
    const answered = first.ok ? first.c : await pollUntil(() => advanceOnce().catch((e) => e), (r: any) => r?.object === 'test_helpers.test_clock', { timeoutMs: 60_000, intervalMs: 300 });
    const extraWork = await extra;
    const { rows } = await s.oncepay.db.query<{ attempts: number }>('SELECT attempts FROM idempotency_keys WHERE account_id = $1 AND key = $2', [a.accountId, key]);
    t.diagnostic(`concurrent billing runs did ${extraWork.join(' + ')} thing(s); completer takeovers during the advance: ${takeovers}; key attempts: ${rows[0]?.attempts}; the client ${first.ok ? 'got its answer' : 'got 409 and replayed'}`);
    assert.equal(answered.status, 'ready');
    assert.equal(answered.frozen_time, to);
    const all: Inv[] = [];
    for (const sub of subs) all.push(...await assertMonthlyBilledOnce(a.api, sub.id, JAN31, 13));
    await assertEachInvoicePaidOnce(a.api, all);
    await assertGaplessNumbers(a.api);
  });

  test('subscriptions.create cut off after its first phase, a billing run passes (it leaves the first invoice to the create), then the retry with the same key: 200 with the subscription, one charge', { timeout: ROW_TIMEOUT }, async () => {
    const a = await account();
    const customer = await a.stripe.customers.create({ invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const price = await a.stripe.prices.create({ currency: 'usd', unit_amount: 1900, recurring: { interval: 'month' }, product_data: { name: 'Plan' } });
    const key = `create-then-billing-${Date.now()}`;
    const params = { customer: customer.id, items: [{ price: price.id }] };
    faults.arm('subscriptions.create', 'create');
    // A client that does not retry a dropped connection (stripe-node's node http client retries it once).
    const once = new StripeClient(a.key, { host: '127.0.0.1', port: s.port, protocol: 'http', maxNetworkRetries: 0, httpClient: StripeClient.createFetchHttpClient() });
    const lost = await once.subscriptions.create(params, { idempotencyKey: key }).catch((e) => e);
    assert.equal(lost?.type, 'StripeConnectionError', 'the crash drops the request');
    // The wall-clock billing run (every ONCEPAY_BILLING_INTERVAL, 5 s by default) passes before the client retries.
    await s.oncepay.billing.run({ accountId: a.accountId, clock: null });
    await new Promise((r) => setTimeout(r, 400)); // the dead request's lock goes stale
    const retry: any = await a.stripe.subscriptions.create(params, { idempotencyKey: key }).catch((e) => e);
    const invoices = await listAll<Inv>(a.api, `/v1/invoices?customer=${customer.id}`);
    assert.equal(invoices.length, 1);
    await assertEachInvoicePaidOnce(a.api, invoices); // money moved once either way
    assert.equal(retry?.object === 'subscription' ? 'ok' : `${retry?.statusCode} ${retry?.code}: ${retry?.message}`, 'ok',
      'the retry of a subscription create must answer the subscription');
    assert.equal((retry as Sub).status, 'active');
  });
});

// ---------------------------------------------------------------------------------------------
// 3) Two processes on one PostgreSQL schema

describe('two processes on one PostgreSQL schema', () => {
  test('both run the wall-clock billing every 100 ms over the same 20 backdated subscriptions (5 periods due each) and 20 auto-advancing drafts: one invoice per period, one charge per invoice',
    { timeout: ROW_TIMEOUT, skip: PG_ONLY }, async (t) => {
      const store = await scenarioStore('race');
      const secret = newSecretKey();
      const servers: ServerProcess[] = [];
      let db: Db | undefined;
      try {
        // Set up with a quiet server, so that nothing is due while the work is made.
        const setup = await spawnServer({ store, key: secret, env: QUIET });
        servers.push(setup);
        const { subs, drafts } = await dueWork(setup.stripe(), 20);
        await setup.kill();
        db = await openDatabase({ databaseUrl: store.databaseUrl, dataDir: '', poolSize: 2 });
        const { rows } = await db.query<{ account_id: string }>('SELECT account_id FROM subscriptions WHERE id = $1', [subs[0].id]);
        const accountId = rows[0].account_id;

        const racerEnv = { ONCEPAY_BILLING_INTERVAL: '100ms', ONCEPAY_LOG_LEVEL: 'info' };
        const racers = await Promise.all([spawnServer({ store, key: secret, env: racerEnv }), spawnServer({ store, key: secret, env: racerEnv })]);
        servers.push(...racers);
        // Both processes poll; the work becomes due for both at the same instant.
        const anchors = await backdate(db, accountId, subs.map((x) => x.id), 5);
        await makeDraftsDue(db, accountId, drafts);
        const api = procApi(racers[0]);
        const settled = await pollUntil(async () => {
          const open = await listAll<Inv>(api, '/v1/invoices?status=open');
          const draft = await listAll<Inv>(api, '/v1/invoices?status=draft');
          const now = Date.now() / 1000;
          const pending = (await listAll<Sub>(api, '/v1/subscriptions')).filter((x) => x.items.data[0].current_period_end <= now);
          return open.length + draft.length + pending.length;
        }, (n) => n === 0, { timeoutMs: 120_000, intervalMs: 500 });
        assert.equal(settled, 0, 'the billing runs finished the due work');
        const work = racers.map((r) => [...r.output().matchAll(/"worker":"billing","count":(\d+)/g)].map((m) => Number(m[1])));
        t.diagnostic(`billing passes that did work (things done per pass): process A [${work[0].join(', ')}], process B [${work[1].join(', ')}]`);
        await assertDueWorkDoneOnce(api, subs, anchors, drafts, 5);
        await assertDueWorkDoneOnce(procApi(racers[1]), subs, anchors, drafts, 5);
      } catch (err) {
        explain(err, servers);
      } finally {
        await Promise.all(servers.map((x) => x.kill()));
        await db?.close();
        store.dispose();
      }
    });

  test('advances of one clock sent to both processes at once with different keys: one runs per target, the others 400; one invoice per period, one charge per invoice',
    { timeout: ROW_TIMEOUT, skip: PG_ONLY }, async () => {
      const store = await scenarioStore('advrace');
      const secret = newSecretKey();
      const servers: ServerProcess[] = [];
      try {
        servers.push(...await Promise.all([spawnServer({ store, key: secret, env: QUIET }), spawnServer({ store, key: secret, env: QUIET })]));
        const stripe = servers[0].stripe();
        const clock = await stripe.testHelpers.testClocks.create({ frozen_time: JAN31 });
        const price = await stripe.prices.create({ currency: 'usd', unit_amount: 800, recurring: { interval: 'month' }, product_data: { name: 'Plan' } });
        const subs: Sub[] = [];
        for (let i = 0; i < 10; i++) {
          const customer = await stripe.customers.create({ test_clock: clock.id, invoice_settings: { default_payment_method: 'pm_card_visa' } });
          subs.push((await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] })) as unknown as Sub);
        }
        const api = procApi(servers[1]);
        let periods = 1;
        for (const [round, months] of [[1, 2], [2, 4]] as const) {
          const to = expectedEnd(JAN31, 'month', 1, months);
          const results = await Promise.all(Array.from({ length: 6 }, (_, i) => servers[i % 2].raw('POST', `/v1/test_helpers/test_clocks/${clock.id}/advance`,
            { body: advanceBody(to), headers: { 'Idempotency-Key': `race-${round}-${i}-${Date.now()}` } })));
          const ok = results.filter((r) => r.status === 200);
          assert.equal(ok.length, 1, `exactly one advance to ${iso(to)} runs: ${results.map((r) => `${r.status} ${r.json?.error?.code ?? r.json?.error?.param ?? ''}`).join(', ')}`);
          for (const r of results.filter((x) => x.status !== 200)) {
            assert.equal(r.status, 400, r.text);
            assert.ok(r.json.error.code === 'test_clock_unexpected_state' || r.json.error.param === 'frozen_time', r.text);
          }
          periods = months + 1;
          const all: Inv[] = [];
          for (const sub of subs) all.push(...await assertMonthlyBilledOnce(api, sub.id, JAN31, periods));
          await assertEachInvoicePaidOnce(api, all);
        }
        await assertGaplessNumbers(api);
      } catch (err) {
        explain(err, servers);
      } finally {
        await Promise.all(servers.map((x) => x.kill()));
        store.dispose();
      }
    });

  test('a long advance on one process while the other process\'s completer sweeps every 200 ms (lock timeout 1 s): the heartbeat keeps the lock, or a takeover is harmless; one invoice per period, one charge per invoice',
    { timeout: ROW_TIMEOUT, skip: PG_ONLY }, async (t) => {
      const store = await scenarioStore('takeover');
      const secret = newSecretKey();
      const servers: ServerProcess[] = [];
      try {
        const a = await spawnServer({ store, key: secret, env: QUIET, lockTimeout: '1s' });
        const b = await spawnServer({ store, key: secret, env: QUIET, lockTimeout: '1s', completerInterval: '200ms' });
        servers.push(a, b);
        const stripe = a.stripe();
        const clock = await stripe.testHelpers.testClocks.create({ frozen_time: JAN31 });
        const price = await stripe.prices.create({ currency: 'usd', unit_amount: 900, recurring: { interval: 'month' }, product_data: { name: 'Plan' } });
        const subs: Sub[] = [];
        await mapLimit(Array.from({ length: 16 }, (_, i) => i), 4, async () => {
          const customer = await stripe.customers.create({ test_clock: clock.id, invoice_settings: { default_payment_method: 'pm_card_visa' } });
          subs.push((await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] })) as unknown as Sub);
        });
        const to = expectedEnd(JAN31, 'month', 1, 12);
        const key = `takeover-${Date.now()}`;
        const started = Date.now();
        const r = await advanceUntilAnswered(a, clock.id, to, key);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.status, 'ready');
        const inspection = await a.raw('GET', `/v1/idempotency_keys/${encodeURIComponent(key)}`);
        t.diagnostic(`advance took ${Date.now() - started} ms; its key was taken ${inspection.json?.attempts ?? '?'} time(s)`);
        const api = procApi(b);
        const all: Inv[] = [];
        for (const sub of subs) all.push(...await assertMonthlyBilledOnce(api, sub.id, JAN31, 13));
        await assertEachInvoicePaidOnce(api, all);
        await assertGaplessNumbers(api);
        assert.equal((await api.get(`/v1/test_helpers/test_clocks/${clock.id}`)).status, 'ready');
      } catch (err) {
        explain(err, servers);
      } finally {
        await Promise.all(servers.map((x) => x.kill()));
        store.dispose();
      }
    });
});
