/**
 * Crash recovery with real processes: a server armed with ONCEPAY_TEST_FAULTS=kill:<command>:<step>
 * SIGKILLs itself right after that step (a committed phase, or a processor call that returned).
 * A new process on the same database must then finish the request exactly once: through the
 * client's retry with the same Idempotency-Key, or through the completer with no client at all.
 * The acquirer's durable ledger is the ground truth: never two sales, never two refunds.
 *
 * Runs on PostgreSQL when DATABASE_URL is set, otherwise on a PGlite data directory per scenario
 * (which therefore also proves that PGlite's directory survives SIGKILL of its process).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import {
  cleanupServersAndStores, mapLimit, newSecretKey, newStore, pollUntil, spawnServer, STORE, usingPostgres,
  type LedgerEntry, type ServerProcess, type Store,
  explain, withTimeout,
} from '../helpers/processes.ts';
import { SHARED_DATABASE_ONLY } from '../helpers/store.ts';

const ROW_TIMEOUT = 120_000;
/** Matrix rows run a few at a time: each spawns two servers on a 2-core machine. */
const PARALLEL = Number(process.env.CRASH_PARALLEL ?? 3);

after(cleanupServersAndStores);

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The request sent to a faulted server must never be answered: the process dies (SIGKILL, from
 * the fault) and the connection with it. Returns the client's error.
 */
async function expectKilled(srv: ServerProcess, pending: Promise<unknown>, fault: string): Promise<any> {
  const settled = await withTimeout(
    pending.then((value) => ({ ok: true as const, value }), (error) => ({ ok: false as const, error })),
    30_000, `request to the server armed with ${fault}`);
  if (settled.ok) {
    assert.fail(`fault ${fault} did not fire: the request was answered ${JSON.stringify(settled.value).slice(0, 300)}\n${srv.output()}`);
  }
  const exit = await withTimeout(srv.exited, 10_000, `exit of the server armed with ${fault}`);
  assert.equal(exit.signal, 'SIGKILL', `server armed with ${fault} should die by SIGKILL, got ${JSON.stringify(exit)}\n${srv.output()}`);
  return settled.error;
}

/**
 * A kill right after the processor call returned: the acquirer had durably recorded the operation,
 * so the resume repeated the same downstream key (attempts >= 2) instead of moving money again.
 */
async function assertProcessorRepeated(srv: ServerProcess, sc: Scenario, step: string, reference: string): Promise<void> {
  const [processorStep, kind] = sc.processorStep;
  if (step !== processorStep) return;
  const entries = (await srv.ledger(reference)).filter((e) => e.kind === kind);
  assert.equal(entries.length, 1);
  assert.ok(entries[0].attempts >= 2, `the ${kind} recorded before the kill should have been asked again with the same downstream key: ${JSON.stringify(entries[0])}`);
}

const summary = (entries: LedgerEntry[]) =>
  entries.map((e) => `${e.kind}:${e.amount}:${e.outcome}`).sort();

/**
 * The acquirer's ledger for `reference` is exactly `expected` (kind:amount:outcome), nothing more;
 * and so is the whole account's (every scenario has its own account with a single intent), so
 * money moved under any other reference would show too.
 */
async function assertLedger(srv: ServerProcess, reference: string, expected: string[]): Promise<LedgerEntry[]> {
  const entries = await srv.ledger(reference);
  assert.deepEqual(summary(entries), [...expected].sort(), `acquirer ledger for ${reference}: ${JSON.stringify(entries)}`);
  const all = await srv.ledger();
  assert.deepEqual(summary(all), [...expected].sort(), `acquirer ledger of the whole account: ${JSON.stringify(all)}`);
  return entries;
}

async function balanceTransactionsFor(srv: ServerProcess, source: string): Promise<Array<{ amount: number; type: string }>> {
  const r = await srv.raw('GET', `/v1/balance_transactions?source=${encodeURIComponent(source)}&limit=100`);
  assert.equal(r.status, 200, r.text);
  return r.json.data;
}

/** The intent is the only one on its account, fully charged once: one sale, one charge, one balance entry. */
async function assertChargedOnce(srv: ServerProcess, pi: Stripe.PaymentIntent, amount: number): Promise<void> {
  const stripe = srv.stripe();
  assert.equal(pi.status, 'succeeded');
  assert.equal(pi.amount_received, amount);
  assert.equal(pi.amount_capturable, 0);
  const intents = await stripe.paymentIntents.list({ limit: 100 });
  assert.deepEqual(intents.data.map((p) => p.id), [pi.id], 'exactly one payment intent on the account');
  await assertLedger(srv, pi.id, [`sale:${amount}:approved`]);
  const charges = await stripe.charges.list({ payment_intent: pi.id, limit: 100 });
  assert.equal(charges.data.length, 1, 'exactly one charge');
  const charge = charges.data[0];
  assert.equal(charge.id, pi.latest_charge);
  assert.equal(charge.captured, true);
  assert.equal(charge.amount_captured, amount);
  const bt = await balanceTransactionsFor(srv, charge.id);
  assert.deepEqual(bt.map((b) => [b.type, b.amount]), [['charge', amount]], 'exactly one balance transaction for the charge');
}

// ---------------------------------------------------------------------------------------------
// Scenarios: one per command, with its fault steps

/** What a scenario's request acts on (made by its prepare step). */
interface ScenarioContext { pi?: Stripe.PaymentIntent; si?: Stripe.SetupIntent; pm?: Stripe.PaymentMethod; customer?: Stripe.Customer }

interface Scenario {
  command: string;
  label: string;
  steps: string[];
  expect: string;
  /** Objects the request needs, made on the faulted server (its fault only fires for `command`). */
  prepare(stripe: Stripe): Promise<ScenarioContext>;
  send(stripe: Stripe, ctx: ScenarioContext, key: string): Promise<{ id: string; lastResponse: any }>;
  /** Finds the request's target object without its response (for convergence without a client). */
  locate(srv: ServerProcess, ctx: ScenarioContext): Promise<{ id: string; status: string | null } | undefined>;
  finalStatus: string;
  /** The processor step and the ledger kind it writes. */
  processorStep: [step: string, kind: LedgerEntry['kind']];
  verify(srv: ServerProcess, ctx: ScenarioContext, obj: any): Promise<void>;
}

const AMOUNT = 2000;
const CAPTURE = 1500;
const REFUND = 700;

const requiresCapture = async (stripe: Stripe) => {
  const pi = await stripe.paymentIntents.create({ amount: AMOUNT, currency: 'usd', payment_method: 'pm_card_visa', capture_method: 'manual', confirm: true });
  assert.equal(pi.status, 'requires_capture');
  return { pi };
};

const retrieveIntent = async (srv: ServerProcess, ctx: ScenarioContext) => srv.stripe().paymentIntents.retrieve(ctx.pi!.id);

const SCENARIOS: Scenario[] = [
  {
    command: 'payment_intents.create', label: 'payment_intents.create(confirm)', steps: ['create', 'authorize', 'record'],
    expect: 'succeeded, 1 sale',
    prepare: async () => ({}),
    send: (stripe, _ctx, key) => stripe.paymentIntents.create(
      { amount: AMOUNT, currency: 'usd', payment_method: 'pm_card_visa', confirm: true }, { idempotencyKey: key }),
    async locate(srv) {
      const list = await srv.stripe().paymentIntents.list({ limit: 100 });
      assert.ok(list.data.length <= 1, `at most one intent, got ${list.data.map((p) => `${p.id}:${p.status}`)}`);
      return list.data[0];
    },
    finalStatus: 'succeeded',
    processorStep: ['authorize', 'sale'],
    verify: (srv, _ctx, pi) => assertChargedOnce(srv, pi, AMOUNT),
  },
  {
    command: 'payment_intents.confirm', label: 'payment_intents.confirm', steps: ['begin', 'authorize', 'record'],
    expect: 'succeeded, 1 sale',
    async prepare(stripe) {
      const pi = await stripe.paymentIntents.create({ amount: AMOUNT, currency: 'usd' });
      assert.equal(pi.status, 'requires_payment_method');
      return { pi };
    },
    send: (stripe, ctx, key) => stripe.paymentIntents.confirm(ctx.pi!.id, { payment_method: 'pm_card_visa' }, { idempotencyKey: key }),
    locate: retrieveIntent,
    finalStatus: 'succeeded',
    processorStep: ['authorize', 'sale'],
    verify: (srv, _ctx, pi) => assertChargedOnce(srv, pi, AMOUNT),
  },
  {
    command: 'payment_intents.capture', label: 'payment_intents.capture', steps: ['begin', 'capture', 'record'],
    expect: `succeeded, 1 authorization + 1 capture of ${CAPTURE}`,
    prepare: requiresCapture,
    send: (stripe, ctx, key) => stripe.paymentIntents.capture(ctx.pi!.id, { amount_to_capture: CAPTURE }, { idempotencyKey: key }),
    locate: retrieveIntent,
    finalStatus: 'succeeded',
    processorStep: ['capture', 'capture'],
    async verify(srv, ctx, pi: Stripe.PaymentIntent) {
      assert.equal(pi.status, 'succeeded');
      assert.equal(pi.amount_received, CAPTURE);
      assert.equal(pi.amount_capturable, 0);
      await assertLedger(srv, pi.id, [`authorization:${AMOUNT}:approved`, `capture:${CAPTURE}:captured`]);
      const charge = await srv.stripe().charges.retrieve(ctx.pi!.latest_charge as string);
      assert.equal(charge.captured, true);
      assert.equal(charge.amount_captured, CAPTURE);
      const bt = await balanceTransactionsFor(srv, charge.id);
      assert.deepEqual(bt.map((b) => [b.type, b.amount]), [['charge', CAPTURE]], 'exactly one balance transaction for the capture');
    },
  },
  {
    command: 'payment_intents.cancel', label: 'payment_intents.cancel(requires_capture)', steps: ['begin', 'void', 'record'],
    expect: 'canceled, 1 authorization + 1 void',
    prepare: requiresCapture,
    send: (stripe, ctx, key) => stripe.paymentIntents.cancel(ctx.pi!.id, { cancellation_reason: 'requested_by_customer' }, { idempotencyKey: key }),
    locate: retrieveIntent,
    finalStatus: 'canceled',
    processorStep: ['void', 'void'],
    async verify(srv, ctx, pi: Stripe.PaymentIntent) {
      assert.equal(pi.status, 'canceled');
      assert.equal(pi.cancellation_reason, 'requested_by_customer');
      assert.equal(pi.amount_capturable, 0);
      assert.equal(pi.amount_received, 0);
      await assertLedger(srv, pi.id, [`authorization:${AMOUNT}:approved`, `void:${AMOUNT}:voided`]);
      const charge = await srv.stripe().charges.retrieve(ctx.pi!.latest_charge as string);
      assert.equal(charge.captured, false);
      assert.deepEqual(await balanceTransactionsFor(srv, charge.id), [], 'no money moved for a voided authorization');
    },
  },
  {
    command: 'refunds.create', label: 'refunds.create', steps: ['begin', 'refund', 'record'],
    expect: `refund succeeded, 1 sale + 1 refund of ${REFUND}`,
    async prepare(stripe) {
      const pi = await stripe.paymentIntents.create({ amount: AMOUNT, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
      assert.equal(pi.status, 'succeeded');
      return { pi };
    },
    send: (stripe, ctx, key) => stripe.refunds.create({ payment_intent: ctx.pi!.id, amount: REFUND }, { idempotencyKey: key }),
    async locate(srv, ctx) {
      const list = await srv.stripe().refunds.list({ payment_intent: ctx.pi!.id, limit: 100 });
      assert.ok(list.data.length <= 1, `at most one refund, got ${list.data.map((r) => `${r.id}:${r.status}`)}`);
      return list.data[0];
    },
    finalStatus: 'succeeded',
    processorStep: ['refund', 'refund'],
    async verify(srv, ctx, refund: Stripe.Refund) {
      const stripe = srv.stripe();
      assert.equal(refund.status, 'succeeded');
      assert.equal(refund.amount, REFUND);
      const refunds = await stripe.refunds.list({ payment_intent: ctx.pi!.id, limit: 100 });
      assert.deepEqual(refunds.data.map((r) => [r.id, r.status, r.amount]), [[refund.id, 'succeeded', REFUND]], 'exactly one refund');
      await assertLedger(srv, ctx.pi!.id, [`sale:${AMOUNT}:approved`, `refund:${REFUND}:refunded`]);
      const charge = await stripe.charges.retrieve(ctx.pi!.latest_charge as string);
      assert.equal(charge.amount_refunded, REFUND);
      assert.equal(charge.refunded, false);
      const bt = await balanceTransactionsFor(srv, refund.id);
      assert.deepEqual(bt.map((b) => [b.type, b.amount]), [['refund', -REFUND]], 'exactly one balance transaction for the refund');
    },
  },
  {
    command: 'setup_intents.confirm', label: 'setup_intents.confirm', steps: ['begin', 'verify', 'record'],
    expect: 'succeeded, 1 verification, the card attached once',
    async prepare(stripe) {
      const cus = await stripe.customers.create({ email: 'crash-setup@example.com' });
      const si = await stripe.setupIntents.create({ customer: cus.id, payment_method: 'pm_card_visa' });
      assert.equal(si.status, 'requires_confirmation');
      return { si };
    },
    send: (stripe, ctx, key) => stripe.setupIntents.confirm(ctx.si!.id, {}, { idempotencyKey: key }),
    locate: (srv, ctx) => srv.stripe().setupIntents.retrieve(ctx.si!.id),
    finalStatus: 'succeeded',
    processorStep: ['verify', 'verification'],
    async verify(srv, ctx, si: Stripe.SetupIntent) {
      const stripe = srv.stripe();
      assert.equal(si.status, 'succeeded');
      assert.match(si.payment_method as string, /^pm_[A-Za-z0-9]{24}$/);
      const listed = await stripe.customers.listPaymentMethods(ctx.si!.customer as string);
      assert.deepEqual(listed.data.map((p) => p.id), [si.payment_method], 'exactly one saved card, attached to the customer');
      const attached = (await stripe.events.list({ type: 'payment_method.attached', limit: 100 })).data;
      assert.equal(attached.length, 1, 'payment_method.attached once');
      const succeeded = (await stripe.events.list({ type: 'setup_intent.succeeded', limit: 100 })).data;
      assert.equal(succeeded.length, 1, 'setup_intent.succeeded once');
      await assertLedger(srv, si.id, ['verification:0:approved']);
    },
  },
  {
    command: 'payment_methods.attach', label: 'payment_methods.attach', steps: ['plan', 'verify', 'record'],
    expect: 'attached, 1 verification, payment_method.attached once',
    async prepare(stripe) {
      const customer = await stripe.customers.create({ email: 'crash-attach@example.com' });
      const pm = await stripe.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 12, exp_year: new Date().getUTCFullYear() + 2, cvc: '123' } });
      return { customer, pm };
    },
    send: (stripe, ctx, key) => stripe.paymentMethods.attach(ctx.pm!.id, { customer: ctx.customer!.id }, { idempotencyKey: key }),
    async locate(srv, ctx) {
      const pm = await srv.stripe().paymentMethods.retrieve(ctx.pm!.id);
      return { id: pm.id, status: pm.customer ? 'attached' : null };
    },
    finalStatus: 'attached',
    processorStep: ['verify', 'verification'],
    async verify(srv, ctx) {
      const stripe = srv.stripe();
      assert.deepEqual((await stripe.customers.listPaymentMethods(ctx.customer!.id)).data.map((p) => p.id), [ctx.pm!.id]);
      assert.equal((await stripe.events.list({ type: 'payment_method.attached', limit: 100 })).data.length, 1, 'payment_method.attached once');
      await assertLedger(srv, ctx.pm!.id, ['verification:0:approved']);
    },
  },
  {
    command: 'charges.create', label: 'charges.create(tok_visa)', steps: ['begin', 'authorize', 'record'],
    expect: 'succeeded, 1 sale, 1 balance transaction',
    prepare: async () => ({}),
    send: (stripe, _ctx, key) => stripe.charges.create({ amount: AMOUNT, currency: 'usd', source: 'tok_visa' }, { idempotencyKey: key }),
    async locate(srv) {
      const list = await srv.stripe().charges.list({ limit: 100 });
      assert.ok(list.data.length <= 1, `at most one charge, got ${list.data.map((c) => `${c.id}:${c.status}`)}`);
      return list.data[0];
    },
    finalStatus: 'succeeded',
    processorStep: ['authorize', 'sale'],
    async verify(srv, _ctx, charge: Stripe.Charge) {
      assert.equal(charge.captured, true);
      assert.equal(charge.payment_intent, null);
      await assertLedger(srv, charge.id, [`sale:${AMOUNT}:approved`]);
      const bt = await balanceTransactionsFor(srv, charge.id);
      assert.deepEqual(bt.map((b) => [b.type, b.amount]), [['charge', AMOUNT]], 'exactly one balance transaction for the charge');
      const succeeded = (await srv.stripe().events.list({ type: 'charge.succeeded', limit: 100 })).data;
      assert.equal(succeeded.length, 1, 'charge.succeeded once');
    },
  },
  {
    // A legacy charge has no intent: the scenario's context carries the held charge in its `pi` slot (only its id is read).
    command: 'charges.capture', label: 'charges.capture(capture=false)', steps: ['begin', 'capture', 'record'],
    expect: `captured, 1 authorization + 1 capture of ${CAPTURE}`,
    async prepare(stripe) {
      const held = await stripe.charges.create({ amount: AMOUNT, currency: 'usd', source: 'tok_visa', capture: false });
      assert.equal(held.captured, false);
      return { pi: held as unknown as Stripe.PaymentIntent };
    },
    send: (stripe, ctx, key) => stripe.charges.capture(ctx.pi!.id, { amount: CAPTURE }, { idempotencyKey: key }),
    async locate(srv, ctx) {
      const charge = await srv.stripe().charges.retrieve(ctx.pi!.id);
      return { ...charge, status: charge.captured ? 'captured' : 'uncaptured' };
    },
    finalStatus: 'captured',
    processorStep: ['capture', 'capture'],
    async verify(srv, _ctx, charge: Stripe.Charge) {
      assert.equal(charge.amount_captured, CAPTURE);
      assert.equal(charge.amount_refunded, AMOUNT - CAPTURE);
      await assertLedger(srv, charge.id, [`authorization:${AMOUNT}:approved`, `capture:${CAPTURE}:captured`]);
      const bt = await balanceTransactionsFor(srv, charge.id);
      assert.deepEqual(bt.map((b) => [b.type, b.amount]), [['charge', CAPTURE]], 'exactly one balance transaction for the capture');
      const captured = (await srv.stripe().events.list({ type: 'charge.captured', limit: 100 })).data;
      assert.equal(captured.length, 1, 'charge.captured once');
    },
  },
];

/** Arms a server with the fault, prepares, sends the request with `key` and watches the process die. */
async function crashAt(sc: Scenario, step: string, store: Store, key: string) {
  const fault = `kill:${sc.command}:${step}`;
  const secret = newSecretKey(); // this scenario's own account; the restarted process reuses it
  const faulted = await spawnServer({ store, key: secret, faults: fault });
  try {
    const ctx = await sc.prepare(faulted.stripe());
    const err = await expectKilled(faulted, sc.send(faulted.stripe(), ctx, key), fault);
    assert.equal(err?.type, 'StripeConnectionError', `the client should see the connection die, got ${err}`);
    return { ctx, secret };
  } catch (err) {
    explain(err, [faulted]);
  } finally {
    await faulted.kill();
  }
}

// ---------------------------------------------------------------------------------------------
// 1) The matrix: every command x every step, recovered by the client's retry with the same key

describe(`crash matrix [${STORE}]: SIGKILL after each step, then retry with the same Idempotency-Key`, { concurrency: PARALLEL }, () => {
  for (const sc of SCENARIOS) {
    for (const step of sc.steps) {
      const last = step === sc.steps[sc.steps.length - 1];
      test(`${sc.label} killed after ${step} -> retry ${last ? 'replays' : 'resumes'}: ${sc.expect}`, { timeout: ROW_TIMEOUT }, async () => {
        const store = await newStore();
        const key = `crash_${sc.command}_${step}_${Date.now()}`;
        let restarted: ServerProcess | undefined;
        try {
          const { ctx, secret } = await crashAt(sc, step, store, key);
          restarted = await spawnServer({ store, key: secret }); // no fault, completer out of the way
          // maxNetworkRetries absorbs 409 idempotency_key_in_use until the dead process's lock is stale.
          const retry = await sc.send(restarted.stripe({ maxNetworkRetries: 5 }), ctx, key);
          if (last) {
            assert.equal(retry.lastResponse.headers['idempotent-replayed'], 'true', 'the response was stored before the kill: a replay');
          }
          const obj = await sc.locate(restarted, ctx);
          assert.ok(obj, 'the object exists after the retry');
          assert.equal(obj.id, retry.id);
          assert.equal(obj.status, sc.finalStatus);
          await sc.verify(restarted, ctx, obj);
          // And the key keeps answering the same thing.
          const again = await sc.send(restarted.stripe(), ctx, key);
          assert.equal(again.id, retry.id);
          assert.equal(again.lastResponse.headers['idempotent-replayed'], 'true');
          await sc.verify(restarted, ctx, await sc.locate(restarted, ctx));
          await assertProcessorRepeated(restarted, sc, step, ctx.pi?.id ?? retry.id);
        } catch (err) {
          explain(err, [restarted]);
        } finally {
          await restarted?.kill();
          store.dispose();
        }
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// 2) Convergence without any client: the completer of the restarted process finishes the work

/** Every command x step again; `CRASH_CONVERGENCE=short` keeps the six most telling rows. */
const CONVERGENCE: Array<[command: string, step: string]> = process.env.CRASH_CONVERGENCE === 'short'
  ? [
    ['payment_intents.create', 'create'],
    ['payment_intents.create', 'authorize'],
    ['payment_intents.confirm', 'authorize'],
    ['payment_intents.capture', 'capture'],
    ['payment_intents.cancel', 'void'],
    ['refunds.create', 'refund'],
  ]
  : SCENARIOS.flatMap((sc) => sc.steps.map((step): [string, string] => [sc.command, step]));

describe(`convergence without a client [${STORE}]: SIGKILL, restart with the completer, no retry`, { concurrency: PARALLEL }, () => {
  for (const [command, step] of CONVERGENCE) {
    const sc = SCENARIOS.find((s) => s.command === command)!;
    const last = step === sc.steps[sc.steps.length - 1];
    const how = last ? 'already final, the stored response replays' : 'the completer finishes it';
    test(`${sc.label} killed after ${step} -> ${how}: ${sc.expect}`, { timeout: ROW_TIMEOUT }, async () => {
      const store = await newStore();
      const key = `converge_${command}_${step}_${Date.now()}`;
      let restarted: ServerProcess | undefined;
      try {
        const { ctx, secret } = await crashAt(sc, step, store, key);
        restarted = await spawnServer({ store, key: secret, completerInterval: '200ms', lockTimeout: '1s' });
        const obj = await pollUntil(() => sc.locate(restarted!, ctx), (o) => o?.status === sc.finalStatus, { timeoutMs: 15_000 });
        assert.ok(obj, 'the object exists');
        assert.equal(obj.status, sc.finalStatus, `no client retried: the completer should have finished it within 15 s\n${restarted.output()}`);
        await sc.verify(restarted, ctx, obj);
        await assertProcessorRepeated(restarted, sc, step, ctx.pi?.id ?? obj.id);
        // The completer stored the response under the key: a late retry replays it.
        const late = await sc.send(restarted.stripe({ maxNetworkRetries: 5 }), ctx, key);
        assert.equal(late.id, obj.id);
        assert.equal(late.lastResponse.headers['idempotent-replayed'], 'true');
      } catch (err) {
        explain(err, [restarted]);
      } finally {
        await restarted?.kill();
        store.dispose();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 3) Without an Idempotency-Key: the engine's internal key is recovered by the completer

const CREATE_CONFIRM_BODY = `amount=${AMOUNT}&currency=usd&payment_method=pm_card_visa&confirm=true`;

describe(`requests without an Idempotency-Key [${STORE}]`, () => {
  test('raw POST create(confirm) without Idempotency-Key killed after authorize -> completer finishes it: succeeded, 1 sale', { timeout: ROW_TIMEOUT }, async () => {
    const store = await newStore();
    const secret = newSecretKey();
    let restarted: ServerProcess | undefined;
    try {
      const fault = 'kill:payment_intents.create:authorize';
      const faulted = await spawnServer({ store, key: secret, faults: fault });
      const err = await expectKilled(faulted, faulted.raw('POST', '/v1/payment_intents', { body: CREATE_CONFIRM_BODY }), fault);
      assert.ok(err instanceof TypeError, `fetch should fail on the dead connection, got ${err}`);
      restarted = await spawnServer({ store, key: secret, completerInterval: '200ms', lockTimeout: '1s' });
      const stripe = restarted.stripe();
      const pi = await pollUntil(async () => (await stripe.paymentIntents.list({ limit: 100 })).data,
        (list) => list.length === 1 && list[0].status === 'succeeded', { timeoutMs: 15_000 });
      assert.equal(pi.length, 1, `exactly one intent, got ${pi.map((p) => `${p.id}:${p.status}`)}`);
      assert.equal(pi[0].status, 'succeeded', `the completer should have finished the key-less request within 15 s\n${restarted.output()}`);
      await assertChargedOnce(restarted, pi[0], AMOUNT);
      await assertProcessorRepeated(restarted, SCENARIOS[0], 'authorize', pi[0].id);
    } catch (err) {
      explain(err, [restarted]);
    } finally {
      await restarted?.kill();
      store.dispose();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 4) Many identical requests with one key at once: one execution, the rest replay or wait

async function burst(servers: ServerProcess[], n: number, key: string) {
  const send = (i: number) => servers[i % servers.length].raw('POST', '/v1/payment_intents', {
    body: CREATE_CONFIRM_BODY, headers: { 'Idempotency-Key': key },
  });
  const first = await Promise.all(Array.from({ length: n }, (_, i) => send(i)));
  let id: string | undefined;
  let executed = 0;
  const pending: number[] = [];
  first.forEach((r, i) => {
    if (r.status === 200) {
      id ??= r.json.id;
      assert.equal(r.json.id, id, `request ${i}: every 200 carries the same payment intent`);
      assert.equal(r.json.status, 'succeeded');
      if (r.headers.get('idempotent-replayed') !== 'true') executed++;
    } else {
      assert.equal(r.status, 409, `request ${i}: expected 200 or 409, got ${r.status} ${r.text}`);
      assert.equal(r.json?.error?.code, 'idempotency_key_in_use', `request ${i}: ${r.text}`);
      pending.push(i);
    }
  });
  // Retry the refused ones until they replay.
  for (const i of pending) {
    const r = await pollUntil(() => send(i), (x) => x.status !== 409, { timeoutMs: 15_000, intervalMs: 200 });
    assert.equal(r.status, 200, `request ${i} on retry: ${r.status} ${r.text}`);
    id ??= r.json.id;
    assert.equal(r.json.id, id, `request ${i} on retry: same payment intent`);
    if (r.headers.get('idempotent-replayed') !== 'true') executed++;
  }
  assert.equal(executed, 1, 'exactly one request executed the command; all others replayed or were refused');
  return { id: id!, conflicts: pending.length };
}

async function assertOneSale(srv: ServerProcess, id: string) {
  const intents = await srv.stripe().paymentIntents.list({ limit: 100 });
  assert.deepEqual(intents.data.map((p) => p.id), [id], 'exactly one payment intent on the account');
  await assertLedger(srv, id, [`sale:${AMOUNT}:approved`]);
}

describe(`concurrent identical requests [${STORE}]`, () => {
  test('50 identical create(confirm) with one Idempotency-Key against one server -> 1 intent, 1 sale', { timeout: ROW_TIMEOUT }, async (t) => {
    const store = await newStore();
    let srv: ServerProcess | undefined;
    try {
      srv = await spawnServer({ store });
      const { id, conflicts } = await burst([srv], 50, `burst_one_${Date.now()}`);
      t.diagnostic(`${conflicts} of 50 first answers were 409 idempotency_key_in_use`);
      await assertOneSale(srv, id);
    } catch (err) {
      explain(err, [srv]);
    } finally {
      await srv?.kill();
      store.dispose();
    }
  });

  test('50 identical create(confirm) with one Idempotency-Key split across two processes on one PostgreSQL -> 1 intent, 1 sale',
    { timeout: ROW_TIMEOUT, skip: SHARED_DATABASE_ONLY },
    async (t) => {
      const store = await newStore();
      const secret = newSecretKey();
      const servers: ServerProcess[] = [];
      try {
        servers.push(...await Promise.all([spawnServer({ store, key: secret }), spawnServer({ store, key: secret })]));
        const { id, conflicts } = await burst(servers, 50, `burst_two_${Date.now()}`);
        t.diagnostic(`${conflicts} of 50 first answers were 409 idempotency_key_in_use`);
        await assertOneSale(servers[0], id);
        await assertOneSale(servers[1], id);
      } catch (err) {
        explain(err, servers);
      } finally {
        await Promise.all(servers.map((s) => s.kill()));
        store.dispose();
      }
    });
});

// ---------------------------------------------------------------------------------------------
// 5) PGlite's directory itself across SIGKILL (the premise of everything above on PGlite)

describe('PGlite data directory across SIGKILL', () => {
  test('acknowledged writes survive repeated SIGKILL mid-traffic; the directory reopens every time', {
    timeout: ROW_TIMEOUT, skip: usingPostgres() ? 'DATABASE_URL is set: this is about embedded PGlite' : false,
  }, async () => {
    const store = await newStore();
    const secret = newSecretKey();
    const acknowledged = new Set<string>();
    try {
      for (let round = 0; round < 3; round++) {
        const srv = await spawnServer({ store, key: secret });
        const stripe = srv.stripe();
        // Every intent acknowledged before must be there after the unclean shutdown.
        const seen = new Set<string>();
        for await (const pi of stripe.paymentIntents.list({ limit: 100 })) seen.add(pi.id);
        for (const id of acknowledged) assert.ok(seen.has(id), `round ${round}: acknowledged intent ${id} lost after SIGKILL`);
        // Acknowledged writes, then SIGKILL while more writes are in flight.
        for (let i = 0; i < 5; i++) {
          acknowledged.add((await stripe.paymentIntents.create({ amount: 100 + i, currency: 'usd', payment_method: 'pm_card_visa', confirm: true })).id);
        }
        const inFlight = mapLimit(Array.from({ length: 20 }, (_, i) => i), 4, (i) =>
          stripe.paymentIntents.create({ amount: 1000 + i, currency: 'usd' }).then((p) => { acknowledged.add(p.id); }, () => {}));
        await sleep(150);
        const exit = await srv.kill();
        assert.equal(exit.signal, 'SIGKILL');
        await inFlight;
      }
      const srv = await spawnServer({ store, key: secret });
      try {
        const seen = new Set<string>();
        for await (const pi of srv.stripe().paymentIntents.list({ limit: 100 })) seen.add(pi.id);
        for (const id of acknowledged) assert.ok(seen.has(id), `acknowledged intent ${id} lost after SIGKILL`);
      } catch (err) {
        explain(err, [srv]);
      } finally {
        await srv.kill();
      }
    } finally {
      store.dispose();
    }
  });
});
