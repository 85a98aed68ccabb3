/**
 * Orders are paid exactly once, under concurrency and across crashes. The acquirer's ledger is the
 * ground truth: the money it captured for an order's payment intents never exceeds the order's
 * total, and always equals the order's amount_paid.
 *
 *  1. In process: 20 concurrent payments (confirmations of existing intents and create+confirm
 *     in one call), each of which would fit the order alone, together several times its total.
 *  2. PostgreSQL only: the same race split across two real server processes on one database.
 *  3. kill -9 after the acquirer approved a payment: the dead request keeps its reservation (no
 *     other payment can take its place), and the retry, or the completer without any client,
 *     converges to the order paid exactly once.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { startTestServer } from '../helpers/server.ts';
import { sales } from '../helpers/ledger.ts';
import {
  cleanupServersAndStores, explain, newSecretKey, newStore, pollUntil, spawnServer, STORE, usingPostgres, withTimeout,
  type LedgerEntry, type ServerProcess,
} from '../helpers/processes.ts';
import type { Order } from '../../src/billing/billing_objects.ts';
import { SHARED_DATABASE_ONLY } from '../helpers/store.ts';

const TIMEOUT = 120_000;

after(cleanupServersAndStores);

/** The total, the amount of each payment: 6 payments fit exactly, 20 are attempted. */
const TOTAL = 9000;
const EACH = 1500;
const ATTEMPTS = 20;
const FIT = Math.floor(TOTAL / EACH);

const createOrder = (stripe: Stripe): Promise<Order> =>
  stripe.rawRequest('POST', '/v1/orders', { currency: 'usd', line_items: [{ amount: TOTAL / 3, quantity: 3, description: 'race' }] });
const getOrder = (stripe: Stripe, id: string): Promise<Order> => stripe.rawRequest('GET', `/v1/orders/${id}`);
const intentFor = (stripe: Stripe, order: string, amount: number, confirm: boolean, opts: Stripe.RequestOptions = {}) =>
  stripe.paymentIntents.create({ amount, currency: 'usd', order, payment_method: 'pm_card_visa', confirm } as Stripe.PaymentIntentCreateParams, opts);

async function orderEvents(stripe: Stripe): Promise<string[]> {
  const types: string[] = [];
  for await (const e of stripe.events.list({ type: 'order.*', limit: 100 } as Stripe.EventListParams)) types.push(e.type);
  return types.reverse();
}

type Outcome = { ok: true; pi: Stripe.PaymentIntent } | { ok: false; status: number; code: string; message: string };

const settle = (p: Promise<Stripe.PaymentIntent>): Promise<Outcome> =>
  p.then((pi) => ({ ok: true as const, pi }), (e) => ({ ok: false as const, status: e.statusCode, code: e.code, message: e.message }));

/**
 * The race: half the attempts confirm intents created beforehand, half create and confirm in one
 * call; `clients[i % n]` sends attempt i. Every attempt succeeds or is refused as an overpayment.
 */
async function race(clients: Stripe[], order: Order): Promise<Outcome[]> {
  const prepared: Stripe.PaymentIntent[] = [];
  for (let i = 0; i < ATTEMPTS / 2; i++) prepared.push(await intentFor(clients[0], order.id, EACH, false));
  for (const pi of prepared) assert.equal(pi.status, 'requires_confirmation', 'each payment fits the order alone');
  const attempts = Array.from({ length: ATTEMPTS }, (_, i) => {
    const stripe = clients[i % clients.length];
    return i % 2 === 0
      ? settle(stripe.paymentIntents.confirm(prepared[i / 2].id))
      : settle(intentFor(stripe, order.id, EACH, true));
  });
  const outcomes = await Promise.all(attempts);
  for (const o of outcomes) {
    if (o.ok) assert.equal(o.pi.status, 'succeeded');
    else {
      assert.deepEqual([o.status, o.code], [400, 'amount_too_large'], `a refused payment is an overpayment: ${o.message}`);
      // Refused at confirmation (in flight or paid), or at creation once the order is paid.
      assert.match(o.message, new RegExp(`(would overpay order|Order) ${order.id}`));
    }
  }
  return outcomes;
}

/** What the acquirer captured for the order's intents (sales approved, plus captures). */
function capturedFor(ledger: LedgerEntry[], intents: Set<string>): { total: number; byIntent: Map<string, number> } {
  const byIntent = new Map<string, number>();
  for (const e of sales(ledger, { captures: true })) {
    if (intents.has(e.reference)) byIntent.set(e.reference, (byIntent.get(e.reference) ?? 0) + e.amount);
  }
  return { total: [...byIntent.values()].reduce((a, b) => a + b, 0), byIntent };
}

async function intentsOf(stripe: Stripe, order: string): Promise<Stripe.PaymentIntent[]> {
  const all: Stripe.PaymentIntent[] = [];
  for await (const pi of stripe.paymentIntents.list({ limit: 100 })) {
    if ((pi as Stripe.PaymentIntent & { order: string | null }).order === order) all.push(pi);
  }
  return all;
}

/** The race's end state, checked against the ledger: paid exactly once, never more than the total. */
async function assertPaidOnce(stripe: Stripe, ledger: LedgerEntry[], order: Order, outcomes: Outcome[]): Promise<void> {
  const succeeded = outcomes.filter((o): o is Extract<Outcome, { ok: true }> => o.ok);
  const intents = await intentsOf(stripe, order.id);
  const ids = new Set(intents.map((p) => p.id));
  const captured = capturedFor(ledger, ids);
  const final = await getOrder(stripe, order.id);
  assert.ok(captured.total <= TOTAL, `the acquirer captured ${captured.total} for an order of ${TOTAL} (${succeeded.length} payments succeeded)`);
  assert.ok(final.amount_paid <= TOTAL, `amount_paid ${final.amount_paid} exceeds the total ${TOTAL}`);
  assert.equal(final.amount_paid, captured.total, 'amount_paid is what the acquirer captured for the order');
  assert.equal(succeeded.length, FIT, `exactly ${FIT} payments fit, and every one that fit was taken (no spurious refusal)`);
  assert.equal(captured.total, succeeded.length * EACH);
  assert.deepEqual([...captured.byIntent.keys()].sort(), succeeded.map((o) => o.pi.id).sort(), 'the acquirer captured exactly for the intents that succeeded');
  assert.deepEqual([final.status, final.amount_remaining], ['paid', 0]);
  // Every intent of the order ended succeeded or back where it started: nothing is left in flight.
  for (const pi of intents) assert.ok(['succeeded', 'requires_confirmation'].includes(pi.status), `${pi.id} is ${pi.status}`);
  const events = await orderEvents(stripe);
  assert.equal(events.filter((t) => t === 'order.paid').length, 1, 'order.paid once');
  assert.equal(events.filter((t) => t === 'order.updated').length, FIT, 'one order.updated per payment');
}

describe(`orders under concurrency [${STORE}]`, () => {
  test(`${ATTEMPTS} concurrent payments of ${EACH} against an order of ${TOTAL}: ${FIT} succeed, the rest are refused, the ledger agrees`, { timeout: TIMEOUT }, async () => {
    const s = await startTestServer();
    try {
      const { key, accountId } = await s.newAccount();
      const stripe = s.stripe({ key });
      const order = await createOrder(stripe);
      const outcomes = await race([stripe], order);
      await assertPaidOnce(stripe, await s.oncepay.processor.ledger(accountId), order, outcomes);
    } finally {
      await s.close();
    }
  });

  test(`two server processes on one PostgreSQL race ${ATTEMPTS} payments against one order: never more than its total`, {
    timeout: TIMEOUT, skip: SHARED_DATABASE_ONLY,
  }, async () => {
    const store = await newStore();
    const secret = newSecretKey();
    const servers: ServerProcess[] = [];
    try {
      servers.push(...await Promise.all([spawnServer({ store, key: secret }), spawnServer({ store, key: secret })]));
      const clients = servers.map((srv) => srv.stripe());
      const order = await createOrder(clients[0]);
      const outcomes = await race(clients, order);
      await assertPaidOnce(clients[1], await servers[1].ledger(), order, outcomes);
      // Both processes see the same order.
      assert.deepEqual(await getOrder(clients[0], order.id), await getOrder(clients[1], order.id));
    } catch (err) {
      explain(err, servers);
    } finally {
      await Promise.all(servers.map((srv) => srv.kill()));
      store.dispose();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// kill -9 after the acquirer approved a payment toward an order

const FAULT = 'kill:payment_intents.confirm:authorize';

/**
 * A server armed with FAULT confirms a payment of the order's whole total and dies right after
 * the acquirer approved it: the sale happened, the intent is left processing, the order unpaid.
 */
async function crashMidPayment(key: string) {
  const store = await newStore();
  const secret = newSecretKey();
  const faulted = await spawnServer({ store, key: secret, faults: FAULT });
  try {
    const stripe = faulted.stripe();
    const order = await stripe.rawRequest('POST', '/v1/orders', { currency: 'usd', line_items: [{ amount: 2500 }] }) as Order;
    const pi = await intentFor(stripe, order.id, 2500, false);
    const answer = await withTimeout(
      stripe.paymentIntents.confirm(pi.id, {}, { idempotencyKey: key }).then((v) => ({ answered: v }), (e) => ({ error: e })),
      30_000, `confirmation sent to the server armed with ${FAULT}`);
    assert.ok('error' in answer, `the fault did not fire: ${JSON.stringify(answer).slice(0, 300)}`);
    assert.equal(answer.error.type, 'StripeConnectionError');
    const exit = await withTimeout(faulted.exited, 10_000, 'exit of the faulted server');
    assert.equal(exit.signal, 'SIGKILL');
    return { store, secret, order, pi };
  } catch (err) {
    store.dispose();
    explain(err, [faulted]);
  } finally {
    await faulted.kill();
  }
}

/** Paid exactly once: one approved sale, asked again under the same downstream key; amount_paid equals it. */
async function assertConverged(srv: ServerProcess, order: Order, pi: Stripe.PaymentIntent, others: string[]): Promise<void> {
  const stripe = srv.stripe();
  const final = await getOrder(stripe, order.id);
  assert.deepEqual([final.status, final.amount_paid, final.amount_remaining], ['paid', 2500, 0]);
  const sold = sales(await srv.ledger(), { captures: true, outcome: 'any' });
  assert.deepEqual(sold.map((e) => [e.reference, e.amount, e.outcome]), [[pi.id, 2500, 'approved']], 'one sale, for the crashed payment only');
  assert.ok(sold[0].attempts >= 2, 'the resume asked the acquirer again with the same downstream key');
  for (const id of others) assert.deepEqual(await srv.ledger(id), [], `${id} never reached the acquirer`);
  const events = await orderEvents(stripe);
  assert.deepEqual(events.filter((t) => t !== 'order.created').sort(), ['order.paid', 'order.updated']);
}

describe(`orders across a kill -9 [${STORE}]`, () => {
  test('killed after the acquirer approved: the reservation holds, the retry with the same key pays the order once', { timeout: TIMEOUT }, async () => {
    const key = `order_crash_${Date.now()}`;
    const { store, secret, order, pi } = await crashMidPayment(key);
    let restarted: ServerProcess | undefined;
    try {
      restarted = await spawnServer({ store, key: secret });
      const stripe = restarted.stripe();
      // The dead request's payment is still in flight: the order is unpaid, but nothing can take its place.
      const meanwhile = await getOrder(stripe, order.id);
      assert.deepEqual([meanwhile.status, meanwhile.amount_paid], ['open', 0]);
      assert.equal((await stripe.paymentIntents.retrieve(pi.id)).status, 'processing');
      const rival = await intentFor(stripe, order.id, 2500, false);
      const refused = await stripe.paymentIntents.confirm(rival.id).catch((e) => e);
      assert.deepEqual([refused.statusCode, refused.code], [400, 'amount_too_large']);
      assert.match(refused.message, new RegExp(`in flight \\(${pi.id}\\)`));
      const cancel = await stripe.rawRequest('POST', `/v1/orders/${order.id}/cancel`, {}).catch((e: any) => e);
      assert.deepEqual([cancel.statusCode, cancel.code], [400, 'order_status_invalid']);

      // maxNetworkRetries absorbs 409 idempotency_key_in_use until the dead process's lock is stale.
      const retried = await stripe.paymentIntents.confirm(pi.id, {}, { idempotencyKey: key, maxNetworkRetries: 5 } as Stripe.RequestOptions);
      assert.equal(retried.status, 'succeeded');
      await assertConverged(restarted, order, pi, [rival.id]);
      const again = await restarted.stripe().paymentIntents.confirm(pi.id, {}, { idempotencyKey: key });
      assert.equal(again.lastResponse.headers['idempotent-replayed'], 'true');
      await assertConverged(restarted, order, pi, [rival.id]);
      // The rival still cannot pay: the order is paid.
      assert.equal((await stripe.paymentIntents.confirm(rival.id).catch((e) => e)).code, 'amount_too_large');
    } catch (err) {
      explain(err, [restarted]);
    } finally {
      await restarted?.kill();
      store.dispose();
    }
  });

  test('killed after the acquirer approved, and nobody retries: the completer pays the order once', { timeout: TIMEOUT }, async () => {
    const key = `order_converge_${Date.now()}`;
    const { store, secret, order, pi } = await crashMidPayment(key);
    let restarted: ServerProcess | undefined;
    try {
      restarted = await spawnServer({ store, key: secret, completerInterval: '200ms', lockTimeout: '1s' });
      const stripe = restarted.stripe();
      const final = await pollUntil(() => getOrder(stripe, order.id), (o) => o.status === 'paid', { timeoutMs: 15_000 });
      assert.equal(final.status, 'paid', `the completer should have finished the payment within 15 s\n${restarted.output()}`);
      assert.equal((await stripe.paymentIntents.retrieve(pi.id)).status, 'succeeded');
      await assertConverged(restarted, order, pi, []);
      const late = await stripe.paymentIntents.confirm(pi.id, {}, { idempotencyKey: key, maxNetworkRetries: 5 } as Stripe.RequestOptions);
      assert.equal(late.lastResponse.headers['idempotent-replayed'], 'true');
    } catch (err) {
      explain(err, [restarted]);
    } finally {
      await restarted?.kill();
      store.dispose();
    }
  });
});
